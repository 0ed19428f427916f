// overview.js - the program at a glance: members by tier, segment,
// lifecycle stage and value class (GET /v1/segments), totals and the
// rates of entries, events and DLQ entries and the batch latency, charted
// from /metrics samples over time.
import { getJson, total } from '../api.js';
import { card, dec, h, num, panel } from '../dom.js';
import { lineChart } from '../chart.js';

const DIMENSIONS = [
  ['tier', 'By tier'], ['segment', 'By segment'], ['stage', 'By lifecycle stage'],
  ['value_class', 'By value class'],
];

// One row per name: count, share and a bar; rows keep the API's order.
function population(dim, counts, members) {
  const rows = Object.entries(counts).map(([name, n]) => h('tr', { dataset: { dim, key: name } },
    h('td', {}, name),
    h('td', { class: 'num', dataset: { count: '' } }, num(n)),
    h('td', { class: 'num' }, members ? `${dec((100 * n) / members)}%` : '-'),
    h('td', { class: 'barcell' }, bar(members ? n / members : 0))));
  return h('table', {}, h('tr', {}, h('th', {}, dim.replace('_', ' ')),
    h('th', { class: 'num' }, 'members'), h('th', { class: 'num' }, 'share'), h('th', {})),
  rows.length ? rows : h('tr', {}, h('td', { class: 'muted' }, 'not configured')));
}

function bar(share) {
  const b = h('div', { class: 'bar' });
  b.style.width = `${Math.round(share * 100)}%`; // CSSOM: allowed by the page's CSP
  return b;
}

export default {
  id: 'overview',
  title: 'Overview',
  mount(el, ctx) {
    const cards = {
      members: card('Members', 'members'),
      applied: card('Entries applied', 'entries_applied'),
      rejected: card('Rejected (DLQ)', 'entries_rejected'),
      duplicate: card('POS retries', 'entries_duplicate'),
      events: card('Events published', 'events_published'),
      batches: card('Batches committed', 'batches'),
      rate: card('Entries/s now', 'entries_per_second'),
    };
    const chartBoxes = [h('div'), h('div'), h('div')];
    const tables = Object.fromEntries(DIMENSIONS.map(([dim]) => [dim, h('div')]));
    el.append(
      h('h2', {}, 'Program overview'),
      h('div', { class: 'cards' }, Object.values(cards).map((c) => c.el)),
      h('div', { class: 'grid charts' },
        panel('Entries and events per second', chartBoxes[0]),
        panel('DLQ entries per second', chartBoxes[1]),
        panel('Batch latency (mean, ms)', chartBoxes[2])),
      h('div', { class: 'grid' }, DIMENSIONS.map(([dim, title]) => panel(title, tables[dim]))));
    const charts = [
      lineChart(chartBoxes[0], [{ label: 'entries/s', color: '#2b6cb0' },
        { label: 'events/s', color: '#38a169' }], 'per s'),
      lineChart(chartBoxes[1], [{ label: 'DLQ/s', color: '#c53030' }], 'per s'),
      lineChart(chartBoxes[2], [{ label: 'batch ms', color: '#805ad5' }], 'ms'),
    ];
    return {
      async refresh() {
        const seg = await getJson('/v1/segments');
        const m = ctx.sampler.latest.m;
        const s = ctx.sampler.series();
        cards.members.value.textContent = num(seg.members);
        cards.applied.value.textContent = num(m.get('loyalty_entries_applied_total'));
        cards.rejected.value.textContent = num(m.get('loyalty_entries_rejected_total'));
        cards.duplicate.value.textContent = num(m.get('loyalty_entries_duplicate_total'));
        cards.events.value.textContent = num(total(m, 'loyalty_outputs_total'));
        cards.batches.value.textContent = num(m.get('loyalty_batches_total'));
        cards.rate.value.textContent = dec(s.entries.length ? s.entries[s.entries.length - 1] : null);
        charts[0].update([s.t, s.entries, s.events]);
        charts[1].update([s.t, s.dlq]);
        charts[2].update([s.t, s.latency]);
        for (const [dim] of DIMENSIONS) {
          tables[dim].replaceChildren(population(dim, seg[dim] || {}, seg.members));
        }
      },
      unmount() {
        charts.forEach((c) => c.destroy());
      },
    };
  },
};
