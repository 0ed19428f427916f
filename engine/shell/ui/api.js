// api.js - the daemon's API, as the dashboard calls it: same origin, the
// bearer token (when the daemon wants one) from this tab's sessionStorage.

const TOKEN_KEY = 'loyaltyd.token';

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY) || '',
  set: (t) => sessionStorage.setItem(TOKEN_KEY, t),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

export class ApiError extends Error {
  constructor(status, path, body) {
    super(`${path}: ${status}${body && body.error ? ` ${body.error}` : ''}`);
    this.status = status;
    this.body = body;
  }
}

let unauthorized = () => {};

// fn() runs whenever the daemon refuses the token (401).
export function onUnauthorized(fn) {
  unauthorized = fn;
}

async function call(path) {
  const headers = {};
  if (token.get()) headers.Authorization = `Bearer ${token.get()}`;
  const res = await fetch(path, { headers, cache: 'no-store' });
  if (res.ok) return res;
  let body = null;
  try {
    body = await res.json();
  } catch (e) {
    body = null;
  }
  if (res.status === 401) unauthorized();
  throw new ApiError(res.status, path, body);
}

export async function getJson(path) {
  return (await call(path)).json();
}

export async function getText(path) {
  return (await call(path)).text();
}

// GET /healthz (no token needed): {status code, body}; 503 is an answer too.
export async function health() {
  const res = await fetch('/healthz', { cache: 'no-store' });
  return { code: res.status, body: await res.json() };
}

// Prometheus text -> Map of 'name' or 'name{labels}' -> number.
export function parseMetrics(text) {
  const out = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    out.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return out;
}

// The samples of one family: [{labels: {k: v}, value}], e.g. family(m,
// 'loyalty_outputs_total') -> one per kind.
export function family(metrics, name) {
  const out = [];
  for (const [key, value] of metrics) {
    if (key !== name && !key.startsWith(`${name}{`)) continue;
    const labels = {};
    for (const m of key.slice(name.length).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[m[1]] = m[2].replace(/\\(.)/g, '$1');
    }
    out.push({ labels, value });
  }
  return out;
}

// The sum of a family's samples (all label values).
export function total(metrics, name) {
  return family(metrics, name).reduce((sum, s) => sum + s.value, 0);
}
