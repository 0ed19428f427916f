// liability.js - the points liability (GET /v1/liability): what members
// hold (a contract liability under IFRS 15 / ASC 606, released when points
// are redeemed or expire), by the month it was earned in (cohort) and the
// month it expires in, pending points and debt apart, the movements of
// each calendar month, the redemption rate and the breakage observed on
// closed cohorts, valued at the daemon's liability_value_* when set.
import { getJson } from '../api.js';
import { card, dec, h, num, panel } from '../dom.js';
import { mountPlot } from '../chart.js';

// "2027-03" -> seconds since the epoch of its first day (uPlot's time axis).
function monthSeconds(month) {
  const [y, m] = month.split('-').map(Number);
  return Date.UTC(y, m - 1, 1) / 1000;
}

const dated = (rows) => rows.filter((r) => /^\d{4}-\d{2}$/.test(r.month));

// A uPlot chart of months in `el`; kind 'bars' or 'lines'.
function monthChart(el, lines, kind) {
  const paths = kind === 'bars' && uPlot.paths && uPlot.paths.bars
    ? uPlot.paths.bars({ size: [0.6, 40] }) : undefined;
  const opts = {
    legend: { live: false },
    // One tick per month shown, labelled "YYYY-MM"; points from 0.
    scales: { x: { time: true }, y: { range: (u, min, max) => [Math.min(0, min), max || 1] } },
    axes: [{ splits: (u) => u.data[0], space: 40,
      values: (u, splits) => splits.map((s) => new Date(s * 1000).toISOString().slice(0, 7)) },
    { label: 'points', size: 70 }],
    series: [{}, ...lines.map((l) => ({ label: l.label, stroke: l.color, width: 2,
      fill: kind === 'bars' ? `${l.color}aa` : undefined, paths,
      points: { show: kind !== 'bars' } }))],
  };
  return mountPlot(el, opts, lines.length);
}

function table(k, heads, rows) {
  return h('table', { dataset: { k } },
    h('tr', {}, heads.map(([t, cls]) => h('th', { class: cls }, t))),
    rows.length ? rows : h('tr', {}, h('td', { class: 'muted' }, 'nothing yet')));
}

const cell = (key, v) => h('td', { class: 'num', dataset: { k: key } }, num(v));

function cohortRows(t) {
  return t.by_cohort.map((c) => h('tr', { dataset: { month: c.month } }, h('td', {}, c.month),
    cell('outstanding', c.outstanding), cell('in', c.in), cell('redeemed', c.redeemed),
    cell('expired', c.expired), cell('other', c.other)));
}

function expiryRows(t) {
  return t.by_expiry.map((e) => h('tr', { dataset: { month: e.month } }, h('td', {}, e.month),
    cell('points', e.points)));
}

const MONTH_COLUMNS = ['issued', 'redeemed', 'expired', 'refunded', 'adjusted_in',
  'adjusted_out', 'transferred_in', 'transferred_out', 'pending_held', 'pending_released',
  'pending_cancelled'];

function monthRows(t) {
  return t.by_month.map((r) => h('tr', { dataset: { month: r.month } }, h('td', {}, r.month),
    MONTH_COLUMNS.map((k) => cell(k, r[k]))));
}

function partitionRows(parts) {
  return Object.entries(parts).map(([p, r]) => h('tr', { dataset: { partition: p } },
    h('td', {}, p), cell('outstanding_points', r.outstanding_points),
    cell('pending_points', r.pending_points), cell('debt_points', r.debt_points)));
}

const bp = (v) => (v === null ? '-' : `${dec(v / 100, 2)}%`);

export default {
  id: 'liability',
  title: 'Liability',
  mount(el) {
    const cards = {
      outstanding: card('Outstanding points', 'outstanding_points'),
      value: card('Outstanding value', 'outstanding_value'),
      pending: card('Pending points', 'pending_points'),
      debt: card('Debt (negative balances)', 'debt_points'),
      redemption: card('Redemption rate', 'redemption_rate'),
      breakage: card('Breakage observed', 'breakage'),
    };
    const boxes = [h('div'), h('div')];
    const tables = { cohort: h('div'), expiry: h('div'), month: h('div'), parts: h('div') };
    const asOf = h('p', { class: 'muted', dataset: { k: 'as_of' } });
    el.append(h('h2', {}, 'Liability'), asOf,
      h('div', { class: 'cards' }, Object.values(cards).map((c) => c.el)),
      h('div', { class: 'grid charts' },
        panel('Outstanding by earning month (cohort)', boxes[0]),
        panel('Issued, redeemed and expired per month', boxes[1])),
      panel('By cohort (earning month)', tables.cohort),
      h('div', { class: 'grid' }, panel('By expiry month', tables.expiry), tables.parts),
      panel('Per calendar month', tables.month));
    const charts = [
      monthChart(boxes[0], [{ label: 'outstanding', color: '#2b6cb0' }], 'bars'),
      monthChart(boxes[1], [{ label: 'issued', color: '#38a169' },
        { label: 'redeemed', color: '#2b6cb0' }, { label: 'expired', color: '#c53030' }],
      'lines'),
    ];
    return {
      async refresh() {
        const r = await getJson('/v1/liability');
        const t = r.totals;
        asOf.textContent = `As of ${r.as_of} (engine clock). Outstanding points are a ` +
          'contract liability, released when redeemed or expired; breakage = expired / ' +
          '(redeemed + expired) over the closed cohorts.';
        cards.outstanding.value.textContent = num(t.outstanding_points);
        cards.value.value.textContent = t.outstanding_value_minor === null ? 'not valued'
          : `${num(t.outstanding_value_minor)} ${r.currency} minor units`;
        cards.pending.value.textContent = num(t.pending_points);
        cards.debt.value.textContent = num(t.debt_points);
        cards.redemption.value.textContent = bp(t.redemption_rate_bp);
        cards.breakage.value.textContent = bp(t.breakage_bp);
        const cohorts = dated(t.by_cohort);
        charts[0].update([cohorts.map((c) => monthSeconds(c.month)),
          cohorts.map((c) => c.outstanding)]);
        const months = dated(t.by_month);
        charts[1].update([months.map((m) => monthSeconds(m.month)),
          months.map((m) => m.issued), months.map((m) => m.redeemed),
          months.map((m) => m.expired)]);
        tables.cohort.replaceChildren(table('by_cohort', [['cohort'], ['outstanding', 'num'],
          ['in', 'num'], ['redeemed', 'num'], ['expired', 'num'], ['other', 'num']],
        cohortRows(t)));
        tables.expiry.replaceChildren(table('by_expiry', [['expires'], ['points', 'num']],
          expiryRows(t)));
        tables.month.replaceChildren(table('by_month', [['month'],
          ...MONTH_COLUMNS.map((k) => [k.replace('_', ' '), 'num'])], monthRows(t)));
        tables.parts.replaceChildren(...(r.partitions ? [panel('Per partition',
          table('partitions', [['partition'], ['outstanding', 'num'], ['pending', 'num'],
            ['debt', 'num']], partitionRows(r.partitions)))] : []));
      },
      unmount() {
        charts.forEach((c) => c.destroy());
      },
    };
  },
};
