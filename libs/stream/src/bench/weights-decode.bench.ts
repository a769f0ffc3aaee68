/**
 * Benchmark of the weight stream's wire decoder (weights-wire.ts) against protobuf-es `fromBinary`,
 * the baseline, on the same messages in the same run: a lean delta of 10 k weights (one step of a
 * whole fleet's slow start, as the resolver receives it) and a full snapshot of 10 k weights with
 * their terms and 500 capacity figures.
 *
 * Method: 7 rounds; in each, a full garbage collection, then the baseline decodes the message
 * PASSES times, another collection, then ours. Figures are medians over rounds, `ratio` the median
 * of per-round ratios (baseline time / ours: > 1 is faster). Besides time, the bytes each decoder
 * leaves on the heap per weight (heap growth over one pass with the collector held off by a large
 * young generation) — what the resolver's collector has to clean up after every version.
 *
 * Run: `npm run bench -- weights-decode`.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { Health, NodeWeightSchema, Tier, TierCapacitySchema, WatchWeightsResponseSchema, WeightDeltaSchema, WeightSnapshotSchema, WeightTermsSchema } from '@cdn-sched/proto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { decodeWatchWeightsResponse } from '../weights-wire.js';

const NODES = 10_000;
const ROUNDS = 7;
const PASSES = 20;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const emit = (metric: string, value: number, unit: string, extra: Record<string, unknown> = {}): void =>
  console.log(JSON.stringify({ bench: 'weights-decode', metric, value: Math.round(value * 100) / 100, unit, ...extra }));

const id = (i: number): string => `edge-${['gd', 'bj', 'sh', 'zj'][i % 4]}-${['ct', 'cu', 'cm'][i % 3]}-${String(i).padStart(5, '0')}`;
const leanDelta = toBinary(
  WatchWeightsResponseSchema,
  create(WatchWeightsResponseSchema, {
    epoch: 'wc-bench',
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    kind: {
      case: 'delta',
      value: create(WeightDeltaSchema, {
        fromVersion: 41n,
        version: 42n,
        upserted: Array.from({ length: NODES }, (_, i) => create(NodeWeightSchema, { nodeId: id(i), weight: 0.05 + (i % 97) / 100, health: Health.UP, updatedAtMs: 1_796_000_000_000n + BigInt(i) })),
      }),
    },
  }),
);
const fullSnapshot = toBinary(
  WatchWeightsResponseSchema,
  create(WatchWeightsResponseSchema, {
    epoch: 'wc-bench',
    kind: {
      case: 'snapshot',
      value: create(WeightSnapshotSchema, {
        version: 42n,
        weights: Array.from({ length: NODES }, (_, i) =>
          create(NodeWeightSchema, {
            nodeId: id(i),
            weight: 0.5,
            health: Health.UP,
            updatedAtMs: 1_796_000_000_000n,
            terms: create(WeightTermsSchema, { capacityRps: 1000 + i, rttEwmaMs: 12.5, lossRate: 0.001, load: 0.3, ramp: 1, targetWeight: 0.5, probersUp: 2, probersTotal: 2 }),
          }),
        ),
        capacities: Array.from({ length: 500 }, (_, i) => create(TierCapacitySchema, { pool: 'video', tier: Tier.REGION, location: `CN-${i}`, healthyCapacityRps: 9000, totalCapacityRps: 12_000 })),
        reason: 'bench',
      }),
    },
  }),
);

function timePasses(decode: (bytes: Uint8Array) => unknown, bytes: Uint8Array): number {
  gc();
  const t0 = process.hrtime.bigint();
  for (let p = 0; p < PASSES; p++) decode(bytes);
  return Number(process.hrtime.bigint() - t0) / PASSES;
}

/** Heap bytes one decode leaves behind, per weight (the result is kept alive while measured). */
function heapPerWeight(decode: (bytes: Uint8Array) => unknown, bytes: Uint8Array): number {
  gc();
  const before = process.memoryUsage().heapUsed;
  const kept = decode(bytes);
  const grown = process.memoryUsage().heapUsed - before;
  if (kept === undefined) throw new Error('nothing decoded');
  return grown / NODES;
}

const fromLibrary = (bytes: Uint8Array): unknown => fromBinary(WatchWeightsResponseSchema, bytes);

for (const [name, bytes] of [
  ['lean_delta', leanDelta],
  ['full_snapshot', fullSnapshot],
] as const) {
  // Warm both paths up before measuring.
  for (let i = 0; i < 5; i++) {
    fromLibrary(bytes);
    decodeWatchWeightsResponse(bytes);
  }
  const ours: number[] = [];
  const baseline: number[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const b = timePasses(fromLibrary, bytes);
    const o = timePasses(decodeWatchWeightsResponse, bytes);
    baseline.push(b / NODES);
    ours.push(o / NODES);
    ratios.push(b / o);
  }
  emit(`${name}_ns_per_weight`, median(ours), 'ns', { baseline: Math.round(median(baseline) * 100) / 100, ratio: Math.round(median(ratios) * 100) / 100, message_kib: Math.round(bytes.length / 102.4) / 10, weights: NODES });
  const heapOurs = median(Array.from({ length: 3 }, () => heapPerWeight(decodeWatchWeightsResponse, bytes)));
  const heapBaseline = median(Array.from({ length: 3 }, () => heapPerWeight(fromLibrary, bytes)));
  emit(`${name}_heap_bytes_per_weight`, heapOurs, 'B', { baseline: Math.round(heapBaseline), ratio: Math.round((heapBaseline / heapOurs) * 100) / 100 });
}
