import { create } from '@bufbuild/protobuf';
import { Health, NodeWeightSchema, UpstreamHealthSchema, WeightTermsSchema, type NodeWeight } from '@cdn-sched/proto';
import { describe, expect, it } from 'vitest';
import { createWeightsEncoder, decodeWeightsMessage, leanWeight, weightEntryKey, type WeightEntry } from './weights-codec.js';

const upstream = () => create(UpstreamHealthSchema, { healthy: true });

function weight(nodeId: string, w: number): NodeWeight {
  return create(NodeWeightSchema, {
    nodeId,
    weight: w,
    health: Health.UP,
    terms: create(WeightTermsSchema, { capacityRps: 1000, rttEwmaMs: 20, ramp: 0.4, targetWeight: 1000 }),
    updatedAtMs: 1_700_000_000_123n,
  });
}

describe('weights codec, lean streams', () => {
  const a = weight('a', 400);
  const b = weight('b', 250);
  const entries = new Map<string, WeightEntry>([
    [weightEntryKey('a'), { kind: 'weight', weight: a }],
    [weightEntryKey('b'), { kind: 'weight', weight: b }],
  ]);

  it('sends the same snapshot and delta without the terms, and leaves the published weights whole', () => {
    const full = createWeightsEncoder('e1', upstream);
    const lean = createWeightsEncoder('e1', upstream, undefined, undefined, true);
    const decode = (m: ReturnType<typeof full.delta>) => (Array.isArray(m) ? m : [m]).map(decodeWeightsMessage);
    const [fullSnap] = decode(full.snapshot(3, entries, 'first connect'));
    const [leanSnap] = decode(lean.snapshot(3, entries, 'first connect'));
    if (fullSnap?.kind !== 'snapshot' || leanSnap?.kind !== 'snapshot') throw new Error('expected snapshots');
    const strip = (e: WeightEntry | undefined) => (e?.kind === 'weight' ? { ...e.weight, terms: undefined } : e);
    const leanEntries = [...leanSnap.entries];
    expect(leanEntries.map(([k, e]) => [k, strip(e)])).toEqual([...fullSnap.entries].map(([k, e]) => [k, strip(e)]));
    const leanWeights = leanEntries.flatMap(([, e]) => (e.kind === 'weight' ? [e.weight] : []));
    expect(leanWeights.map((w) => [w.nodeId, w.weight, w.terms])).toEqual([['a', 400, undefined], ['b', 250, undefined]]);

    const changes = [{ key: weightEntryKey('b'), value: entries.get(weightEntryKey('b')) }, { key: weightEntryKey('c'), value: undefined }];
    const [leanDelta] = decode(lean.delta(3, 4, changes));
    if (leanDelta?.kind !== 'delta') throw new Error('expected a delta');
    expect(leanDelta.changes).toEqual([
      { key: weightEntryKey('b'), value: { kind: 'weight', weight: { ...b, terms: undefined } } },
      { key: weightEntryKey('c'), value: undefined },
    ]);
    // The store's weights keep their terms for the streams that want them.
    expect(a.terms?.ramp).toBe(0.4);
    expect(b.terms?.targetWeight).toBe(1000);
  });

  it('makes one lean copy per published weight, shared by every lean stream', () => {
    expect(leanWeight(a)).toBe(leanWeight(a));
    expect(leanWeight(a)).not.toBe(a);
    const bare = leanWeight(a);
    expect(leanWeight(bare)).toBe(bare);
  });
});
