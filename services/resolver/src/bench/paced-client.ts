/**
 * A paced ResolveStream client in a process of its own (forked with the options as JSON in
 * argv[2]), for slow-start.bench.ts: it offers a fixed rate of decisions in batches of a fixed
 * size on one stream, open loop (a batch leaves when it is due, whether or not earlier ones were
 * answered, so a slow server shows as latency and not as a lower offered rate), and measures each
 * batch from its write to its reply (replies come in request order on a stream).
 *
 * The workload is the serving benchmark's (bench-workload.ts): client addresses drawn from the real
 * IP data, 85 % Chinese, 10 % with an EDNS client subnet, the benchmark fleet's ten domains.
 *
 * The parent cuts the run into windows: `{ type: 'mark' }` starts one, `{ type: 'report' }` ends it
 * and is answered with a `window` message.
 */
import { fromBinary } from '@bufbuild/protobuf';
import { createGeoIpProvider } from '@cdn-sched/geoip';
import { ResolveStreamResponseSchema } from '@cdn-sched/proto';
import * as grpc from '@grpc/grpc-js';
import { percentile, rawMethods } from './bench-protocol.js';
import { createServingQueries, encodeBatches } from './bench-workload.js';

/** Options from the parent. */
export interface PacedClientOptions {
  /** resolver address. */
  target: string;
  decisionsPerS: number;
  batchSize: number;
  seed: number;
}

/** Batch latencies and answers of one window. */
export interface PacedWindow {
  type: 'window';
  batches: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  /** Decisions answered with an ItemError (the workload's policies that refuse when nobody is up). */
  itemErrors: number;
  /** Answers marked degraded (the resolver's upstream view was stale). */
  degraded: number;
  decisions: number;
  /** Batches that were due but not sent because the client fell more than a second behind. */
  skipped: number;
}

/** Messages to the parent. */
export type PacedClientMessage = { type: 'ready' } | PacedWindow;

const options = JSON.parse(process.argv[2] ?? '{}') as PacedClientOptions;
const send = (message: PacedClientMessage): void => void process.send?.(message);
/** A client more than this far behind its schedule drops the backlog instead of bursting it. */
const MAX_BACKLOG_MS = 1000;

const geo = await createGeoIpProvider();
const queries = createServingQueries(geo.database, options.seed);
geo.close();
const batches = encodeBatches(queries, options.batchSize).map((b) => Buffer.from(b));

const client = new grpc.Client(options.target, grpc.credentials.createInsecure());
const call = client.makeBidiStreamRequest(rawMethods.resolveStream.path, (b: Buffer) => b, (b: Buffer) => b);
const periodMs = (1000 * options.batchSize) / options.decisionsPerS;

let latencies = new Float64Array(1 << 16);
let count = 0;
const window = { itemErrors: 0, degraded: 0, decisions: 0, skipped: 0 };
// Write times of the batches in flight, oldest first.
const sentAt: number[] = [];
let sentHead = 0;
let next = 0;

call.on('data', (reply: Buffer) => {
  const latency = performance.now() - sentAt[sentHead++]!;
  if (sentHead > 4096) {
    sentAt.splice(0, sentHead);
    sentHead = 0;
  }
  if (count === latencies.length) {
    const grown = new Float64Array(latencies.length * 2);
    grown.set(latencies);
    latencies = grown;
  }
  latencies[count++] = latency;
  for (const d of fromBinary(ResolveStreamResponseSchema, reply).decisions) {
    window.decisions++;
    if (d.result.case === 'error') window.itemErrors++;
    else if (d.result.value?.degraded) window.degraded++;
  }
});
call.on('error', (error: Error) => {
  process.stderr.write(`paced client: ${error.message}\n`);
  process.exit(1);
});

let dueAt = performance.now();
let pace: NodeJS.Timeout;
/** Writes every batch that is due, then sleeps until the next one is. */
const sendDue = (): void => {
  const now = performance.now();
  if (now - dueAt > MAX_BACKLOG_MS) {
    const behind = Math.floor((now - dueAt) / periodMs);
    window.skipped += behind;
    dueAt += behind * periodMs;
  }
  while (dueAt <= now) {
    sentAt.push(performance.now());
    call.write(batches[next++ % batches.length]!);
    dueAt += periodMs;
  }
  pace = setTimeout(sendDue, Math.max(0, dueAt - performance.now()));
};
sendDue();

process.on('message', (m: { type: 'mark' | 'report' }) => {
  if (m.type === 'mark') {
    count = 0;
    Object.assign(window, { itemErrors: 0, degraded: 0, decisions: 0, skipped: 0 });
    return;
  }
  const p = (q: number): number => Math.round(percentile(latencies, count, q) * 1000) / 1000;
  const maxMs = count > 0 ? Math.round(latencies.subarray(0, count).reduce((a, b) => (b > a ? b : a), 0) * 1000) / 1000 : 0;
  send({ type: 'window', batches: count, p50Ms: p(50), p99Ms: p(99), p999Ms: p(99.9), maxMs, ...window });
});
process.on('disconnect', () => {
  clearTimeout(pace);
  call.end();
  client.close();
  process.exit(0);
});
send({ type: 'ready' });
