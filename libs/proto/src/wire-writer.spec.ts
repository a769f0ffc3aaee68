import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { describe, expect, it } from 'vitest';
import { createWireWriter, type WireWriter } from './wire-writer.js';

/** xorshift32 over a one-element state that a test can save and rewind. */
const createRng = (seed: number): Int32Array => Int32Array.of(seed | 0 || 0x2545f491);
function nextU32(state: Int32Array): number {
  let x = state[0]!;
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  state[0] = x;
  return x >>> 0;
}

/** The same calls on both writers; the reference is protobuf-es's own BinaryWriter. */
type Op = (w: WireWriter | BinaryWriter) => void;

function both(ops: Op[], initialBytes = 64): [Uint8Array, Uint8Array] {
  const mine = createWireWriter(initialBytes);
  const ref = new BinaryWriter();
  for (const op of ops) {
    op(mine);
    op(ref);
  }
  return [mine.finish(), ref.finish()];
}

describe('WireWriter', () => {
  it('writes varints like BinaryWriter at every length boundary', () => {
    const u32 = [0, 1, 127, 128, 16_383, 16_384, 2 ** 21 - 1, 2 ** 21, 2 ** 28 - 1, 2 ** 28, 2 ** 32 - 1];
    const i32 = [0, 1, -1, -128, 2 ** 31 - 1, -(2 ** 31)];
    const u64 = [0n, 1n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 35n + 5n, 2n ** 49n, 2n ** 56n - 1n, 2n ** 63n, 2n ** 64n - 1n];
    const ops: Op[] = [
      ...u32.map((v): Op => (w) => w.tag(1, WireType.Varint).uint32(v)),
      ...i32.map((v): Op => (w) => w.tag(2, WireType.Varint).int32(v)),
      ...u64.map((v): Op => (w) => w.tag(3, WireType.Varint).uint64(v)),
      (w) => w.tag(536_870_911, WireType.Varint).bool(true),
      (w) => w.tag(4, WireType.Varint).bool(false),
    ];
    const [mine, ref] = both(ops);
    expect(mine).toEqual(ref);
  });

  it('writes strings as UTF-8 like BinaryWriter: ASCII, long, non-ASCII, astral and lone surrogates', () => {
    const strings = ['', 'edge-1', 'x'.repeat(127), 'x'.repeat(128), 'y'.repeat(70_000), '广东电信', 'ascii then 电信', '😀 ok', 'lone \ud800 surrogate', 'é'.repeat(100)];
    const [mine, ref] = both(strings.map((s): Op => (w) => w.tag(5, WireType.LengthDelimited).string(s)));
    expect(mine).toEqual(ref);
  });

  it('copies raw byte ranges (short ones by loop, long ones by set) like BinaryWriter.raw of the same bytes', () => {
    const source = Uint8Array.from({ length: 300 }, (_, i) => (i * 37 + 11) & 0xff);
    const ranges: [number, number][] = [[0, 0], [5, 1], [10, 63], [7, 64], [3, 65], [0, 300], [299, 1], [100, 200]];
    const mine = createWireWriter(64);
    const ref = new BinaryWriter();
    for (const [start, length] of ranges) {
      mine.tag(1, WireType.Varint).uint32(length).raw(source, start, length);
      ref.tag(1, WireType.Varint).uint32(length).raw(source.subarray(start, start + length));
    }
    expect(mine.finish()).toEqual(ref.finish());
  });

  it('copies ranges from a DataView (four bytes at a time, then the rest) like raw, at every alignment and across buffer growth', () => {
    const source = Uint8Array.from({ length: 300 }, (_, i) => (i * 37 + 11) & 0xff);
    const view = new DataView(source.buffer);
    // A 64-byte writer grows several times; odd prefixes put the copies at every offset mod 4.
    const mine = createWireWriter(64);
    const ref = createWireWriter(64);
    for (let length = 0; length <= 41; length++) {
      for (const start of [0, 1, 2, 3, 259 - length]) {
        mine.tag(1, WireType.Varint).uint32(length).rawFrom(view, start, length);
        ref.tag(1, WireType.Varint).uint32(length).raw(source, start, length);
      }
    }
    const bytes = mine.finish();
    expect(bytes).toEqual(ref.finish());
    expect(bytes.length).toBeGreaterThan(4000);
  });

  it('claims ranges that the caller writes in place, between ordinary fields and across buffer growth', () => {
    const mine = createWireWriter(64);
    const ref = new BinaryWriter();
    for (let length = 0; length <= 70; length += 7) {
      mine.tag(2, WireType.Varint).uint32(length);
      ref.tag(2, WireType.Varint).uint32(length);
      // A bytes field written by hand: tag, one-byte length, then the bytes.
      const at = mine.claim(2 + length);
      const b = mine.bytes;
      b[at] = (3 << 3) | WireType.LengthDelimited;
      b[at + 1] = length;
      for (let i = 0; i < length; i++) b[at + 2 + i] = (length + i) & 0xff;
      ref.tag(3, WireType.LengthDelimited).bytes(Uint8Array.from({ length }, (_, i) => (length + i) & 0xff));
    }
    const bytes = mine.finish();
    expect(bytes).toEqual(ref.finish());
    expect(bytes.length).toBeGreaterThan(64 * 4);
  });

  it('length-prefixes nested messages of every varint length size, nested three deep', () => {
    const ops: Op[] = [];
    for (const size of [0, 1, 125, 126, 127, 128, 129, 16_380, 16_384, 2 ** 21 + 3]) {
      ops.push((w) => w.tag(1, WireType.LengthDelimited).fork());
      ops.push((w) => w.tag(2, WireType.LengthDelimited).fork().tag(3, WireType.Varint).uint32(size).join());
      ops.push((w) => w.tag(4, WireType.LengthDelimited).fork().tag(5, WireType.LengthDelimited).string('z'.repeat(size)).join());
      ops.push((w) => w.join());
    }
    const [mine, ref] = both(ops, 64);
    // Megabytes: compare as buffers (an element-wise toEqual takes seconds).
    expect(mine.length).toBe(ref.length);
    expect(Buffer.compare(mine, ref)).toBe(0);
  });

  it('matches BinaryWriter on random field sequences, and is reusable after finish()', () => {
    const rng = createRng(11);
    const rand = (n: number): number => nextU32(rng) % n;
    const mine = createWireWriter(64);
    for (let round = 0; round < 200; round++) {
      const ref = new BinaryWriter();
      let depth = 0;
      for (let i = 0; i < 40; i++) {
        const kind = rand(6);
        const op: Op =
          kind === 0
            ? (w) => w.tag(1 + rand(20), WireType.Varint).uint32(nextU32(rng))
            : kind === 1
              ? (w) => w.tag(2, WireType.Varint).uint64(BigInt(nextU32(rng)) * BigInt(1 + rand(2 ** 20)))
              : kind === 2
                ? (w) => w.tag(3, WireType.LengthDelimited).string(rand(4) === 0 ? '电信'.repeat(rand(50)) : 'a'.repeat(rand(300)))
                : kind === 3 || depth === 0
                  ? (depth++, (w) => w.tag(4, WireType.LengthDelimited).fork())
                  : (depth--, (w) => w.join());
        // The same random draws drive both writers: run op once per writer with the rng rewound.
        const saved = rng[0]!;
        op(mine);
        rng[0] = saved;
        op(ref);
      }
      for (; depth > 0; depth--) {
        mine.join();
        ref.join();
      }
      expect(mine.finish()).toEqual(ref.finish());
    }
  });

  it('finishes into copies that later messages do not touch: small ones cut from the Buffer pool, large ones their own', () => {
    const w = createWireWriter(64);
    const small = Buffer.poolSize >>> 2;
    const large = Buffer.poolSize;
    const made: Array<{ out: Uint8Array; fill: number; size: number }> = [];
    for (let i = 0; i < 40; i++) {
      const size = i % 5 === 4 ? large : small - (i % 7);
      const fill = i + 1;
      w.raw(new Uint8Array(size).fill(fill), 0, size);
      made.push({ out: w.finish(), fill, size });
    }
    // Every copy still holds its own bytes after the writer and the pool moved on.
    expect(made.filter(({ out, fill, size }) => out.length !== size || out.some((b) => b !== fill)).length).toBe(0);
    // Plain Uint8Arrays (Uint8Array's `slice` copies; a Buffer's would not).
    expect(made.every(({ out }) => Object.getPrototypeOf(out) === Uint8Array.prototype)).toBe(true);
    // Small copies share pools (several to an ArrayBuffer); a copy of half the pool size or more gets its own.
    const smallOnes = made.filter(({ size }) => size < large);
    expect(new Set(smallOnes.map(({ out }) => out.buffer)).size).toBeLessThan(smallOnes.length);
    expect(made.filter(({ size }) => size === large).every(({ out }) => out.byteOffset === 0 && out.buffer.byteLength === large)).toBe(true);
  });

  it('refuses to finish with a fork open and to join without one', () => {
    const w = createWireWriter();
    expect(() => w.join()).toThrow(/without a fork/);
    w.tag(1, WireType.LengthDelimited).fork();
    expect(() => w.finish()).toThrow(/1 fork\(s\) open/);
  });

  describe('buffer size', () => {
    /** A batch of `n` decision-sized messages (~60 bytes each). */
    const batch = (w: WireWriter, n: number): Uint8Array => {
      for (let i = 0; i < n; i++) {
        w.tag(1, WireType.LengthDelimited).fork();
        w.tag(1, WireType.Varint).uint64(BigInt(i));
        w.tag(2, WireType.LengthDelimited).fork().tag(1, WireType.LengthDelimited).string('gd-ct-1').tag(2, WireType.LengthDelimited).string('192.0.2.11');
        w.tag(3, WireType.Varint).uint32(443).tag(4, WireType.Varint).uint32(60).join();
        w.tag(5, WireType.LengthDelimited).string('isp+region CN-GD|ct: 2 healthy of 2');
        w.join();
      }
      return w.finish();
    };

    it('grows for a large batch and shrinks back to its base size after eight small ones', () => {
      const w = createWireWriter(16 * 1024);
      expect(w.capacityBytes).toBe(16 * 1024);
      const large = batch(w, 5000);
      expect(large.length).toBeGreaterThan(256 * 1024);
      const grown = w.capacityBytes;
      expect(grown).toBeGreaterThanOrEqual(large.length);
      // Seven small batches keep the grown buffer (a burst of large ones must not regrow it each time).
      for (let i = 0; i < 7; i++) batch(w, 10);
      expect(w.capacityBytes).toBe(grown);
      batch(w, 10);
      expect(w.capacityBytes).toBe(16 * 1024);
      // Still correct after shrinking.
      const ref = createWireWriter(16 * 1024);
      expect(batch(w, 300)).toEqual(batch(ref, 300));
    });

    it('keeps the size of the recent batches: shrinks to twice the largest of them, not below what they need', () => {
      const w = createWireWriter(16 * 1024);
      batch(w, 5000);
      const grown = w.capacityBytes;
      let peak = 0;
      for (let i = 0; i < 8; i++) peak = Math.max(peak, batch(w, 400 + i).length);
      expect(peak).toBeGreaterThan(16 * 1024);
      expect(w.capacityBytes).toBeLessThan(grown);
      expect(w.capacityBytes).toBeGreaterThanOrEqual(2 * peak);
      expect(w.capacityBytes).toBeLessThanOrEqual(4 * peak);
    });

    it('does not shrink while large batches keep coming between small ones', () => {
      const w = createWireWriter(16 * 1024);
      batch(w, 5000);
      const grown = w.capacityBytes;
      for (let round = 0; round < 5; round++) {
        for (let i = 0; i < 7; i++) batch(w, 10);
        batch(w, 5000);
      }
      expect(w.capacityBytes).toBe(grown);
    });

    it('reset() drops a half-written batch (an encode that threw) so the next one starts clean', () => {
      const w = createWireWriter();
      w.tag(1, WireType.LengthDelimited).fork().tag(1, WireType.Varint).uint32(5);
      w.reset();
      w.tag(2, WireType.Varint).uint32(7);
      expect(w.finish()).toEqual(new Uint8Array([0x10, 7]));
    });
  });
});
