// app.js - the dashboard's shell: the page router, the token, and one
// refresh loop (sample /metrics, then let the page on screen refresh).
import { family, health, onUnauthorized, token } from './api.js';
import { h, when } from './dom.js';
import { Sampler } from './sampler.js';
import overview from './pages/overview.js';
import healthPage from './pages/health.js';
import dlq from './pages/dlq.js';
import member from './pages/member.js';
import rulebook from './pages/rulebook.js';
import liability from './pages/liability.js';

// Every page is a module exporting {id, title, mount(el, ctx, arg)}, where
// mount builds the page in `el` and returns {refresh(), unmount()?}; the
// route is #/id or #/id/arg.
const PAGES = [overview, liability, healthPage, dlq, rulebook, member];

// One refresh every 2 s: fresh enough for rates, a trifle for the daemon.
const REFRESH_MS = 2000;

const sampler = new Sampler();
const el = {
  nav: document.getElementById('nav'), page: document.getElementById('page'),
  status: document.getElementById('status'), updated: document.getElementById('updated'),
  version: document.getElementById('version'),
  tokenPanel: document.getElementById('token-panel'),
  tokenInput: document.getElementById('token-input'),
};
const ctx = { sampler, go: (route) => { location.hash = `#/${route}`; } };
let current = null; // {page, view}
let authNeeded = false;
let timer = null;

function parseRoute() {
  const [id, ...rest] = location.hash.replace(/^#\/?/, '').split('/');
  const page = PAGES.find((p) => p.id === id) || PAGES[0];
  return { page, arg: rest.length ? decodeURIComponent(rest.join('/')) : '' };
}

function showToken(show, message) {
  el.tokenPanel.hidden = !show;
  if (show) {
    el.status.textContent = message;
    el.status.className = 'pill warn';
    el.tokenInput.focus();
  }
}

function renderNav(active) {
  el.nav.replaceChildren(...PAGES.map((p) => h('a', { href: `#/${p.id}`,
    class: p === active ? 'active' : null, dataset: { page: p.id } }, p.title)));
}

function mount() {
  const { page, arg } = parseRoute();
  if (current && current.view.unmount) current.view.unmount();
  el.page.replaceChildren();
  renderNav(page);
  current = { page, arg, view: page.mount(el.page, ctx, arg) };
}

async function showHealth() {
  const { code, body } = await health();
  el.status.textContent = body.consumer === 'consuming' && body.redis_up
    ? 'consuming' : `${body.consumer}${body.redis_up ? '' : ' (Redis down)'}`;
  el.status.className = `pill ${code === 200 ? 'ok' : 'bad'}`;
  return body;
}

// Samples /metrics, then refreshes the page on screen. Resolves when the
// page shows figures no older than the moment it was called.
async function refresh() {
  if (authNeeded && !token.get()) return;
  await showHealth();
  await sampler.sample();
  const info = family(sampler.latest.m, 'loyalty_build_info')[0];
  el.version.textContent = info ? `loyaltyd ${info.labels.version}` : '';
  if (!current) mount();
  await current.view.refresh();
  el.updated.textContent = `updated ${when(Date.now())}`;
}

function loop() {
  clearTimeout(timer);
  refresh().catch((e) => {
    el.updated.textContent = `update failed: ${e.message}`;
  }).finally(() => {
    timer = setTimeout(loop, REFRESH_MS);
  });
}

onUnauthorized(() => showToken(true, token.get() ? 'token refused' : 'token needed'));

document.getElementById('token-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  token.set(el.tokenInput.value.trim());
  el.tokenInput.value = '';
  showToken(false);
  loop();
});
document.getElementById('token-forget').addEventListener('click', () => {
  token.clear();
  showToken(true, 'token needed');
});
document.getElementById('token-button').addEventListener('click', () => {
  showToken(el.tokenPanel.hidden, 'token');
});
window.addEventListener('hashchange', () => {
  mount();
  loop();
});

// For the operator's console and the browser test: refresh now.
window.loyaltyUi = { refresh, page: () => (current ? current.page.id : null) };

async function start() {
  const body = await showHealth();
  authNeeded = body.auth_required;
  if (authNeeded && !token.get()) {
    showToken(true, 'token needed');
    return;
  }
  loop();
}
start();
