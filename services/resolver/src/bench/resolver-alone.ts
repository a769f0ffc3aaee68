/**
 * The serving benchmark's server with only the resolver loaded: no echo baselines run in the
 * process before or between its windows. `serving.bench.ts` warms all three servers up in one
 * process and so measures the resolver in whatever GC mode that history left it in (see
 * docs/benchmarks.md, "Decision path benchmarks", nineteenth session); this measures it as a
 * resolver process that only ever served ResolveStream, which is what production runs.
 *
 * Run (after a build): `node services/resolver/dist/bench/resolver-alone.js`. Prints one JSON line
 * per window: decisions per server CPU-second, the wall rate, the server's CPU share and its
 * mark-compacts in the window. Environment (defaults in brackets): BENCH_BATCH [500],
 * BENCH_ROUNDS [2] windows, BENCH_MEASURE_MS [3000], BENCH_COMPACT [1], BENCH_SERVER_NODE_FLAGS
 * [--max-semi-space-size=1] (flags for the server's node after the resolver's own Node options:
 * bench-processes.ts `benchServerArgv` says why), BENCH_CPU_PROF (a directory: the
 * server writes a V8 CPU profile there on exit).
 */
import { createGeoIpProvider } from '@cdn-sched/geoip';
import { benchServerArgv, forkChild } from './bench-processes.js';
import type { BenchRequests, ClientCommand, ClientMessage, ServerCommand, ServerMessage } from './bench-protocol.js';
import { createServingQueries, encodeBatches, encodeUnary } from './bench-workload.js';

const env = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);
const BATCH = env('BENCH_BATCH', 500);
const ROUNDS = env('BENCH_ROUNDS', 2);
const MEASURE_MS = env('BENCH_MEASURE_MS', 3000);
const COMPACT = (process.env['BENCH_COMPACT'] ?? '1') === '1';
const SEED = 20240601;

const geo = await createGeoIpProvider();
const queries = createServingQueries(geo.database, SEED, COMPACT);
geo.close();
const requests: BenchRequests = { batches: { [BATCH]: encodeBatches(queries, BATCH) }, unary: encodeUnary(queries.slice(0, 64)) };
const serverArgv = benchServerArgv();
const server = forkChild<ServerCommand, ServerMessage>(new URL('./bench-server.js', import.meta.url), serverArgv);
const client = forkChild<ClientCommand, ClientMessage>(new URL('./bench-client.js', import.meta.url));
await Promise.all([server.started, client.started]);
const serverReady = server.next('ready');
const clientReady = client.next('ready');
server.send({ type: 'init', seed: SEED, requests });
client.send({ type: 'init', requests, windowBytes: 0 });
const { ports } = await serverReady;
await clientReady;

/** One window of the client loading the resolver, bracketed by the server's mark and report. */
async function measure(measureMs: number) {
  const measuring = client.next('measuring');
  const measured = client.next('measured');
  const result = client.next('result');
  client.send({ type: 'stream', port: ports.resolver, batchSize: BATCH, streams: 2, depth: 4, warmupMs: 300, measureMs });
  await measuring;
  server.send({ type: 'mark' });
  await measured;
  const window = server.next('window');
  server.send({ type: 'report' });
  const w = await window;
  const r = await result;
  return {
    decisions_per_server_cpu_s: Math.round(w.decisions / (w.cpuMs / 1000)),
    decisions_per_s: Math.round((r.completed * BATCH) / r.seconds),
    server_cpu_share: Math.round((w.cpuMs / w.wallMs) * 1000) / 1000,
    mark_compacts: w.markCompacts,
    mark_compact_ms: Math.round(w.markCompactMs * 10) / 10,
  };
}

await measure(1000);
for (let round = 0; round < ROUNDS; round++) {
  console.log(JSON.stringify({ bench: 'resolver alone', batch: BATCH, compact: COMPACT, server_node_flags: serverArgv.join(' '), ...(await measure(MEASURE_MS)) }));
}
server.send({ type: 'close' });
client.send({ type: 'close' });
await Promise.all([server.exited, client.exited]);
