/**
 * Hand-written protobuf codec of the gateway's side of `ResolveStream`: requests written with the
 * shared {@link WireWriter}, responses read with the `BinaryReader` of `@bufbuild/protobuf/wire`
 * into plain objects holding only what DNS answers use. The reflective codec (`toBinary` /
 * `fromBinary` walking descriptors for every field) was a fifth of the gateway's CPU when every
 * query was decided (`npm run bench -- dns`, cache off).
 *
 * Contract, proven by `decision-codec.spec.ts`: {@link encodeDecisionBatch} is byte-equal to
 * `toBinary` of the same `ResolveStreamRequest`; {@link decodeDecisionBatch} returns what
 * `fromBinary` returns for the fields it keeps (including proto3's rules: the last occurrence of a
 * scalar wins, a repeated oneof message merges), or throws a {@link WireDecodeError} naming the
 * field and byte offset where `fromBinary` would refuse or decode differently. Field numbers are
 * those of proto/cdn/sched/v1/resolver.proto; encoding per
 * https://protobuf.dev/programming-guides/encoding/.
 */
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { AsciiInterner, createWireWriter, expectEnd, expectWireType, readLengthEnd, readScalar, readString, readTag, skipField, type WireWriter } from '@cdn-sched/proto';

/** One question, sent as a `ResolveRequest` with `compact` set (a DNS answer needs no location or reason). */
export interface OutgoingQuery {
  readonly queryId: number;
  readonly clientIp: string;
  readonly ecsSubnet: string;
  readonly domain: string;
}

/** A `ResolveStreamRequest`. */
export interface OutgoingBatch {
  readonly queries: readonly OutgoingQuery[];
  /** W3C traceparent of the batch span, or empty. */
  readonly traceparent: string;
}

/** An answer of a decision: what a DNS reply and its trace use. */
export interface DecidedAnswer {
  nodeId: string;
  address: string;
  ttlS: number;
}

/** The fields of a `ResolveResponse` the gateway uses. */
export interface DecidedResponse {
  readonly answers: DecidedAnswer[];
  ecsScope: number;
  degraded: boolean;
  configVersion: bigint;
}

/** An `ItemError`: the resolver's verdict on one query (gRPC status code). */
export interface DecisionError {
  code: number;
  message: string;
}

/** One `Decision` of a `ResolveStreamResponse`. */
export interface IncomingDecision {
  queryId: bigint;
  result: { case: 'response'; value: DecidedResponse } | { case: 'error'; value: DecisionError } | { case: undefined; value?: undefined };
}

/** Writes `batch` as a `ResolveStreamRequest` with `writer` (reused between batches). */
export function encodeDecisionBatch(writer: WireWriter, batch: OutgoingBatch): Uint8Array {
  for (const q of batch.queries) {
    writer.tag(1, WireType.LengthDelimited).fork();
    // Proto3: fields at their default value are not written.
    if (q.queryId !== 0) writer.tag(1, WireType.Varint).uint64(BigInt(q.queryId));
    if (q.clientIp !== '') writer.tag(2, WireType.LengthDelimited).string(q.clientIp);
    if (q.ecsSubnet !== '') writer.tag(3, WireType.LengthDelimited).string(q.ecsSubnet);
    if (q.domain !== '') writer.tag(4, WireType.LengthDelimited).string(q.domain);
    writer.tag(6, WireType.Varint).bool(true);
    writer.join();
  }
  if (batch.traceparent !== '') writer.tag(2, WireType.LengthDelimited).string(batch.traceparent);
  return writer.finish();
}

/** A writer for {@link encodeDecisionBatch}, one per stream. */
export const createBatchWriter = (): WireWriter => createWireWriter(4096);

/**
 * Reads a `ResolveStreamResponse`; throws a {@link WireDecodeError} for malformed bytes. Responses
 * in the shape the resolver writes for compact requests are read by {@link decodeDecisionBatchFast};
 * anything else by the checked decoder, which decides what is malformed.
 */
export function decodeDecisionBatch(bytes: Uint8Array): IncomingDecision[] {
  return decodeDecisionBatchFast(bytes) ?? decodeDecisionBatchChecked(bytes);
}

/** Node ids and addresses of recent decisions: a fleet has few, and every decision repeats some. */
const interner = new AsciiInterner(512);

/** Where {@link readVarint} leaves its value, and the position after it (-1: outside the fast shape). */
let varintValue = 0;

/** A varint of at most `maxBytes` bytes (7: below 2^49, exact as a number) at `p`; returns the next position, or -1. */
function readVarint(bytes: Uint8Array, p: number, end: number, maxBytes: number): number {
  let value = 0;
  let scale = 1;
  let b = 0x80;
  for (let k = 0; b >= 0x80; k++, scale *= 128) {
    if (k === maxBytes || p >= end) return -1;
    b = bytes[p++]!;
    value += (b & 0x7f) * scale;
  }
  varintValue = value;
  return p;
}

/** Where {@link readLength} leaves the length of a length-delimited field. */
let lengthValue = 0;

/** A length of at most 2 bytes at `p` whose field ends by `end`; returns the position after it, or -1. */
function readLength(bytes: Uint8Array, p: number, end: number): number {
  if (p >= end) return -1;
  let length = bytes[p++]!;
  if (length >= 0x80) {
    if (p >= end || bytes[p]! >= 0x80) return -1;
    length = (length & 0x7f) | (bytes[p++]! << 7);
  }
  if (p + length > end) return -1;
  lengthValue = length;
  return p;
}

/**
 * Reads a `ResolveStreamResponse` in the shape the resolver writes for compact requests, without a
 * reader, closures or field names, and with node ids and addresses from an intern table: one-byte
 * tags of known fields with their declared wire types (decisions; query id and response, once; in
 * a response its query id, answers, tier, ECS scope, degraded, config and weights versions; in an
 * answer node id, address, port, TTL), varints of at most 7 bytes (4 for 32-bit fields, 1 for
 * booleans), lengths of at most 2 bytes, ASCII strings. Returns undefined at the first thing
 * outside that shape (an error, a location or reason, a repeated response, a long varint, UTF-8,
 * an unknown field): the checked decoder then reads the whole message again and decides. Within
 * the shape it yields what the checked decoder yields (proto3: the last occurrence of a scalar
 * wins); `decision-codec.spec.ts` holds both to the reflective decoder.
 */
export function decodeDecisionBatchFast(bytes: Uint8Array): IncomingDecision[] | undefined {
  const out: IncomingDecision[] = [];
  const n = bytes.length;
  let p = 0;
  while (p < n) {
    if (bytes[p++] !== 0x0a) return undefined; // field 1 (decisions), length-delimited
    p = readLength(bytes, p, n);
    if (p < 0) return undefined;
    const end = p + lengthValue;
    let queryId = 0;
    let response: DecidedResponse | undefined;
    while (p < end) {
      const tag = bytes[p++]!;
      if (tag === 0x08) {
        p = readVarint(bytes, p, end, 7);
        if (p < 0) return undefined;
        queryId = varintValue;
      } else if (tag === 0x12 && response === undefined) {
        p = readLength(bytes, p, end);
        if (p < 0) return undefined;
        response = { answers: [], ecsScope: 0, degraded: false, configVersion: 0n };
        p = readResponseFast(bytes, p, p + lengthValue, response);
        if (p < 0) return undefined;
      } else return undefined;
    }
    out.push({ queryId: BigInt(queryId), result: response ? { case: 'response', value: response } : { case: undefined } });
  }
  return out;
}

/** The fields [p, end) of a `ResolveResponse` into `r`; returns `end`, or -1 outside the fast shape. */
function readResponseFast(bytes: Uint8Array, p: number, end: number, r: DecidedResponse): number {
  while (p < end) {
    const tag = bytes[p++]!;
    switch (tag) {
      case 0x08: // query_id
      case 0x48: // weights_version
        p = readVarint(bytes, p, end, 7);
        break;
      case 0x12: {
        // answers
        p = readLength(bytes, p, end);
        if (p < 0) return -1;
        const a: DecidedAnswer = { nodeId: '', address: '', ttlS: 0 };
        p = readAnswerFast(bytes, p, p + lengthValue, a);
        r.answers.push(a);
        break;
      }
      case 0x20: // tier
        p = readVarint(bytes, p, end, 4);
        break;
      case 0x30: // ecs_scope
        p = readVarint(bytes, p, end, 4);
        r.ecsScope = varintValue;
        break;
      case 0x38: // degraded
        p = readVarint(bytes, p, end, 1);
        r.degraded = varintValue !== 0;
        break;
      case 0x40: // config_version
        p = readVarint(bytes, p, end, 7);
        r.configVersion = BigInt(varintValue);
        break;
      default:
        return -1;
    }
    if (p < 0) return -1;
  }
  return p;
}

/** The fields [p, end) of an `Answer` into `a`; returns `end`, or -1 outside the fast shape. */
function readAnswerFast(bytes: Uint8Array, p: number, end: number, a: DecidedAnswer): number {
  while (p < end) {
    const tag = bytes[p++]!;
    if (tag === 0x0a || tag === 0x12) {
      p = readLength(bytes, p, end);
      if (p < 0) return -1;
      const stop = p + lengthValue;
      const text = interner.string(bytes, p, stop);
      if (text === undefined) return -1;
      if (tag === 0x0a) a.nodeId = text;
      else a.address = text;
      p = stop;
    } else if (tag === 0x18 || tag === 0x20) {
      p = readVarint(bytes, p, end, 4);
      if (p < 0) return -1;
      if (tag === 0x20) a.ttlS = varintValue;
    } else return -1;
  }
  return p;
}

function decodeDecisionBatchChecked(bytes: Uint8Array): IncomingDecision[] {
  const reader = new BinaryReader(bytes);
  const out: IncomingDecision[] = [];
  while (reader.pos < reader.len) {
    const at = reader.pos;
    const [field, wireType] = readTag(reader, 'ResolveStreamResponse');
    if (field !== 1) {
      skipField(reader, 'ResolveStreamResponse', field, wireType, reader.len);
      continue;
    }
    expectWireType('decisions', at, wireType, WireType.LengthDelimited);
    const end = readLengthEnd(reader, 'decisions', reader.len);
    out.push(readDecision(reader, end));
  }
  return out;
}

function readDecision(reader: BinaryReader, end: number): IncomingDecision {
  const d: IncomingDecision = { queryId: 0n, result: { case: undefined } };
  while (reader.pos < end) {
    const at = reader.pos;
    const [field, wireType] = readTag(reader, 'decisions');
    switch (field) {
      case 1:
        expectWireType('decisions.query_id', at, wireType, WireType.Varint);
        d.queryId = BigInt(readScalar(reader, 'decisions.query_id', end, () => reader.uint64()));
        break;
      case 2: {
        expectWireType('decisions.response', at, wireType, WireType.LengthDelimited);
        const to = readLengthEnd(reader, 'decisions.response', end);
        // A oneof message seen again merges into the one already set (protobuf merge semantics).
        const value = d.result.case === 'response' ? d.result.value : { answers: [], ecsScope: 0, degraded: false, configVersion: 0n };
        readResponse(reader, to, value);
        d.result = { case: 'response', value };
        break;
      }
      case 3: {
        expectWireType('decisions.error', at, wireType, WireType.LengthDelimited);
        const to = readLengthEnd(reader, 'decisions.error', end);
        const value = d.result.case === 'error' ? d.result.value : { code: 0, message: '' };
        readError(reader, to, value);
        d.result = { case: 'error', value };
        break;
      }
      default:
        skipField(reader, 'decisions', field, wireType, end);
    }
  }
  expectEnd(reader, 'decisions', end);
  return d;
}

function readResponse(reader: BinaryReader, end: number, r: DecidedResponse): void {
  while (reader.pos < end) {
    const at = reader.pos;
    const [field, wireType] = readTag(reader, 'decisions.response');
    switch (field) {
      case 1:
        expectWireType('decisions.response.query_id', at, wireType, WireType.Varint);
        readScalar(reader, 'decisions.response.query_id', end, () => reader.uint64());
        break;
      case 2: {
        expectWireType('decisions.response.answers', at, wireType, WireType.LengthDelimited);
        const to = readLengthEnd(reader, 'decisions.response.answers', end);
        r.answers.push(readAnswer(reader, to));
        break;
      }
      case 3: {
        // Location: not used here, but read, so that bytes fromBinary refuses are refused here too.
        expectWireType('decisions.response.location', at, wireType, WireType.LengthDelimited);
        readLocation(reader, readLengthEnd(reader, 'decisions.response.location', end));
        break;
      }
      case 4:
        expectWireType('decisions.response.tier', at, wireType, WireType.Varint);
        readScalar(reader, 'decisions.response.tier', end, () => reader.int32());
        break;
      case 5:
        expectWireType('decisions.response.reason', at, wireType, WireType.LengthDelimited);
        readString(reader, 'decisions.response.reason', end);
        break;
      case 6:
        expectWireType('decisions.response.ecs_scope', at, wireType, WireType.Varint);
        r.ecsScope = readScalar(reader, 'decisions.response.ecs_scope', end, () => reader.uint32());
        break;
      case 7:
        expectWireType('decisions.response.degraded', at, wireType, WireType.Varint);
        r.degraded = readScalar(reader, 'decisions.response.degraded', end, () => reader.bool());
        break;
      case 8:
        expectWireType('decisions.response.config_version', at, wireType, WireType.Varint);
        r.configVersion = BigInt(readScalar(reader, 'decisions.response.config_version', end, () => reader.uint64()));
        break;
      case 9:
        expectWireType('decisions.response.weights_version', at, wireType, WireType.Varint);
        readScalar(reader, 'decisions.response.weights_version', end, () => reader.uint64());
        break;
      default:
        skipField(reader, 'decisions.response', field, wireType, end);
    }
  }
  expectEnd(reader, 'decisions.response', end);
}

function readAnswer(reader: BinaryReader, end: number): DecidedAnswer {
  const a: DecidedAnswer = { nodeId: '', address: '', ttlS: 0 };
  while (reader.pos < end) {
    const at = reader.pos;
    const [field, wireType] = readTag(reader, 'decisions.response.answers');
    switch (field) {
      case 1:
        expectWireType('decisions.response.answers.node_id', at, wireType, WireType.LengthDelimited);
        a.nodeId = readString(reader, 'decisions.response.answers.node_id', end);
        break;
      case 2:
        expectWireType('decisions.response.answers.address', at, wireType, WireType.LengthDelimited);
        a.address = readString(reader, 'decisions.response.answers.address', end);
        break;
      case 3:
        expectWireType('decisions.response.answers.port', at, wireType, WireType.Varint);
        readScalar(reader, 'decisions.response.answers.port', end, () => reader.uint32());
        break;
      case 4:
        expectWireType('decisions.response.answers.ttl_s', at, wireType, WireType.Varint);
        a.ttlS = readScalar(reader, 'decisions.response.answers.ttl_s', end, () => reader.uint32());
        break;
      default:
        skipField(reader, 'decisions.response.answers', field, wireType, end);
    }
  }
  expectEnd(reader, 'decisions.response.answers', end);
  return a;
}

function readLocation(reader: BinaryReader, end: number): void {
  while (reader.pos < end) {
    const at = reader.pos;
    const [field, wireType] = readTag(reader, 'decisions.response.location');
    if (field >= 1 && field <= 3) {
      expectWireType('decisions.response.location', at, wireType, WireType.LengthDelimited);
      readString(reader, 'decisions.response.location', end);
    } else if (field === 4) {
      expectWireType('decisions.response.location.prefix_len', at, wireType, WireType.Varint);
      readScalar(reader, 'decisions.response.location.prefix_len', end, () => reader.uint32());
    } else skipField(reader, 'decisions.response.location', field, wireType, end);
  }
  expectEnd(reader, 'decisions.response.location', end);
}

function readError(reader: BinaryReader, end: number, e: DecisionError): void {
  while (reader.pos < end) {
    const at = reader.pos;
    const [field, wireType] = readTag(reader, 'decisions.error');
    if (field === 1) {
      expectWireType('decisions.error.code', at, wireType, WireType.Varint);
      e.code = readScalar(reader, 'decisions.error.code', end, () => reader.uint32());
    } else if (field === 2) {
      expectWireType('decisions.error.message', at, wireType, WireType.LengthDelimited);
      e.message = readString(reader, 'decisions.error.message', end);
    } else skipField(reader, 'decisions.error', field, wireType, end);
  }
  expectEnd(reader, 'decisions.error', end);
}
