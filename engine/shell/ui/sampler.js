// sampler.js - /metrics over time: each sample is kept (a bounded window)
// so the pages can chart rates, which need two samples and the time
// between them.
import { getText, parseMetrics, total } from './api.js';

// The charts' window: 6 minutes at one sample every 2 s.
export const SAMPLES_MAX = 180;

export class Sampler {
  constructor() {
    this.samples = [];
  }

  get latest() {
    return this.samples.length ? this.samples[this.samples.length - 1] : null;
  }

  // Fetches /metrics now and keeps it; returns the sample {t (s), m}.
  async sample() {
    const m = parseMetrics(await getText('/metrics'));
    const s = { t: Date.now() / 1000, m };
    this.samples.push(s);
    if (this.samples.length > SAMPLES_MAX) this.samples.shift();
    return s;
  }

  // Rates between consecutive samples, for uPlot: [t[], ...series[]], each
  // series one value per interval (null across a restart of the daemon,
  // where counters start again from zero).
  series() {
    const t = [], entries = [], events = [], dlq = [], latency = [];
    for (let i = 1; i < this.samples.length; i++) {
      const a = this.samples[i - 1], b = this.samples[i];
      const dt = b.t - a.t;
      const rate = (f) => {
        const d = f(b.m) - f(a.m);
        return dt > 0 && d >= 0 ? d / dt : null;
      };
      t.push(b.t);
      entries.push(rate(entriesSeen));
      events.push(rate((m) => total(m, 'loyalty_outputs_total')));
      dlq.push(rate((m) => m.get('loyalty_entries_rejected_total')));
      const n = b.m.get('loyalty_batch_latency_seconds_count') -
        a.m.get('loyalty_batch_latency_seconds_count');
      const sum = b.m.get('loyalty_batch_latency_seconds_sum') -
        a.m.get('loyalty_batch_latency_seconds_sum');
      latency.push(n > 0 && sum >= 0 ? (sum / n) * 1000 : null);
    }
    return { t, entries, events, dlq, latency };
  }
}

// Entries the daemon took from the input: applied, rejected or retries.
export function entriesSeen(m) {
  return m.get('loyalty_entries_applied_total') + m.get('loyalty_entries_rejected_total') +
    m.get('loyalty_entries_duplicate_total');
}
