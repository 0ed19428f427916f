// rulebook.js - the rulebook version in force, the scheduled one, the last
// switches, and whether the configuration file's rulebook is in the log
// (GET /v1/rulebook; with "Show text", GET /v1/rulebook?text=1); with several
// partitions, the version each served partition has in force.
import { getJson } from '../api.js';
import { card, h, panel, when } from '../dom.js';

function id(v) {
  return v && v !== '0-0' ? v : '-';
}

function versionRow(v, current) {
  return h('tr', { dataset: { hash: v.hash } },
    h('td', { class: 'mono' }, v.hash || '(start-up)'),
    h('td', {}, v.label || '-'),
    h('td', { class: 'mono' }, id(v.entry_id)),
    h('td', {}, v.effective_ts ? when(v.effective_ts) : 'at once'),
    h('td', { class: 'mono' }, id(v.since_id)),
    h('td', {}, v.since_ts ? when(v.since_ts) : '-'),
    h('td', {}, current ? 'in force' : ''));
}

export default {
  id: 'rulebook',
  title: 'Rulebook',
  mount(el) {
    const cards = {
      hash: card('In force', 'hash'), label: card('Label', 'label'),
      since: card('Since (event time)', 'since_ts'), file: card('Configuration file', 'file'),
    };
    const scheduled = h('div');
    const history = h('div');
    const parts = h('div');
    const text = h('pre', { class: 'mono rules-text', hidden: true });
    const toggle = h('button', { type: 'button', dataset: { k: 'show_text' } }, 'Show text');
    let showText = false;
    toggle.addEventListener('click', () => {
      showText = !showText;
      toggle.textContent = showText ? 'Hide text' : 'Show text';
      text.hidden = !showText;
    });
    el.append(h('h2', {}, 'Rulebook'),
      h('div', { class: 'cards' }, Object.values(cards).map((c) => c.el)),
      panel('Scheduled', scheduled),
      panel('Versions, newest first (switch points)', history),
      panel('Partitions this daemon serves', parts),
      panel('Canonical text of the version in force', toggle, text));
    return {
      async refresh() {
        const rb = await getJson(showText ? '/v1/rulebook?text=1' : '/v1/rulebook');
        cards.hash.value.textContent = rb.short || '(start-up)';
        cards.hash.value.title = rb.hash;
        cards.label.value.textContent = rb.label || '-';
        cards.since.value.textContent = rb.since.ts ? when(rb.since.ts) : '-';
        const inLog = rb.file_hash === rb.hash
          || (rb.scheduled && rb.file_hash === rb.scheduled.hash);
        cards.file.value.textContent = rb.file_hash
          ? `${rb.file_hash.slice(0, 12)} ${inLog ? '(in the log)' : '(not yet in the log)'}` : '-';
        scheduled.replaceChildren(rb.scheduled
          ? h('p', { dataset: { k: 'scheduled' } }, `${rb.scheduled.hash} (${rb.scheduled.label || 'no label'}) `
            + `switches when event time reaches ${when(rb.scheduled.effective_ts)}`)
          : h('p', { class: 'muted', dataset: { k: 'scheduled' } }, 'None.'));
        history.replaceChildren(h('table', {},
          h('tr', {}, ['hash', 'label', 'rules entry', 'effective', 'switched at entry',
            'switched at', ''].map((t) => h('th', {}, t))),
          rb.versions.map((v, i) => versionRow(v, i === 0))));
        const served = Object.entries(rb.partitions || {}).sort((a, b) => a[0] - b[0]);
        parts.replaceChildren(served.length ? h('table', {},
          h('tr', {}, ['partition', 'hash', 'label', 'since entry'].map((t) => h('th', {}, t))),
          served.map(([p, v]) => h('tr', { dataset: { partition: p } },
            h('td', {}, p), h('td', { class: 'mono' }, v.short || '(start-up)'),
            h('td', {}, v.label || '-'), h('td', { class: 'mono' }, id(v.since.id)))))
          : h('p', { class: 'muted' }, 'One partition.'));
        if (showText) text.textContent = rb.text || '';
      },
    };
  },
};
