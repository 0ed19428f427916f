// dom.js - building elements without innerHTML: every value becomes text,
// so a member id or a DLQ detail can never turn into markup.

// h('td', {class: 'num', dataset: {k: 'x'}}, 'text', child, ...) -> element
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'on') for (const [ev, fn] of Object.entries(value)) el.addEventListener(ev, fn);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const INT = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

// An integer with thousands separators; '-' when unknown.
export function num(n) {
  return n === null || n === undefined || Number.isNaN(n) ? '-' : INT.format(n);
}

// A figure with `digits` decimals (rates, latencies); '-' when unknown.
export function dec(n, digits = 1) {
  if (n === null || n === undefined || !Number.isFinite(n)) return '-';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

// Milliseconds since the epoch as "YYYY-MM-DD HH:MM:SS UTC"; '-' for 0/none.
export function when(ms) {
  if (!ms) return '-';
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

// A card: a label and one figure; `key` names it for tests and styling.
export function card(label, key) {
  const value = h('div', { class: 'value', dataset: { k: key } }, '-');
  return { el: h('div', { class: 'card' }, h('div', { class: 'label' }, label), value), value };
}

// A panel with a title.
export function panel(title, ...children) {
  return h('div', { class: 'panel' }, h('h3', {}, title), ...children);
}
