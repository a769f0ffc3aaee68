import type { TrafficMode } from './traffic-run.js';
import type { LatencySummary, TrafficSummary } from './traffic-stats.js';

const n = (v: number): string => Math.round(v).toLocaleString('en-US');

function latencyRow(name: string, l: LatencySummary): string {
  if (l.count === 0) return `  ${name.padEnd(19)}(none completed)`;
  const f = (v: number): string => `${v.toFixed(2)} ms`;
  return `  ${name.padEnd(19)}p50 ${f(l.p50)}  p95 ${f(l.p95)}  p99 ${f(l.p99)}  p99.9 ${f(l.p999)}  max ${f(l.max)}  (${n(l.count)})`;
}

function codes(m: Readonly<Record<string, number>>): string {
  const entries = Object.entries(m);
  return entries.length === 0 ? 'none' : entries.map(([code, count]) => `${code} ${n(count)}`).join(', ');
}

/** What one request is called in a report. */
const REQUEST_NOUN: Record<TrafficMode, { one: string; many: string }> = {
  stream: { one: 'batch', many: 'batches' },
  unary: { one: 'call', many: 'calls' },
};

/** The human form of a run's figures (the `--json` form is the summary itself). */
export function formatTrafficSummary(title: string, s: TrafficSummary, mode: TrafficMode): string {
  const noun = REQUEST_NOUN[mode];
  const offered = s.offered.rps === null ? 'unpaced (as fast as possible)' : `${n(s.offered.rps)} q/s (${n(s.offered.queries)} queries)`;
  const unsent = s.offered.unsent > 0 ? `; ${n(s.offered.unsent)} never sent (every worker was busy: raise --concurrency)` : '';
  const row = (name: string, text: string): string => `  ${name.padEnd(19)}${text}`;
  return [
    `${title}: ${s.durationS.toFixed(1)} s`,
    row('offered', `${offered}${unsent}`),
    row('achieved', `${n(s.achieved.queriesPerS)} q/s, ${n(s.achieved.requestsPerS)} ${noun.many}/s`),
    row('queries', `${n(s.queries.sent)} sent, ${n(s.queries.ok)} ok, ${n(s.queries.failed)} failed, ${n(s.queries.degraded)} degraded`),
    row(noun.many, `${n(s.requests.sent)} sent, ${n(s.requests.ok)} ok, ${n(s.requests.failed)} failed`),
    latencyRow('latency per query', s.latencyMs.query),
    latencyRow(`latency per ${noun.one}`, s.latencyMs.request),
    row('send lag', `p99 ${s.sendLagMs.p99.toFixed(2)} ms, max ${s.sendLagMs.max.toFixed(2)} ms`),
    row('errors (queries)', codes(s.errors)),
    row(`errors (${noun.many})`, codes(s.requestErrors)),
  ].join('\n');
}
