// member.js - one member, searched by id (GET /v1/members/ID): tier,
// balance, points pending and expiring, segment, perks, the next tier, the
// tier at risk at the next review and the churn risk.
//
// Below, the member's history (GET /v1/members/ID/history, relayed to
// loyalty-ledger) when /healthz says the daemon has a ledger (`history`).
import { ApiError, getJson } from '../api.js';
import { card, h, num, panel, when } from '../dom.js';

function field(label, key, value) {
  return h('tr', {}, h('th', {}, label), h('td', { dataset: { k: key } }, value));
}

const HISTORY_LIMIT = 20;

function historyRow(e) {
  return h('tr', {},
    h('td', {}, when(e.ts)), h('td', { dataset: { k: 'kind' } }, e.kind || '-'),
    h('td', {}, e.cause || (e.event && (e.event.reason || e.event.reward)) || '-'),
    h('td', { class: 'num', dataset: { k: 'delta' } }, e.delta === null ? '-' : num(e.delta)),
    h('td', { class: 'num', dataset: { k: 'balance' } },
      e.balance === null ? '-' : num(e.balance)),
    h('td', { class: 'mono' }, e.rules ? e.rules.slice(0, 12) : '-'));
}

// The newest HISTORY_LIMIT events, or why there are none.
async function history(id) {
  const health = await getJson('/healthz').catch(() => ({}));
  if (!health.history) {
    return panel('History', h('p', { class: 'muted', dataset: { k: 'history_off' } },
      'Member history needs loyalty-ledger (daemon.ledger; README, Ledger).'));
  }
  try {
    const r = await getJson(`/v1/members/${encodeURIComponent(id)}/history?limit=${HISTORY_LIMIT}`);
    return panel(`History (newest ${HISTORY_LIMIT})`, h('table', { dataset: { k: 'history' } },
      h('tr', {}, ...['When', 'Kind', 'Cause', 'Change', 'Balance', 'Rulebook']
        .map((t) => h('th', {}, t))),
      ...r.events.map(historyRow)));
  } catch (e) {
    if (!(e instanceof ApiError) || e.status === 401) throw e;
    return panel('History', h('p', { class: 'error', dataset: { k: 'history_error' } },
      'The ledger is unavailable: history cannot be shown now.'));
  }
}

function details(m) {
  const next = m.next_tier;
  const exp = m.expiring || {};
  const pend = m.pending || { points: 0, releases: [] };
  const releases = pend.releases || [];
  const risk = m.at_risk;
  return [
    h('div', { class: 'cards' },
      [['Tier', 'tier', m.tier], ['Balance', 'balance', num(m.balance)],
        ['Lifetime points', 'lifetime_points', num(m.lifetime_points)],
        ['Pending', 'pending_points', num(pend.points)],
        ['Expiring in 30 days', 'expiring_30', num(exp['30'])],
        ['Next tier', 'next_tier', next ? next.name : 'top tier']].map(([label, key, v]) => {
        const c = card(label, key);
        c.value.textContent = v;
        return c.el;
      })),
    h('div', { class: 'grid' },
      panel('Perks', h('div', { dataset: { k: 'perks' } },
        m.perks.length ? m.perks.map((p) => h('span', { class: 'perk' }, p))
          : h('span', { class: 'muted' }, 'none at this tier'))),
      panel('Tier progress', h('table', {},
        field(`Qualifying (${m.qualifying_basis})`, 'qualifying', num(m.qualifying)),
        field('Next tier', 'next_tier_name', next ? next.name : '-'),
        field('Still needed', 'next_tier_remaining', next ? num(next.remaining) : '-'),
        field('Next review', 'next_review', when(m.next_review_ts)),
        field('Grace until', 'grace_until', when(m.grace_until_ts)))),
      panel('Expiring points', h('table', {},
        field('Within 30 days', 'exp30', num(exp['30'])),
        field('Within 60 days', 'exp60', num(exp['60'])),
        field('Within 90 days', 'exp90', num(exp['90'])),
        field('Next expiry', 'next_expiry', when(exp.next_ts)))),
      panel('Pending and risk', h('table', {},
        field('Pending points', 'pending', num(pend.points)),
        field('Next release', 'next_release', releases.length ? when(releases[0].release_ts) : '-'),
        field('Tier at risk', 'at_risk_tier', risk ? risk.tier : 'no'),
        field('Points needed by review', 'at_risk_needed', risk ? num(risk.needed) : '-'),
        field('Review', 'at_risk_review', risk ? when(risk.review_ts) : '-'),
        field('Churn risk', 'churn_risk',
          m.churn_risk === undefined ? '-' : `${num(m.churn_risk)}%`))),
      panel('Segment', h('table', {},
        field('Segment', 'segment', m.segment || '-'),
        field('Lifecycle stage', 'stage', m.stage || '-'),
        field('Value class', 'value_class', m.value_class || '-'),
        field('RFM', 'rfm', m.rfm ? m.rfm.join(' / ') : '-'),
        field('Lifetime value', 'clv', m.clv === undefined ? '-' : num(m.clv)))),
      panel('Activity', h('table', {},
        field('Purchases', 'purchases', num(m.purchases)),
        field('Enrolled', 'enrolled', when(m.enrolled_ts)),
        field('Last purchase', 'last_purchase', when(m.last_purchase_ts)),
        field('Birthday', 'birthday', m.birthday || '-')))),
  ];
}

export default {
  id: 'member',
  title: 'Member',
  mount(el, ctx, id) {
    const input = h('input', { type: 'search', placeholder: 'member id', value: id || '',
      'aria-label': 'member id' });
    const out = h('div');
    const form = h('form', { class: 'search', on: { submit: (ev) => {
      ev.preventDefault();
      if (input.value.trim()) ctx.go(`member/${encodeURIComponent(input.value.trim())}`);
    } } }, input, h('button', { type: 'submit' }, 'Look up'));
    el.append(h('h2', {}, 'Member'), form, out);
    return {
      async refresh() {
        if (!id) {
          out.replaceChildren(h('p', { class: 'muted' }, 'Type a member id (card number).'));
          return;
        }
        try {
          const m = await getJson(`/v1/members/${encodeURIComponent(id)}`);
          out.replaceChildren(h('h3', { dataset: { k: 'member' } }, m.member), ...details(m),
            await history(id));
        } catch (e) {
          if (!(e instanceof ApiError) || e.status === 401) throw e;
          out.replaceChildren(h('p', { class: 'error', dataset: { k: 'error' } },
            e.status === 404 ? `No member ${id}.` : `Not a member id: ${id}.`));
        }
      },
    };
  },
};
