// health.js - is the daemon well: its consumer and Redis link (/healthz),
// commits, reconnections, snapshots and the engine clock (/metrics).
import { family, health } from '../api.js';
import { card, dec, h, num, panel, when } from '../dom.js';

// [label, key, metric, format]: what the health page shows from /metrics.
const FIGURES = [
  ['Redis up', 'redis_up', 'loyalty_redis_up', (v) => (v === 1 ? 'yes' : 'no')],
  ['Redis behind', 'redis_behind', 'loyalty_redis_behind', (v) => (v === 1 ? 'YES' : 'no')],
  ['Redis connections', 'redis_connects', 'loyalty_redis_connects_total', num],
  ['Redis timeouts', 'redis_timeouts', 'loyalty_redis_timeouts_total', num],
  ['Commit failures', 'commit_failures', 'loyalty_commit_failures_total', num],
  ['Entries replayed', 'entries_replayed', 'loyalty_entries_replayed_total', num],
  ['Snapshots written', 'snapshots', 'loyalty_snapshots_total', num],
  ['Snapshot failures', 'snapshot_failures', 'loyalty_snapshot_failures_total', num],
  ['Last snapshot (s)', 'snapshot_seconds', 'loyalty_snapshot_last_duration_seconds',
    (v) => dec(v, 3)],
  ['Longest fork stall (ms)', 'fork_stall_ms', 'loyalty_snapshot_fork_stall_max_seconds',
    (v) => dec(v * 1000, 2)],
  ['Input trims', 'input_trims', 'loyalty_input_trims_total', num],
  ['Ticks appended', 'ticks', 'loyalty_ticks_appended_total', num],
  ['Txns remembered', 'txns', 'loyalty_txns_remembered', num],
  ['Txns evicted early', 'txns_evicted', 'loyalty_txns_evicted_early_total', num],
];

export default {
  id: 'health',
  title: 'Health',
  mount(el, ctx) {
    const link = {
      status: card('Status', 'status'), consumer: card('Consumer', 'consumer'),
      members: card('Members', 'members'), last: card('Last entry applied', 'last_id'),
    };
    const figures = FIGURES.map(([label, key]) => card(label, key));
    const clock = h('td', { dataset: { k: 'engine_clock' } }, '-');
    const version = h('td', { dataset: { k: 'version' } }, '-');
    el.append(h('h2', {}, 'Health'),
      h('div', { class: 'cards' }, Object.values(link).map((c) => c.el)),
      h('div', { class: 'cards' }, figures.map((c) => c.el)),
      panel('Daemon', h('table', {},
        h('tr', {}, h('th', {}, 'Engine clock (largest event time applied)'), clock),
        h('tr', {}, h('th', {}, 'Version'), version))));
    return {
      async refresh() {
        const { code, body } = await health();
        const m = ctx.sampler.latest.m;
        link.status.value.textContent = body.status;
        link.status.value.className = `value ${code === 200 ? 'ok' : 'error'}`;
        link.consumer.value.textContent = body.consumer;
        link.members.value.textContent = num(body.members);
        link.last.value.textContent = body.last_id;
        link.last.value.classList.add('long');
        FIGURES.forEach(([, , metric, fmt], i) => {
          figures[i].value.textContent = m.has(metric) ? fmt(m.get(metric)) : '-';
        });
        const seconds = m.get('loyalty_engine_clock_timestamp_seconds');
        clock.textContent = when(Math.round(seconds * 1000));
        const info = family(m, 'loyalty_build_info')[0];
        version.textContent = info ? info.labels.version : '-';
      },
    };
  },
};
