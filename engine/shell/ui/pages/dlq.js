// dlq.js - the latest rejected entries and why (GET /v1/dlq: what this
// daemon committed to <prefix>dlq since it started; the stream has all).
import { getJson } from '../api.js';
import { card, h, num, panel, when } from '../dom.js';

const SHOWN = 100;

// The head of the original bytes as text: printable ASCII as is, other
// bytes as a dot. msgpack keeps strings whole, so kinds, member ids and
// keys stay readable.
function preview(hex) {
  let out = '';
  for (let i = 0; i < hex.length; i += 2) {
    const b = parseInt(hex.slice(i, i + 2), 16);
    out += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '\u00b7';
  }
  return out;
}

function row(e) {
  return h('tr', { dataset: { src: e.src } },
    h('td', { class: 'mono' }, when(Number(e.src.split('-')[0]))),
    h('td', { class: 'mono' }, e.src),
    h('td', { dataset: { reason: '' } }, h('code', {}, e.reason)),
    h('td', {}, e.detail),
    h('td', { class: 'num' }, num(e.m_bytes)),
    h('td', { class: 'mono preview' }, preview(e.m_head_hex)));
}

export default {
  id: 'dlq',
  title: 'DLQ',
  mount(el, ctx) {
    const cards = { rejected: card('Rejected since start', 'entries_rejected'),
      held: card('Shown here (latest)', 'held') };
    const reasons = h('div');
    const table = h('div');
    el.append(h('h2', {}, 'Dead-letter queue'),
      h('div', { class: 'cards' }, Object.values(cards).map((c) => c.el)),
      h('div', { class: 'grid' }, panel('Reasons among those shown', reasons)),
      panel(`Latest ${SHOWN} rejected entries, newest first`, table));
    return {
      async refresh() {
        const dlq = await getJson(`/v1/dlq?limit=${SHOWN}`);
        cards.rejected.value.textContent = num(ctx.sampler.latest.m.get('loyalty_entries_rejected_total'));
        cards.held.value.textContent = num(dlq.entries.length);
        const counts = new Map();
        for (const e of dlq.entries) counts.set(e.reason, (counts.get(e.reason) || 0) + 1);
        reasons.replaceChildren(h('table', {}, [...counts].sort((a, b) => b[1] - a[1])
          .map(([r, n]) => h('tr', { dataset: { reason: r } }, h('td', {}, h('code', {}, r)),
            h('td', { class: 'num' }, num(n))))));
        table.replaceChildren(dlq.entries.length
          ? h('table', {}, h('tr', {}, ['time', 'entry id', 'reason', 'detail', 'bytes',
            'original bytes (head)'].map((t) => h('th', {}, t))), dlq.entries.map(row))
          : h('p', { class: 'muted' }, 'No entry rejected since the daemon started.'));
      },
    };
  },
};
