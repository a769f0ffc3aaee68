import { CliError } from '../cli.js';
import type { TrafficSummary } from './traffic-stats.js';

/**
 * The error a run ends with when not one query was answered: the command must exit non-zero and
 * say why and where, e.g. "every query failed (UNAVAILABLE 4,000) against the resolver at
 * 127.0.0.1:50054". `undefined` when something succeeded or nothing was sent.
 */
export function allFailedError(summary: TrafficSummary, target: string): CliError | undefined {
  if (summary.queries.sent === 0 || summary.queries.ok > 0) return undefined;
  const codes = Object.entries(summary.errors)
    .map(([code, n]) => `${code} ${n.toLocaleString('en-US')}`)
    .join(', ');
  const down = 'UNAVAILABLE' in summary.errors || 'DEADLINE_EXCEEDED' in summary.errors;
  const hint = down ? ' (is it running? start the mesh with `npm start`, or pass --resolver host:port)' : '';
  return new CliError(`every query failed (${codes || 'no answer'}) against the resolver at ${target}${hint}`);
}
