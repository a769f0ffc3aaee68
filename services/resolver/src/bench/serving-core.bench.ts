/**
 * Benchmark: what one ResolveStream decision costs the resolver in process, by stage, without
 * gRPC — the part of the serving benchmark's per-decision CPU that is the resolver's own code.
 *
 * The serving benchmark's workload (bench-workload.ts: 2,000 nodes, 10 domains, the CN-heavy client
 * mix with 10 % ECS queries) as encoded ResolveStreamRequest batches of 500, run through the
 * production codec and core: `decodeResolveStreamRequest` (into reused `BatchInputs`), then per
 * query `resolve` (locate and decide) and `encodeDecision`, then `finish` — what the ResolveStream
 * handler does per batch.
 * Three loops, each a superset of the one before: decode only; decode and resolve; decode, resolve
 * and encode. A stage's cost is the difference of two loops. CPU time of this process (GC included),
 * median of ROUNDS rounds, after a warm-up. Then, for each response shape, the heap bytes a whole
 * decision allocates (`decision_<shape>_heap_bytes`, from V8's sampling heap profiler).
 *
 * Run: `npm run bench -- serving-core` (about 30 s). Environment: BENCH_ROUNDS [7],
 * BENCH_BATCHES [1000] per round.
 */
import { Session } from 'node:inspector';
import { createGeoIpProvider } from '@cdn-sched/geoip';
import type { ResolveStreamRequest } from '@cdn-sched/proto';
import { createResolveCore } from '../serving/resolve-core.js';
import { useResolverBufferPool } from '../serving/resolver-service.js';
import { BatchInputs, createBatchWriter, decodeResolveStreamRequest, encodeDecision } from '../serving/wire-codec.js';
import { inspectorPost, median } from './bench-protocol.js';
import { createBenchTable, createServingQueries, encodeBatches } from './bench-workload.js';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 7);
const BATCHES = Number(process.env['BENCH_BATCHES'] ?? 1000);
const BATCH = 500;
const SEED = 20240601;

type Stage = 'decode' | 'resolve' | 'encode';

// `finish()` copies each batch's reply from the resolver's Buffer pool, as in a resolver process.
useResolverBufferPool();
const geo = await createGeoIpProvider();
const queries = createServingQueries(geo.database, SEED);
const table = createBenchTable(SEED);
const core = createResolveCore({ table: () => table, geo: () => geo.database, stale: () => false, seed: SEED });
const writer = createBatchWriter();
// The handler's reusable query objects (one set per stream).
const inputs = new BatchInputs();

/** Runs `batches` batches through the stages up to `upTo`; returns a checksum so no stage is dead code. */
function run(batches: Uint8Array[], count: number, upTo: Stage): number {
  let sum = 0;
  for (let k = 0; k < count; k++) {
    const decoded = decodeResolveStreamRequest(batches[k % batches.length]!, undefined, inputs);
    if (!Array.isArray(decoded)) throw new Error(`a benchmark batch was refused: ${decoded.message}`);
    if (upTo === 'decode') {
      sum += decoded.length;
      continue;
    }
    writer.reset();
    for (let i = 0; i < decoded.length; i++) {
      const q = decoded[i]!;
      const d = core.resolve(q);
      if (upTo === 'encode') encodeDecision(writer, q.queryId, d, q.compact === true);
      else sum += d.result.count;
    }
    if (upTo === 'encode') sum += writer.finish().length;
  }
  return sum;
}

/** CPU nanoseconds per decision of `upTo`, median over the rounds. */
function measure(batches: Uint8Array[], upTo: Stage): number {
  run(batches, BATCHES / 2, upTo);
  const rounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const before = process.cpuUsage();
    if (run(batches, BATCHES, upTo) <= 0) throw new Error('no work done');
    const used = process.cpuUsage(before);
    rounds.push(((used.user + used.system) * 1000) / (BATCHES * BATCH));
  }
  return median(rounds);
}

/** A node of V8's sampling heap profile (the inspector's `HeapProfiler` domain). */
interface SampledNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SampledNode[];
}

/**
 * Heap bytes allocated per decision by `upTo`, from V8's sampling heap profiler over one round
 * (samples every 512 bytes on average, objects that minor and major GCs collected included: what
 * a decision allocates is garbage at once), and the three functions allocating most of it. A
 * decision path that allocates nothing of its own should show only the batch's buffers. Functions
 * V8 inlined are counted with the function they were inlined into.
 */
async function allocated(batches: Uint8Array[], upTo: Stage): Promise<{ bytes: number; top: string[] }> {
  run(batches, BATCHES / 2, upTo);
  const session = new Session();
  session.connect();
  await inspectorPost(session, 'HeapProfiler.enable');
  await inspectorPost(session, 'HeapProfiler.startSampling', { samplingInterval: 512, includeObjectsCollectedByMinorGC: true, includeObjectsCollectedByMajorGC: true });
  run(batches, BATCHES, upTo);
  const { profile } = await inspectorPost<{ profile: { head: SampledNode } }>(session, 'HeapProfiler.stopSampling');
  session.disconnect();
  const byFunction = new Map<string, number>();
  const walk = (node: SampledNode): void => {
    const { functionName, url, lineNumber } = node.callFrame;
    const name = `${functionName || '(anonymous)'} ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}`;
    if (node.selfSize > 0) byFunction.set(name, (byFunction.get(name) ?? 0) + node.selfSize);
    for (const child of node.children) walk(child);
  };
  walk(profile.head);
  const decisions = BATCHES * BATCH;
  let total = 0;
  for (const size of byFunction.values()) total += size;
  const top = [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([name, size]) => `${name} ${(size / decisions).toFixed(1)} B`);
  return { bytes: total / decisions, top };
}

const emit = (metric: string, value: number, unit: string, extra: Record<string, unknown> = {}): void =>
  console.log(JSON.stringify({ bench: 'resolver serving-core', metric, value: Math.round(value), unit, ...extra }));

const batchesOf = (compact: boolean): Uint8Array[] =>
  encodeBatches(
    queries.map((q): ResolveStreamRequest['queries'][number] => ({ ...q, compact })),
    BATCH,
  );
for (const compact of [false, true]) {
  const batches = batchesOf(compact);
  const decode = measure(batches, 'decode');
  const resolve = measure(batches, 'resolve');
  const all = measure(batches, 'encode');
  const name = compact ? 'compact' : 'full';
  emit(`decision_${name}_cpu_ns`, all, 'ns/decision', { decisions_per_cpu_s: Math.round(1e9 / all), batch: BATCH, rounds: ROUNDS });
  emit(`decode_${name}_cpu_ns`, decode, 'ns/decision');
  emit(`resolve_${name}_cpu_ns`, resolve - decode, 'ns/decision');
  emit(`encode_${name}_cpu_ns`, all - resolve, 'ns/decision');
}
// After every CPU figure: the sampling heap profiler may leave the code it ran under changed.
for (const compact of [false, true]) {
  const heap = await allocated(batchesOf(compact), 'encode');
  emit(`decision_${compact ? 'compact' : 'full'}_heap_bytes`, heap.bytes, 'bytes/decision', { top: heap.top });
}
geo.close();
