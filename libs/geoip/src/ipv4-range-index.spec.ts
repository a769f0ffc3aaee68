import { describe, expect, it } from 'vitest';
import { createSeededU32 } from '@cdn-sched/testing';
import { createIpv4RangeIndexBuilder } from './ipv4-range-index.js';
import { cidrPrefixLenV4, parseIpv4 } from './ipv4.js';

const ip = parseIpv4;

/** Random contiguous ranges over the whole space, with ids drawn from `idCount` values. */
function randomRanges(seed: number, count: number, idCount: number): Array<[number, number, number]> {
  const next = createSeededU32(seed);
  const cuts = new Set<number>();
  while (cuts.size < count - 1) cuts.add(1 + (next() % 0xfffffffe));
  const starts = [0, ...[...cuts].sort((a, b) => a - b)];
  return starts.map((start, i) => [start, i + 1 < starts.length ? starts[i + 1]! - 1 : 0xffffffff, (next() % (idCount + 1)) - 1]);
}

/** Reference search without buckets: the last range starting at or before `probe`. */
function containing(ranges: ReadonlyArray<[number, number, number]>, probe: number): [number, number, number] {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (ranges[mid]![0] <= probe) lo = mid;
    else hi = mid - 1;
  }
  const range = ranges[lo]!;
  if (probe < range[0] || probe > range[1]) throw new Error('reference ranges do not tile the space');
  return range;
}

describe('Ipv4RangeIndex', () => {
  it('answers the location of each range, gaps included', () => {
    const builder = createIpv4RangeIndexBuilder();
    expect(builder.add(ip('1.0.0.0'), ip('1.0.0.255'), 0)).toBeUndefined();
    expect(builder.add(ip('1.0.1.0'), ip('1.0.3.255'), 1)).toBeUndefined();
    expect(builder.add(ip('2.0.0.0'), ip('2.0.0.0'), 2)).toBeUndefined();
    const index = builder.build();
    expect(index.lookup(0)).toBe(-1);
    expect(index.lookup(ip('0.255.255.255'))).toBe(-1);
    expect(index.lookup(ip('1.0.0.0'))).toBe(0);
    expect(index.lookup(ip('1.0.0.255'))).toBe(0);
    expect(index.lookup(ip('1.0.1.0'))).toBe(1);
    expect(index.lookup(ip('1.0.3.255'))).toBe(1);
    expect(index.lookup(ip('1.0.4.0'))).toBe(-1);
    expect(index.lookup(ip('2.0.0.0'))).toBe(2);
    expect(index.lookup(ip('2.0.0.1'))).toBe(-1);
    expect(index.lookup(0xffffffff)).toBe(-1);
    // A signed 32-bit value (what `|` and `<<` produce) is read as its u32.
    expect(index.lookup(ip('2.0.0.0') | 0)).toBe(2);
  });

  it('merges neighbours with the same location, and the prefix length spans the merged block', () => {
    const builder = createIpv4RangeIndexBuilder();
    builder.add(ip('10.0.0.0'), ip('10.0.127.255'), 5);
    builder.add(ip('10.0.128.0'), ip('10.0.255.255'), 5);
    builder.add(ip('10.1.0.0'), ip('10.1.0.255'), 6);
    const index = builder.build();
    // gap before, one merged range, one range, gap after.
    expect(index.rangeCount).toBe(4);
    expect(builder.addedCount).toBe(3);
    expect(index.prefixLen(ip('10.0.200.1'))).toBe(16);
    expect(index.prefixLen(ip('10.1.0.9'))).toBe(24);
    expect(index.rangeStart(index.rangeIndexOf(ip('10.0.5.5')))).toBe(ip('10.0.0.0'));
    expect(index.rangeEnd(index.rangeIndexOf(ip('10.0.5.5')))).toBe(ip('10.0.255.255'));
  });

  it('refuses unsorted, overlapping, inverted and out-of-range input without changing state', () => {
    const builder = createIpv4RangeIndexBuilder();
    builder.add(100, 200, 0);
    expect(builder.add(150, 300, 1)).toMatch(/overlaps/);
    expect(builder.add(50, 60, 1)).toMatch(/overlaps or precedes/);
    expect(builder.add(400, 300, 1)).toMatch(/after its end/);
    expect(builder.add(-1, 300, 1)).toMatch(/IPv4 addresses/);
    expect(builder.add(300, 2 ** 32, 1)).toMatch(/IPv4 addresses/);
    expect(builder.add(300, 400, 1.5)).toMatch(/location id/);
    expect(builder.coveredUpTo).toBe(200);
    expect(builder.addedCount).toBe(1);
    const index = builder.build();
    expect(index.lookup(150)).toBe(0);
    expect(index.lookup(201)).toBe(-1);
    expect(builder.add(300, 400, 1)).toMatch(/already built/);
    expect(() => builder.build()).toThrow(/twice/);
  });

  it('stores ids in the narrowest typed array', () => {
    const bytesFor = (maxId: number): number => {
      const builder = createIpv4RangeIndexBuilder();
      builder.add(0, 0xffffffff, maxId);
      return builder.build().byteLength;
    };
    const buckets = 65537 * 4;
    // One range: 4 bytes of start + id width.
    expect(bytesFor(254)).toBe(buckets + 4 + 1);
    expect(bytesFor(255)).toBe(buckets + 4 + 2);
    expect(bytesFor(65534)).toBe(buckets + 4 + 2);
    expect(bytesFor(65535)).toBe(buckets + 4 + 4);
    const builder = createIpv4RangeIndexBuilder();
    builder.add(0, 0xffffffff, 70000);
    expect(builder.build().lookup(12345)).toBe(70000);
  });

  it('treats an empty builder as "no location anywhere"', () => {
    const index = createIpv4RangeIndexBuilder().build();
    expect(index.lookup(0)).toBe(-1);
    expect(index.lookup(0xffffffff)).toBe(-1);
    expect(index.prefixLen(12345)).toBe(0);
  });

  it('agrees with a plain binary search on random ranges (bucket edges included)', () => {
    for (const [seed, count, ids] of [
      [1, 50, 3],
      [2, 5_000, 40],
      [3, 200_000, 300],
    ] as const) {
      const ranges = randomRanges(seed, count, ids);
      const builder = createIpv4RangeIndexBuilder({ initialCapacity: 16 });
      const problems = ranges.map(([start, end, id]) => builder.add(start, end, id)).filter((p) => p !== undefined);
      expect(problems).toEqual([]);
      const index = builder.build();
      // Reference: merge equal neighbours the same way, then scan.
      const merged: Array<[number, number, number]> = [];
      for (const r of ranges) {
        const last = merged[merged.length - 1];
        if (last !== undefined && last[2] === r[2]) last[1] = r[1];
        else merged.push([...r]);
      }
      expect(index.rangeCount).toBe(merged.length);
      const next = createSeededU32(seed + 100);
      const probes: number[] = [];
      for (let i = 0; i < 2_000; i++) probes.push(next());
      for (const [start, end] of ranges.slice(0, 2_000)) probes.push(start, end);
      for (let h = 0; h < 65536; h += 97) probes.push(h * 65536, h * 65536 + 65535);
      const mismatches: string[] = [];
      for (const probe of probes) {
        const range = containing(merged, probe);
        const got = [index.lookup(probe), index.prefixLen(probe)];
        const want = [range[2], cidrPrefixLenV4(probe, range[0], range[1])];
        if (got[0] !== want[0] || got[1] !== want[1]) mismatches.push(`${probe}: got ${got}, want ${want}`);
      }
      expect(mismatches.slice(0, 5)).toEqual([]);
    }
  });
});
