/**
 * The ingest benchmark's ReportProbes client in a process of its own, so that the
 * weight-calculator's CPU per result can be measured without the client's (in production the
 * probers are other processes, usually other hosts). Started with `fork(url, [JSON options])`: it
 * warms up, sends `{ type: 'timed' }` when the timed run starts and `{ type: 'done', ... }` with the
 * acks' counts when it ends, then exits.
 */
import { serviceDefinitions } from '@cdn-sched/proto';
import { createChannel, createClient } from 'nice-grpc';
import { ingestNodeIds, reportUntil } from './report-load.js';

/** What the parent tells the client process. */
export interface ReportClientOptions {
  /** weight-calculator address, `host:port`. */
  target: string;
  /** One stream per prober id. */
  probers: string[];
  /** Fleet size (a multiple of the batch size). */
  nodes: number;
  warmupS: number;
  seconds: number;
  /** Start time of the first pass, Unix milliseconds. */
  startedAtBaseMs: number;
}

/** Messages from the client process. */
export type ReportClientMessage = { type: 'timed' } | { type: 'done'; accepted: number; rejected: number; elapsedS: number };

const options = JSON.parse(process.argv[2] ?? '{}') as ReportClientOptions;
const send = (message: ReportClientMessage): void => void process.send?.(message);
const channel = createChannel(options.target);
const client = createClient(serviceDefinitions.weightCalculator, channel);
const ids = ingestNodeIds(options.nodes);
try {
  const warm = await Promise.all(options.probers.map((p) => reportUntil(client, p, ids, performance.now() + options.warmupS * 1000, options.startedAtBaseMs)));
  send({ type: 'timed' });
  const started = performance.now();
  // The timed passes start one second after the warm-up's, so they are all newer.
  const runs = await Promise.all(options.probers.map((p) => reportUntil(client, p, ids, started + options.seconds * 1000, options.startedAtBaseMs + 1000)));
  const elapsedS = (performance.now() - started) / 1000;
  const accepted = runs.reduce((n, r) => n + r.accepted, 0);
  const rejected = [...warm, ...runs].reduce((n, r) => n + r.rejected, 0);
  send({ type: 'done', accepted, rejected, elapsedS });
} finally {
  channel.close();
  if (process.connected) process.disconnect();
}
