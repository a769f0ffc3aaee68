import { fromBinary } from '@bufbuild/protobuf';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import {
  AsciiInterner,
  WatchWeightsResponseSchema,
  type NodeWeight,
  type TierCapacity,
  type WatchWeightsResponse,
  type WeightDelta,
  type WeightSnapshot,
  type WeightTerms,
} from '@cdn-sched/proto';

/**
 * Decodes a WatchWeightsResponse the way `fromBinary` does, faster and with far less garbage on
 * the common messages: the snapshots and deltas of the weight stream. The reflective decoder
 * builds a reflection wrapper with two Maps and an array per decoded message, and a tag array per
 * field: one step of a whole fleet's slow start (a delta of 10 k weights) took 19 ms on the
 * resolver's event loop and left ~12 MB of garbage, about a third of what the resolver allocated
 * during the ramp; this decoder takes 3.5 ms and leaves ~2 MB, result included
 * (`npm run bench -- weights-decode`).
 *
 * The fast path takes only the canonical encoding of the fields it knows
 * (proto/cdn/sched/v1/weight_calculator.proto; encoding: https://protobuf.dev/programming-guides/encoding/),
 * each with its declared wire type, every nested message ending exactly where its length says,
 * strings valid UTF-8, each oneof member and singular message field at most once. Anything else —
 * a progress message, an unknown field, a repeated singular message (which protobuf merges),
 * malformed bytes — declines, and the message goes to `fromBinary`, which decodes it or throws its
 * own error; so a message decodes to exactly what `fromBinary` gives, or fails as it fails
 * (weights-wire.fuzz.spec.ts checks that on seeded random and mutated frames).
 */
export function decodeWatchWeightsResponse(bytes: Uint8Array): WatchWeightsResponse {
  return decodeWatchWeightsFast(bytes) ?? fromBinary(WatchWeightsResponseSchema, bytes);
}

// Node ids repeat from one version to the next: one string per id instead of a new one per weight.
// 64 Ki slots keep most ids of a 10-50 k-node fleet (a direct-mapped miss only decodes afresh).
const names = new AsciiInterner(1 << 16);
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Thrown inside the fast path when it declines; never escapes it. */
const decline = new Error('declined');
/** The bytes being decoded (the reader keeps its own reference private). */
const EMPTY = new Uint8Array(0);
let buf: Uint8Array = EMPTY;

/** The fast path alone: the decoded message, or undefined where it declines. Exported for the fuzz spec. */
export function decodeWatchWeightsFast(bytes: Uint8Array): WatchWeightsResponse | undefined {
  const r = new BinaryReader(bytes);
  buf = bytes;
  const message = { $typeName: 'cdn.sched.v1.WatchWeightsResponse', epoch: '', kind: { case: undefined }, traceparent: '' } as WatchWeightsResponse;
  let kindSeen = false;
  try {
    const end = bytes.length;
    while (r.pos < end) {
      const tag = readTag(r);
      const field = tag >>> 3;
      const wireType = tag & 7;
      if (field === 1 && wireType === WireType.LengthDelimited) message.epoch = readString(r, end);
      else if (field === 5 && wireType === WireType.LengthDelimited) message.traceparent = readString(r, end);
      else if ((field === 2 || field === 3) && wireType === WireType.LengthDelimited && !kindSeen) {
        kindSeen = true;
        const to = readLength(r, end);
        message.kind = field === 2 ? { case: 'snapshot', value: readSnapshot(r, to) } : { case: 'delta', value: readDelta(r, to) };
        expectAt(r, to);
      } else return undefined;
    }
    if (r.pos !== end) return undefined;
  } catch {
    // A decline, or the reader running off the end (truncation, a varint past 10 bytes).
    return undefined;
  } finally {
    buf = EMPTY;
  }
  return message;
}

function readSnapshot(r: BinaryReader, end: number): WeightSnapshot {
  const s = { $typeName: 'cdn.sched.v1.WeightSnapshot', version: 0n, weights: [], capacities: [], reason: '', more: false } as unknown as WeightSnapshot;
  while (r.pos < end) {
    const tag = readTag(r);
    switch (tag) {
      case (1 << 3) | WireType.Varint:
        s.version = BigInt(r.uint64());
        break;
      case (2 << 3) | WireType.LengthDelimited:
        s.weights.push(readNodeWeight(r, readLength(r, end)));
        break;
      case (3 << 3) | WireType.LengthDelimited:
        s.capacities.push(readTierCapacity(r, readLength(r, end)));
        break;
      case (4 << 3) | WireType.LengthDelimited:
        s.reason = readString(r, end);
        break;
      case (5 << 3) | WireType.Varint:
        s.more = r.bool();
        break;
      default:
        throw decline;
    }
  }
  return s;
}

function readDelta(r: BinaryReader, end: number): WeightDelta {
  const d = { $typeName: 'cdn.sched.v1.WeightDelta', fromVersion: 0n, version: 0n, upserted: [], removedNodeIds: [], capacities: [], more: false } as unknown as WeightDelta;
  while (r.pos < end) {
    const tag = readTag(r);
    switch (tag) {
      case (1 << 3) | WireType.Varint:
        d.fromVersion = BigInt(r.uint64());
        break;
      case (2 << 3) | WireType.Varint:
        d.version = BigInt(r.uint64());
        break;
      case (3 << 3) | WireType.LengthDelimited:
        d.upserted.push(readNodeWeight(r, readLength(r, end)));
        break;
      case (4 << 3) | WireType.LengthDelimited:
        d.removedNodeIds.push(readString(r, end));
        break;
      case (5 << 3) | WireType.LengthDelimited:
        d.capacities.push(readTierCapacity(r, readLength(r, end)));
        break;
      case (6 << 3) | WireType.Varint:
        d.more = r.bool();
        break;
      default:
        throw decline;
    }
  }
  return d;
}

/** A NodeWeight ending at `end` (the reader is at its first field). */
function readNodeWeight(r: BinaryReader, end: number): NodeWeight {
  const w = { $typeName: 'cdn.sched.v1.NodeWeight', nodeId: '', weight: 0, health: 0, updatedAtMs: 0n } as NodeWeight;
  while (r.pos < end) {
    const tag = readTag(r);
    switch (tag) {
      case (1 << 3) | WireType.LengthDelimited:
        w.nodeId = readString(r, end);
        break;
      case (2 << 3) | WireType.Bit64:
        w.weight = r.double();
        break;
      case (3 << 3) | WireType.Varint:
        w.health = r.int32();
        break;
      case (4 << 3) | WireType.LengthDelimited:
        // A second occurrence would merge into the first (protobuf's rule for message fields).
        if (w.terms !== undefined) throw decline;
        w.terms = readTerms(r, readLength(r, end));
        break;
      case (5 << 3) | WireType.Varint:
        w.updatedAtMs = BigInt(r.int64());
        break;
      default:
        throw decline;
    }
  }
  expectAt(r, end);
  return w;
}

function readTerms(r: BinaryReader, end: number): WeightTerms {
  const t = {
    $typeName: 'cdn.sched.v1.WeightTerms',
    capacityRps: 0,
    rttEwmaMs: 0,
    lossRate: 0,
    load: 0,
    ramp: 0,
    targetWeight: 0,
    probersUp: 0,
    probersTotal: 0,
  } as WeightTerms;
  while (r.pos < end) {
    const tag = readTag(r);
    switch (tag) {
      case (1 << 3) | WireType.Bit64:
        t.capacityRps = r.double();
        break;
      case (2 << 3) | WireType.Bit64:
        t.rttEwmaMs = r.double();
        break;
      case (3 << 3) | WireType.Bit64:
        t.lossRate = r.double();
        break;
      case (4 << 3) | WireType.Bit64:
        t.load = r.double();
        break;
      case (5 << 3) | WireType.Bit64:
        t.ramp = r.double();
        break;
      case (6 << 3) | WireType.Bit64:
        t.targetWeight = r.double();
        break;
      case (7 << 3) | WireType.Varint:
        t.probersUp = r.uint32();
        break;
      case (8 << 3) | WireType.Varint:
        t.probersTotal = r.uint32();
        break;
      default:
        throw decline;
    }
  }
  expectAt(r, end);
  return t;
}

function readTierCapacity(r: BinaryReader, end: number): TierCapacity {
  const c = { $typeName: 'cdn.sched.v1.TierCapacity', pool: '', tier: 0, location: '', healthyCapacityRps: 0, totalCapacityRps: 0 } as TierCapacity;
  while (r.pos < end) {
    const tag = readTag(r);
    switch (tag) {
      case (1 << 3) | WireType.LengthDelimited:
        c.pool = readString(r, end);
        break;
      case (2 << 3) | WireType.Varint:
        c.tier = r.int32();
        break;
      case (3 << 3) | WireType.LengthDelimited:
        c.location = readString(r, end);
        break;
      case (4 << 3) | WireType.Bit64:
        c.healthyCapacityRps = r.double();
        break;
      case (5 << 3) | WireType.Bit64:
        c.totalCapacityRps = r.double();
        break;
      default:
        throw decline;
    }
  }
  expectAt(r, end);
  return c;
}

/** A tag as `BinaryReader.tag()` checks it (at most 5 bytes, field number > 0, wire type ≤ 5), as one number. */
function readTag(r: BinaryReader): number {
  const start = r.pos;
  const tag = r.uint32();
  const read = r.pos - start;
  if (read > 5 || (read === 5 && buf[r.pos - 1]! > 0x0f) || tag >>> 3 === 0 || (tag & 7) > 5) throw decline;
  return tag;
}

/** A length prefix; returns the end it declares, which must lie within `parentEnd`. */
function readLength(r: BinaryReader, parentEnd: number): number {
  const length = r.uint32();
  const end = r.pos + length;
  if (end > parentEnd) throw decline;
  return end;
}

function expectAt(r: BinaryReader, end: number): void {
  if (r.pos !== end) throw decline;
}

/** A length-delimited string within `parentEnd`: ASCII through the interner, other valid UTF-8 decoded; invalid UTF-8 declines. */
function readString(r: BinaryReader, parentEnd: number): string {
  const end = readLength(r, parentEnd);
  const start = r.pos;
  r.pos = end;
  const ascii = names.string(buf, start, end);
  if (ascii !== undefined) return ascii;
  try {
    return strictUtf8.decode(buf.subarray(start, end));
  } catch {
    throw decline;
  }
}
