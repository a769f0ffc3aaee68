import { describe, expect, it } from 'vitest';
import { createPacketCache, queryHash } from './packet-cache.js';

const NONE = { first: 0, stride: 0, count: 0 };

const packet = (id: number, ...rest: number[]): Uint8Array => Uint8Array.from([id >> 8, id & 0xff, ...rest]);

describe('packet cache', () => {
  it('finds a stored query under any ID, not a query differing in any other byte or in length', () => {
    const cache = createPacketCache<string>(8);
    cache.store(packet(1, 1, 0, 0, 1, 3, 0x61), Uint8Array.from([0, 1, 0x84, 0, 9, 9]), NONE, 60, 1, 'a');
    expect(cache.find(packet(0xbeef, 1, 0, 0, 1, 3, 0x61))?.state).toBe('a');
    expect(cache.find(packet(1, 1, 0, 0, 1, 3, 0x62))).toBeUndefined();
    expect(cache.find(packet(1, 0, 0, 0, 1, 3, 0x61))).toBeUndefined();
    expect(cache.find(packet(1, 1, 0, 0, 1, 3))).toBeUndefined();
    expect(cache.find(packet(1, 1, 0, 0, 1, 3, 0x61, 0))).toBeUndefined();
    expect(cache.size).toBe(1);
  });

  it('keeps copies: the caller may reuse its query and reply buffers', () => {
    const cache = createPacketCache<number>(8);
    const q = packet(7, 5, 5, 5);
    const reply = Uint8Array.from([0, 7, 0x84, 0, 1, 2, 3, 4]);
    cache.store(q, reply, NONE, 60, 1, 0);
    q[3] = 6;
    reply[4] = 0xff;
    const e = cache.find(packet(9, 5, 5, 5))!;
    expect([...cache.replyTo(e, 9, 60)]).toEqual([0, 9, 0x84, 0, 1, 2, 3, 4]);
  });

  it('writes the ID and the TTL at every place of the layout, into a new buffer each time', () => {
    const cache = createPacketCache<number>(8);
    const reply = new Uint8Array(20).fill(0xaa);
    cache.store(packet(1, 2), reply, { first: 4, stride: 8, count: 2 }, 300, 1, 0);
    const e = cache.find(packet(2, 2))!;
    const a = cache.replyTo(e, 0x1234, 0x01020304);
    const b = cache.replyTo(e, 0xfffe, 59);
    expect([...a]).toEqual([0x12, 0x34, 0xaa, 0xaa, 1, 2, 3, 4, 0xaa, 0xaa, 0xaa, 0xaa, 1, 2, 3, 4, 0xaa, 0xaa, 0xaa, 0xaa]);
    expect([...b.subarray(0, 8)]).toEqual([0xff, 0xfe, 0xaa, 0xaa, 0, 0, 0, 59]);
    expect(a[1]).toBe(0x34);
    expect([...e.bytes.subarray(e.queryLength)]).toEqual([...reply]);
  });

  it('holds at most maxEntries, dropping the oldest stored first; storing a query again makes it the newest', () => {
    const cache = createPacketCache<number>(3);
    for (const k of [1, 2, 3]) cache.store(packet(0, k), Uint8Array.of(k), NONE, 60, 1, k);
    cache.store(packet(0, 1), Uint8Array.of(11), NONE, 60, 1, 11); // 1 again: now 2, 3, 1
    cache.store(packet(0, 4), Uint8Array.of(4), NONE, 60, 1, 4); // drops 2
    expect(cache.find(packet(0, 2))).toBeUndefined();
    expect([1, 3, 4].map((k) => cache.find(packet(0, k))?.state)).toEqual([11, 3, 4]);
    cache.store(packet(0, 5), Uint8Array.of(5), NONE, 60, 1, 5); // drops 3
    cache.store(packet(0, 6), Uint8Array.of(6), NONE, 60, 1, 6); // drops 1
    expect([1, 3, 4, 5, 6].map((k) => cache.find(packet(0, k))?.state)).toEqual([undefined, undefined, 4, 5, 6]);
    expect(cache.size).toBe(3);
    // Many more stores than room: never more than maxEntries.
    for (let k = 0; k < 1000; k++) cache.store(packet(0, k >> 8, k & 0xff, 7), Uint8Array.of(1), NONE, 60, 1, k);
    expect(cache.size).toBe(3);
    expect(cache.find(packet(0, 999 >> 8, 999 & 0xff, 7))?.state).toBe(999);
  });

  it('answers a query that collides with a stored one by hash only when the bytes are equal', () => {
    // Two different 8-byte queries with one FNV-1a hash: a birthday search over seeded random
    // bytes (deterministic; ~80 k draws expected for 32 bits).
    let seed = 12345;
    const draw = (): Uint8Array => {
      const p = new Uint8Array(10);
      for (let i = 2; i < 10; i++) p[i] = (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24;
      return p;
    };
    const seen = new Map<number, Uint8Array>();
    let pair: [Uint8Array, Uint8Array] | undefined;
    for (let i = 0; i < 4_000_000 && !pair; i++) {
      const p = draw();
      const other = seen.get(queryHash(p));
      if (other !== undefined && other.some((b, j) => b !== p[j])) pair = [other, p];
      else seen.set(queryHash(p), p);
    }
    expect(pair).toBeDefined();
    const [px, py] = pair!;
    const cache = createPacketCache<string>(8);
    cache.store(px, Uint8Array.of(1), NONE, 60, 1, 'x');
    expect(cache.find(py)).toBeUndefined();
    cache.store(py, Uint8Array.of(2), NONE, 60, 1, 'y');
    expect(cache.find(py)?.state).toBe('y');
    expect(cache.find(px)).toBeUndefined();
  });

  it('stores nothing with maxEntries 0, and clear() empties it', () => {
    const off = createPacketCache<number>(0);
    off.store(packet(0, 1), Uint8Array.of(1), NONE, 60, 1, 1);
    expect(off.find(packet(0, 1))).toBeUndefined();
    expect(off.size).toBe(0);
    const cache = createPacketCache<number>(4);
    cache.store(packet(0, 1), Uint8Array.of(1), NONE, 60, 1, 1);
    cache.clear();
    expect(cache.find(packet(0, 1))).toBeUndefined();
    cache.store(packet(0, 2), Uint8Array.of(1), NONE, 60, 1, 2);
    expect(cache.size).toBe(1);
  });
});
