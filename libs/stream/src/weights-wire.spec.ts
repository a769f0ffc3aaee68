import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  Health,
  NodeWeightSchema,
  ProgressSchema,
  Tier,
  TierCapacitySchema,
  WatchWeightsResponseSchema,
  WeightDeltaSchema,
  WeightSnapshotSchema,
  WeightTermsSchema,
  type WatchWeightsResponse,
} from '@cdn-sched/proto';
import { createSeededRandom, fuzzFrame, pickFaults, type Fault, type FuzzSchema } from '@cdn-sched/testing';
import { describe, expect, it } from 'vitest';
import { decodeWatchWeightsFast, decodeWatchWeightsResponse } from './weights-wire.js';

const weight = (nodeId: string, w: number, health: Health, terms = false, updatedAtMs = 1_796_000_000_123n) =>
  create(NodeWeightSchema, {
    nodeId,
    weight: w,
    health,
    updatedAtMs,
    terms: terms ? create(WeightTermsSchema, { capacityRps: 1200, rttEwmaMs: 12.5, lossRate: 0.01, load: 0.4, ramp: 0.35, targetWeight: 0.8, probersUp: 2, probersTotal: 3 }) : undefined,
  });
const capacity = create(TierCapacitySchema, { pool: 'video', tier: Tier.REGION, location: 'CN-GD', healthyCapacityRps: 9000, totalCapacityRps: 12_000 });

const snapshot = create(WatchWeightsResponseSchema, {
  epoch: 'wc-7f3a',
  traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  kind: {
    case: 'snapshot',
    value: create(WeightSnapshotSchema, {
      version: 41n,
      weights: [weight('edge-gd-ct-001', 0.82, Health.UP, true), weight('edge-bj-cu-002', 0, Health.DOWN, true), weight('', 0, Health.UNSPECIFIED, false, 0n)],
      capacities: [capacity],
      reason: 'resume from version 12 of another epoch',
      more: false,
    }),
  },
});
const delta = create(WatchWeightsResponseSchema, {
  epoch: 'wc-7f3a',
  kind: {
    case: 'delta',
    value: create(WeightDeltaSchema, {
      fromVersion: 41n,
      version: 42n,
      // A lean weight (no terms), an id that is not ASCII, a negative int64 and an open-enum value the proto does not name.
      upserted: [weight('edge-gd-ct-001', 0.9, Health.UP), weight('边缘-上海-1', 0.25, Health.UP, false, -5n), weight('edge-x', 1e-300, 7 as Health)],
      removedNodeIds: ['edge-old-1', 'édge-old-2'],
      capacities: [capacity, create(TierCapacitySchema, { pool: 'video', tier: Tier.ANY, location: '*' })],
      more: true,
    }),
  },
});

describe('WatchWeightsResponse wire decoder', () => {
  it('decodes snapshots and deltas, full and lean, to exactly what fromBinary gives', () => {
    for (const message of [snapshot, delta, create(WatchWeightsResponseSchema, { epoch: 'e' }), create(WatchWeightsResponseSchema, {})]) {
      const bytes = toBinary(WatchWeightsResponseSchema, message);
      const fast = decodeWatchWeightsFast(bytes);
      expect(fast, 'the fast path takes a canonical message').toBeDefined();
      expect(fast).toStrictEqual(fromBinary(WatchWeightsResponseSchema, bytes));
      expect(decodeWatchWeightsResponse(bytes)).toStrictEqual(message);
    }
  });

  it('gives every field its value (not only what the oracle agrees on)', () => {
    const d = decodeWatchWeightsFast(toBinary(WatchWeightsResponseSchema, delta))!;
    expect(d.kind.case).toBe('delta');
    const value = d.kind.value as (typeof delta.kind & { case: 'delta' })['value'];
    expect(value.upserted.map((w) => [w.nodeId, w.weight, w.health, w.updatedAtMs])).toEqual([
      ['edge-gd-ct-001', 0.9, Health.UP, 1_796_000_000_123n],
      ['边缘-上海-1', 0.25, Health.UP, -5n],
      ['edge-x', 1e-300, 7, 1_796_000_000_123n],
    ]);
    expect(value.removedNodeIds).toEqual(['edge-old-1', 'édge-old-2']);
    expect([value.fromVersion, value.version, value.more]).toEqual([41n, 42n, true]);
    expect(value.capacities[0]).toMatchObject({ pool: 'video', tier: Tier.REGION, location: 'CN-GD', healthyCapacityRps: 9000, totalCapacityRps: 12_000 });
  });

  it('repeated node ids decode to equal strings from one version to the next', () => {
    const bytes = toBinary(WatchWeightsResponseSchema, delta);
    const a = decodeWatchWeightsFast(bytes)!.kind.value as { upserted: { nodeId: string }[] };
    const b = decodeWatchWeightsFast(bytes)!.kind.value as { upserted: { nodeId: string }[] };
    expect(b.upserted.map((w) => w.nodeId)).toEqual(a.upserted.map((w) => w.nodeId));
  });

  it('declines what it does not take, and the library decodes it or refuses it', () => {
    const progress = toBinary(WatchWeightsResponseSchema, create(WatchWeightsResponseSchema, { epoch: 'e', kind: { case: 'progress', value: create(ProgressSchema, { version: 3n, serverTimeMs: 5n }) } }));
    expect(decodeWatchWeightsFast(progress)).toBeUndefined();
    expect(decodeWatchWeightsResponse(progress)).toStrictEqual(fromBinary(WatchWeightsResponseSchema, progress));

    // An unknown field (99, varint 1) after a canonical delta: the library keeps it in $unknown.
    const withUnknown = Uint8Array.from([...toBinary(WatchWeightsResponseSchema, delta), 0x98, 0x06, 0x01]);
    expect(decodeWatchWeightsFast(withUnknown)).toBeUndefined();
    expect(decodeWatchWeightsResponse(withUnknown)).toStrictEqual(fromBinary(WatchWeightsResponseSchema, withUnknown));

    // A NodeWeight whose terms come twice: protobuf merges the two, the fast path leaves that to the library.
    const terms = toBinary(WeightTermsSchema, create(WeightTermsSchema, { capacityRps: 5 }));
    const nodeWeight = [0x22, terms.length, ...terms, 0x22, 2, 0x38, 0x01];
    const body = [0x1a, nodeWeight.length, ...nodeWeight];
    const merged = Uint8Array.from([0x1a, body.length, ...body]);
    expect(decodeWatchWeightsFast(merged)).toBeUndefined();
    const w = (decodeWatchWeightsResponse(merged).kind.value as { upserted: { terms: { capacityRps: number; probersUp: number } }[] }).upserted[0]!;
    expect([w.terms.capacityRps, w.terms.probersUp]).toEqual([5, 1]);

    // Truncated inside a weight: both refuse (the library's own error reaches the stream).
    const truncated = toBinary(WatchWeightsResponseSchema, snapshot).subarray(0, 40);
    expect(decodeWatchWeightsFast(truncated)).toBeUndefined();
    expect(() => decodeWatchWeightsResponse(truncated)).toThrow();
  });
});

// proto/cdn/sched/v1/weight_calculator.proto and stream.proto
const weightTerms: FuzzSchema = { 1: 'double', 2: 'double', 3: 'double', 4: 'double', 5: 'double', 6: 'double', 7: 'uint32', 8: 'uint32' };
const nodeWeight: FuzzSchema = { 1: 'string', 2: 'double', 3: 'int32', 4: { message: weightTerms }, 5: 'int64' };
const tierCapacity: FuzzSchema = { 1: 'string', 2: 'int32', 3: 'string', 4: 'double', 5: 'double' };
const weightSnapshot: FuzzSchema = { 1: 'uint64', 2: { message: nodeWeight, repeated: true }, 3: { message: tierCapacity, repeated: true }, 4: 'string', 5: 'bool' };
const weightDelta: FuzzSchema = { 1: 'uint64', 2: 'uint64', 3: { message: nodeWeight, repeated: true }, 4: 'string', 5: { message: tierCapacity, repeated: true }, 6: 'bool' };
const progress: FuzzSchema = { 1: 'uint64', 2: 'int32', 3: 'int64' };
const response: FuzzSchema = { 1: 'string', 2: { message: weightSnapshot }, 3: { message: weightDelta }, 4: { message: progress }, 5: 'string' };

const CASES = Number(process.env['FUZZ_CASES'] ?? 30_000);
const SEED = Number(process.env['FUZZ_SEED'] ?? 20_261_203);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** `payload` as the one kind field (`field`) of a WatchWeightsResponse, after an epoch. */
function wrap(field: number, payload: Uint8Array): Uint8Array {
  const length: number[] = [];
  for (let n = payload.length; ; n >>>= 7) {
    if (n < 0x80) {
      length.push(n);
      break;
    }
    length.push((n & 0x7f) | 0x80);
  }
  return Uint8Array.from([0x0a, 0x01, 0x65, (field << 3) | 2, ...length, ...payload]);
}

describe(`WatchWeightsResponse wire decoder vs fromBinary (${CASES} seeded cases, seed ${SEED})`, () => {
  it('whatever the fast path accepts, fromBinary accepts with a strictly equal message', () => {
    const rng = createSeededRandom(SEED);
    const tally = { fastAccepts: 0, fastDeclines: 0, oracleRefuses: 0, validFramesAccepted: 0, validFrames: 0 };
    for (let i = 0; i < CASES; i++) {
      const faults: Set<Fault> = pickFaults(rng);
      // A third whole random responses; the rest one snapshot or delta, where the weights are.
      const shape = i % 3;
      const bytes = shape === 0 ? fuzzFrame(response, rng, faults) : wrap(shape === 1 ? 2 : 3, fuzzFrame(shape === 1 ? weightSnapshot : weightDelta, rng, faults));
      let oracle: WatchWeightsResponse | undefined;
      try {
        oracle = fromBinary(WatchWeightsResponseSchema, bytes);
      } catch {
        oracle = undefined;
      }
      const fast = decodeWatchWeightsFast(bytes);
      const where = `case ${i} [${[...faults].join(',')}] ${hex(bytes)}`;
      if (oracle === undefined) tally.oracleRefuses++;
      if (fast === undefined) {
        tally.fastDeclines++;
      } else {
        if (oracle === undefined) throw new Error(`${where}: the fast path accepted what fromBinary refuses`);
        expect(fast, where).toStrictEqual(oracle);
        tally.fastAccepts++;
      }
      if (faults.size === 0 && shape !== 0) {
        tally.validFrames++;
        if (fast !== undefined) tally.validFramesAccepted++;
      }
    }
    console.log(`WatchWeightsResponse fuzz: ${JSON.stringify(tally)}`);
    expect(tally.fastAccepts).toBeGreaterThan(CASES / 10);
    expect(tally.oracleRefuses).toBeGreaterThan(CASES / 10);
    // Valid snapshot and delta frames decline only for a singular message field given twice (terms).
    expect(tally.validFramesAccepted).toBeGreaterThan(tally.validFrames / 2);
  }, 600_000);
});
