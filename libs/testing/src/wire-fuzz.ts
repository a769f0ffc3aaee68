/**
 * Seeded generator of protobuf frames for fuzzing hand-written decoders against the reflective one:
 * valid messages built from a small schema description, and the malformations a decoder must not
 * mistake for valid input (protobuf encoding: https://protobuf.dev/programming-guides/encoding/).
 */

import { createSeededU32 } from './seeded-uniform.js';

/** Field kinds the generator knows. */
export type FuzzFieldKind = 'uint64' | 'int64' | 'uint32' | 'int32' | 'bool' | 'double' | 'string' | { message: FuzzSchema; repeated?: boolean };

/** A message: field number → kind. */
export type FuzzSchema = Record<number, FuzzFieldKind>;

/** The faults one frame may contain (several can combine). */
export type Fault = 'truncate' | 'overlong-varint' | 'padded-varint' | 'length-past-end' | 'nested-past-parent' | 'wrong-wire-type' | 'unknown-field' | 'group' | 'flip-byte' | 'invalid-utf8';

export const ALL_FAULTS: readonly Fault[] = ['truncate', 'overlong-varint', 'padded-varint', 'length-past-end', 'nested-past-parent', 'wrong-wire-type', 'unknown-field', 'group', 'flip-byte', 'invalid-utf8'];

/** Integers, chances and picks from the tests' one seeded source ({@link createSeededU32}). */
export function createSeededRandom(seed: number): { int(n: number): number; chance(p: number): boolean; pick<T>(xs: readonly T[]): T } {
  const next = createSeededU32(seed);
  return {
    int: (n) => next() % n,
    chance: (p) => next() / 0x1_0000_0000 < p,
    pick: (xs) => xs[next() % xs.length]!,
  };
}

type Rng = ReturnType<typeof createSeededRandom>;

const STRINGS = ['', 'a', 'music.demo.example', '1.0.8.1', '10.0.0.1', '2001:db8::1', '1.2.3.0/24', '1.2.3.77/24', '0.0.0.0/0', '10.9.8.7/32', '1.2.3.0/33', '1.2.3.0/024', '2001:db8::/56', '::ffff:1.2.3.4', 'edge-1', '深圳电信', '\u{1F600}', 'x'.repeat(130), '001.2.3.4', '1.2.3', '256.1.1.1'];

function varint(value: bigint, padTo = 0): number[] {
  const out: number[] = [];
  let v = BigInt.asUintN(64, value);
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  // Non-canonical padding: continuation bytes that add zero bits.
  while (out.length < padTo) {
    out[out.length - 1]! |= 0x80;
    out.push(0);
  }
  return out;
}

const tag = (field: number, wireType: number, pad = 0): number[] => varint(BigInt((field << 3) | wireType), pad);

/** Builds one frame of `schema` with `rng`, applying each fault in `faults` where it fits. */
export function fuzzFrame(schema: FuzzSchema, rng: Rng, faults: ReadonlySet<Fault>): Uint8Array {
  const bytes = encodeMessage(schema, rng, faults, 0);
  if (faults.has('truncate') && bytes.length > 0) bytes.length = rng.int(bytes.length);
  if (faults.has('flip-byte') && bytes.length > 0) bytes[rng.int(bytes.length)] ^= 1 << rng.int(8);
  return Uint8Array.from(bytes);
}

function randomVarint(rng: Rng, kind: FuzzFieldKind): bigint {
  switch (rng.int(6)) {
    case 0:
      return 0n;
    case 1:
      return BigInt(rng.int(300));
    case 2:
      return BigInt(rng.int(0x7fffffff)) * BigInt(rng.int(0x7fffffff) + 1);
    case 3:
      return kind === 'bool' ? BigInt(rng.int(3)) : 0xffff_ffffn + BigInt(rng.int(1000));
    case 4:
      return BigInt.asUintN(64, -BigInt(rng.int(1000) + 1));
    default:
      return BigInt(rng.int(0x1_0000_0000));
  }
}

function encodeMessage(schema: FuzzSchema, rng: Rng, faults: ReadonlySet<Fault>, depth: number): number[] {
  const out: number[] = [];
  const fields = Object.entries(schema).map(([n, k]) => [Number(n), k] as const);
  const count = rng.int(depth === 0 ? 6 : 8);
  for (let i = 0; i < count; i++) {
    const [no, kind] = rng.pick(fields);
    if (faults.has('unknown-field') && rng.chance(0.2)) {
      const unknown = 20 + rng.int(10);
      const wt = rng.pick([0, 1, 2, 5]);
      out.push(...tag(unknown, wt));
      if (wt === 0) out.push(...varint(randomVarint(rng, 'uint64')));
      else if (wt === 1) out.push(...new Array<number>(8).fill(rng.int(256)));
      else if (wt === 5) out.push(...new Array<number>(4).fill(rng.int(256)));
      else out.push(...varint(2n), rng.int(256), rng.int(256));
    }
    if (faults.has('group') && rng.chance(0.1)) {
      const g = 30 + rng.int(5);
      out.push(...tag(g, 3), ...tag(1, 0), ...varint(5n), ...tag(g, 4));
    }
    if (faults.has('wrong-wire-type') && rng.chance(0.15)) {
      // A known field number with a wire type it is not declared with, and a well-formed payload of that type.
      const wt = rng.pick([0, 1, 2, 5]);
      out.push(...tag(no, wt));
      if (wt === 0) out.push(...varint(randomVarint(rng, 'uint64')));
      else if (wt === 1) for (let b = 0; b < 8; b++) out.push(rng.int(256));
      else if (wt === 5) for (let b = 0; b < 4; b++) out.push(rng.int(256));
      else out.push(...varint(3n), 0x08, 0x01, 0x10);
      continue;
    }
    const pad = faults.has('padded-varint') && rng.chance(0.3) ? 2 + rng.int(9) : 0;
    const overlong = faults.has('overlong-varint') && rng.chance(0.1) ? 11 + rng.int(3) : 0;
    if (typeof kind === 'object') {
      const inner = encodeMessage(kind.message, rng, faults, depth + 1);
      if (faults.has('nested-past-parent') && inner.length > 0 && rng.chance(0.3)) {
        // The nested message's last field declares a longer length than the message has: the
        // bytes after it (the parent's next fields) would be swallowed by a decoder that does not
        // check the nested end. Append a string field whose length runs past the nested end.
        inner.push(...tag(4, 2), ...varint(BigInt(3 + rng.int(5))), 0x61);
      }
      out.push(...tag(no, 2), ...varint(BigInt(inner.length), Math.max(pad, overlong)), ...inner);
      continue;
    }
    switch (kind) {
      case 'double':
        out.push(...tag(no, 1));
        for (let b = 0; b < 8; b++) out.push(rng.int(256));
        break;
      case 'string': {
        const text = new TextEncoder().encode(rng.pick(STRINGS));
        const body = faults.has('invalid-utf8') && rng.chance(0.2) ? [...text, 0xc3, 0x28, 0xff] : [...text];
        const declared = faults.has('length-past-end') && rng.chance(0.15) ? body.length + 1 + rng.int(20) : body.length;
        out.push(...tag(no, 2), ...varint(BigInt(declared), Math.max(pad, overlong)), ...body);
        break;
      }
      default:
        out.push(...tag(no, 0), ...varint(randomVarint(rng, kind), Math.max(pad, overlong)));
    }
  }
  return out;
}

/** A random subset of {@link ALL_FAULTS} (empty about a quarter of the time: valid frames). */
export function pickFaults(rng: Rng): Set<Fault> {
  const faults = new Set<Fault>();
  if (rng.chance(0.25)) return faults;
  for (const f of ALL_FAULTS) if (rng.chance(0.25)) faults.add(f);
  return faults;
}
