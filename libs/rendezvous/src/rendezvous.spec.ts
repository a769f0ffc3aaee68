import { describe, expect, it } from 'vitest';
import { hashString, hashU32, rendezvousOwners, topK, weightedScore } from './index.js';

const members = Array.from({ length: 10 }, (_, i) => `node-${i}`);
const memberHashes = members.map(hashString);

describe('rendezvous hashing', () => {
  it('is deterministic and returns distinct owners, best first', () => {
    const a = rendezvousOwners('edge-42', members, 3);
    expect(a).toHaveLength(3);
    expect(new Set(a).size).toBe(3);
    expect(rendezvousOwners('edge-42', members, 3)).toEqual(a);
    expect(rendezvousOwners('edge-42', [...members].reverse(), 3)).toEqual(a);
  });

  it('removing one of N members moves only the keys it owned (about 1/N)', () => {
    const keys = Array.from({ length: 20000 }, (_, i) => hashU32(i << 8));
    const out = new Int32Array(1);
    const before = keys.map((k) => (topK(k, memberHashes, null, 1, out), members[out[0]!]));
    const rest = members.filter((m) => m !== 'node-3');
    const restHashes = rest.map(hashString);
    let moved = 0;
    keys.forEach((k, i) => {
      topK(k, restHashes, null, 1, out);
      const after = rest[out[0]!];
      if (after !== before[i]) {
        moved++;
        expect(before[i]).toBe('node-3');
      }
    });
    expect(moved / keys.length).toBeGreaterThan(0.08);
    expect(moved / keys.length).toBeLessThan(0.12);
  });

  it('weighted picks are proportional to weight (chi-square)', () => {
    const weights = [1, 2, 3, 4];
    const hashes = ['a', 'b', 'c', 'd'].map(hashString);
    const counts = [0, 0, 0, 0];
    const out = new Int32Array(1);
    const n = 100000;
    for (let i = 0; i < n; i++) {
      topK(hashU32(i), hashes, weights, 1, out);
      counts[out[0]!]!++;
    }
    const total = weights.reduce((a, b) => a + b, 0);
    const chi2 = counts.reduce((acc, c, i) => {
      const expected = (n * weights[i]!) / total;
      return acc + (c - expected) ** 2 / expected;
    }, 0);
    // 3 degrees of freedom: p = 0.001 critical value is 16.27.
    expect(chi2).toBeLessThan(16.27);
  });

  it('never picks a member of weight 0 and reports fewer than k when needed', () => {
    const out = new Int32Array(4);
    const n = topK(hashU32(7), memberHashes.slice(0, 4), [0, 1, 0, 2], 4, out);
    expect(n).toBe(2);
    expect([...out.subarray(0, n)].sort()).toEqual([1, 3]);
    expect(weightedScore(1, 2, 0)).toBe(-Infinity);
    expect(weightedScore(1, 2, Number.NaN)).toBe(-Infinity);
  });
});
