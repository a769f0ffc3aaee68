import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { parseEcsSubnetV4Bytes, parseIpv4Bytes } from '@cdn-sched/geoip';
import { AsciiInterner, createWireWriter, decodeUtf8, expectEnd, expectWireType, readBytes, readLengthEnd, readScalar, readString, readTag, skipField, WireDecodeError, type WireWriter } from '@cdn-sched/proto';
import { ServiceError } from '@cdn-sched/service-kit';
import { Status } from 'nice-grpc';
import { formatReason, type NodeTable, type RoutingTable } from '../decision/index.js';
import type { Decided, ResolveInput } from './resolve-core.js';

/**
 * Hand-written protobuf codec of the ResolveStream hot path: requests are read with the
 * `BinaryReader` of `@bufbuild/protobuf/wire`, decisions written with {@link WireWriter} (no
 * reflection: the reflective codec walks descriptors for every field of every message). Field
 * numbers are those of proto/cdn/sched/v1/resolver.proto; `wire-codec.spec.ts` checks that it is
 * byte-for-byte equal to the reflective codec (protobuf encoding spec:
 * https://protobuf.dev/programming-guides/encoding/ — proto3 fields at their default value are not
 * written; set message fields are, even when empty; fields are written in number order).
 */

/** Limits checked while a ResolveStream batch is decoded. */
export interface BatchLimits {
  /** Most queries per batch. Defaults to 5,000 (the MAX_BATCH setting). */
  maxBatch: number;
  /** Largest batch, bytes, checked before decoding. Defaults to 1 MiB (the MAX_BATCH_BYTES setting). */
  maxBatchBytes: number;
}

export const DEFAULT_BATCH_LIMITS: Readonly<BatchLimits> = Object.freeze({ maxBatch: 5000, maxBatchBytes: 1024 * 1024 });

/**
 * A batch refused as a whole (its framing is broken, or it is over a limit) is returned as the
 * {@link ServiceError} the stream ends with, not thrown: grpc-js turns any deserializer exception
 * into INTERNAL, so the handler throws it once it reads it from the stream.
 */
const batchTooLarge = (message: string): ServiceError => new ServiceError(Status.RESOURCE_EXHAUSTED, 'batch-too-large', message);

/** The queries of one ResolveStreamRequest, with the sender's W3C traceparent when it sent one. */
export type ResolveBatch = ResolveInput[] & { traceparent?: string };

/**
 * Decodes a `ResolveStreamRequest` into plain inputs. Unknown fields are skipped (forward
 * compatible). Limits are enforced while decoding: a batch over `maxBatchBytes` is refused before
 * any work, and decoding stops at query `maxBatch + 1`, so a 4 MiB frame of tiny queries costs
 * no more than `maxBatch` decoded objects. A query whose own bytes are malformed, inside sound
 * framing, comes back with `invalid` set and fails alone; broken framing refuses the batch.
 */
export function decodeResolveStreamRequest(bytes: Uint8Array, limits: BatchLimits = DEFAULT_BATCH_LIMITS, into?: BatchInputs): ResolveBatch | ServiceError {
  if (bytes.length > limits.maxBatchBytes) {
    return batchTooLarge(`batch of ${bytes.length} bytes is over the limit of ${limits.maxBatchBytes} bytes; split it into smaller batches`);
  }
  const reader = new BinaryReader(bytes);
  const queries: ResolveBatch = into ? into.start() : [];
  // Queries are stored by index and the array cut to their count at the end, rather than emptied
  // and pushed to: emptying a reused array drops its backing store, and refilling it grows a new
  // one batch after batch.
  let count = 0;
  try {
    while (reader.pos < reader.len) {
      const at = reader.pos;
      // The common shape first: a one-byte `queries` tag and a short length within the frame.
      if (bytes[at] === QUERIES_TAG) {
        // Its length: a varint of at most 3 bytes, the value within the frame; else the checked path.
        let p = at + 1;
        let length = -1;
        for (let k = 0, shift = 0, acc = 0; k < 3 && p < reader.len; k++, shift += 7) {
          const b = bytes[p++]!;
          acc |= (b & 0x7f) << shift;
          if (b < 0x80) {
            length = acc;
            break;
          }
        }
        if (length >= 0 && p + length <= reader.len) {
          if (count === limits.maxBatch) return tooMany(queries, limits);
          const q = into ? into.next(count) : newInput();
          if (decodeQueryFast(bytes, p, p + length, q)) {
            queries[count++] = q;
            reader.pos = p + length;
            continue;
          }
        }
      }
      const [field, wireType] = readTag(reader, 'ResolveStreamRequest');
      if (field === 2) {
        expectWireType('traceparent', at, wireType, WireType.LengthDelimited);
        const traceparent = readString(reader, 'traceparent', reader.len);
        // Proto3: the last occurrence wins, and the empty string means "not traced".
        if (traceparent === '') delete queries.traceparent;
        else queries.traceparent = traceparent;
        continue;
      }
      if (field !== 1) {
        skipField(reader, 'ResolveStreamRequest', field, wireType, reader.len);
        continue;
      }
      const name = `queries[${count}]`;
      expectWireType(name, at, wireType, WireType.LengthDelimited);
      if (count === limits.maxBatch) return tooMany(queries, limits);
      const end = readLengthEnd(reader, name, reader.len);
      const q = into ? into.next(count) : newInput();
      try {
        decodeResolveRequest(reader, end, name, q);
      } catch (error) {
        if (!(error instanceof WireDecodeError)) throw error;
        q.invalid = error.message;
        reader.pos = end;
      }
      queries[count++] = q;
    }
  } catch (error) {
    queries.length = 0;
    if (error instanceof WireDecodeError) return new ServiceError(Status.INVALID_ARGUMENT, 'malformed-batch', error.message, { cause: error });
    throw error;
  }
  queries.length = count;
  return queries;
}

/** The refusal of a batch over `maxBatch` queries (what was decoded of it is dropped). */
function tooMany(queries: ResolveBatch, limits: BatchLimits): ServiceError {
  queries.length = 0;
  return batchTooLarge(`batch has more than ${limits.maxBatch} queries; split it into smaller batches`);
}

/** Decodes a unary `ResolveRequest` (the Resolve method's request); malformed bytes set `invalid`. */
export function decodeResolveRequestBytes(bytes: Uint8Array): ResolveInput {
  const q = newInput();
  if (decodeQueryFast(bytes, 0, bytes.length, q)) return q;
  const reader = new BinaryReader(bytes);
  clearInput(q);
  try {
    decodeResolveRequest(reader, reader.len, 'ResolveRequest', q);
  } catch (error) {
    if (!(error instanceof WireDecodeError)) throw error;
    q.invalid = error.message;
  }
  return q;
}

/**
 * Encodes a unary `ResolveResponse` for a successful decision, with `writer` reused between calls;
 * `compact` as in `encodeResponseFields`.
 */
export function encodeResolveResponse(writer: WireWriter, queryId: bigint | number, decided: Decided, compact = false): Uint8Array {
  encodeResponseFields(writer, queryId, decided, compact);
  return writer.finish();
}

/**
 * `clientIpV4` of a query whose address is not a dotted quad (and `ecsV4Subnet` of one without an
 * IPv4 subnet). A number, not undefined: the field then stays a double field that every decode
 * overwrites in place, where `undefined | number` makes it a tagged one and every address at or
 * above 2^31 (not a small integer) a new heap number — an allocation per query (with the batch
 * array's regrowth, ~34 bytes a decoded query: docs/benchmarks.md, "Decision path benchmarks",
 * twentieth session).
 */
const NO_IPV4 = -1;

/** A query with every field at its default (all present: one object shape for every input). */
const newInput = (): ResolveInput => ({ queryId: 0, clientIp: '', clientIpV4: NO_IPV4, ecsSubnet: '', ecsV4Subnet: NO_IPV4, domain: '', answers: 0, compact: false, invalid: undefined });

function clearInput(q: ResolveInput): ResolveInput {
  q.queryId = 0;
  q.clientIp = '';
  q.clientIpV4 = NO_IPV4;
  q.ecsSubnet = '';
  q.ecsV4Subnet = NO_IPV4;
  q.domain = '';
  q.answers = 0;
  q.compact = false;
  q.invalid = undefined;
  return q;
}

/**
 * Query objects that ResolveStream batches are decoded into, batch after batch: the handler
 * decodes a batch, decides and encodes every query of it without an await in between, so a batch's
 * inputs are dead when the next is decoded, whichever stream it comes from. Decoding in the handler
 * (not in grpc-js's deserializer, which decodes every batch as it arrives and queues it) and into
 * reused objects keeps the queued batches as bytes and the queries out of the young generation's
 * survivors. Holds as many objects as the largest batch decoded (at most MAX_BATCH).
 */
export class BatchInputs {
  private readonly batch: ResolveBatch = [];
  private readonly pool: ResolveInput[] = [];

  /**
   * The batch array for a new decode (what the previous decode returned is overwritten): the
   * decoder stores queries by index and sets its length when done, so the array keeps its backing
   * store from batch to batch.
   */
  start(): ResolveBatch {
    delete this.batch.traceparent;
    return this.batch;
  }

  /** Query `i` of the batch being decoded, cleared. */
  next(i: number): ResolveInput {
    if (i === this.pool.length) this.pool.push(newInput());
    return clearInput(this.pool[i]!);
  }
}

/** A decoded query id as the fast path gives it: a number when exact (below 2^53), else the bigint. */
const queryIdOf = (id: bigint): bigint | number => (id <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(id) : id);

/** Tag of ResolveStreamRequest.queries (field 1, length-delimited). */
const QUERIES_TAG = 0x0a;

/** Domains and client addresses of recent requests: a batch repeats a handful of domains. */
const interner = new AsciiInterner(256);

/**
 * Decodes the fields [p, end) of a ResolveRequest in its common shape, without a reader, closures
 * or field names: one-byte tags of known fields with their declared wire types, varints of at most
 * 7 bytes, lengths of at most 2, ASCII strings. Returns false at the first thing outside that shape,
 * and `q` is then to be thrown away: the checked decoder reads the request again from the start
 * and decides (`wire-codec.fuzz.spec.ts` holds both paths to the reflective decoder). Within the
 * shape it yields what the checked decoder would (proto3: the last occurrence of a field wins).
 */
function decodeQueryFast(bytes: Uint8Array, p: number, end: number, q: ResolveInput): boolean {
  while (p < end) {
    const tag = bytes[p++]!;
    if (tag >= 0x80) return false;
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (wireType === WireType.Varint) {
      // Up to 7 bytes: values below 2^49, exact as a number.
      let value = 0;
      let scale = 1;
      let b = 0x80;
      for (let k = 0; b >= 0x80; k++, scale *= 128) {
        if (k === 7 || p >= end) return false;
        b = bytes[p++]!;
        value += (b & 0x7f) * scale;
      }
      if (field === 1) q.queryId = value;
      else if (field === 5 && value <= 0xffffffff) q.answers = value;
      else if (field === 6) q.compact = value !== 0;
      else return false;
    } else if (wireType === WireType.LengthDelimited) {
      if (p >= end) return false;
      let length = bytes[p++]!;
      if (length >= 0x80) {
        if (p >= end || bytes[p]! >= 0x80) return false;
        length = (length & 0x7f) | (bytes[p++]! << 7);
      }
      const start = p;
      p += length;
      if (p > end) return false;
      if (field === 2) {
        // Digits and dots only: an address it parses is ASCII.
        const v4 = parseIpv4Bytes(bytes, start, p);
        if (v4 >= 0) {
          q.clientIpV4 = v4;
          q.clientIp = '';
        } else {
          const text = interner.string(bytes, start, p);
          if (text === undefined) return false;
          q.clientIpV4 = NO_IPV4;
          q.clientIp = text;
        }
      } else if (field === 3) {
        // An IPv4 subnet is read from the bytes (ECS subnets are per client: as strings they
        // were the decoder's only allocation); anything else stays text for the core to parse or refuse.
        const subnet = parseEcsSubnetV4Bytes(bytes, start, p);
        if (subnet >= 0) {
          q.ecsV4Subnet = subnet;
          q.ecsSubnet = '';
        } else {
          const text = interner.string(bytes, start, p);
          if (text === undefined) return false;
          q.ecsV4Subnet = NO_IPV4;
          q.ecsSubnet = text;
        }
      } else if (field === 4) {
        const text = interner.string(bytes, start, p);
        if (text === undefined) return false;
        q.domain = text;
      } else return false;
    } else return false;
  }
  return true;
}

/**
 * Reads the fields of one ResolveRequest ending at `end` into `q`. Every field is checked against
 * its declared wire type and its message's end (checked-wire.ts), so a malformed request throws a
 * WireDecodeError rather than decoding into values the reflective decoder would not produce.
 */
function decodeResolveRequest(reader: BinaryReader, end: number, name: string, q: ResolveInput): void {
  while (reader.pos < end) {
    const at = reader.pos;
    const [field, wireType] = readTag(reader, name);
    switch (field) {
      case 1:
        expectWireType(`${name}.query_id`, at, wireType, WireType.Varint);
        q.queryId = queryIdOf(BigInt(readScalar(reader, `${name}.query_id`, end, () => reader.uint64())));
        break;
      case 2: {
        expectWireType(`${name}.client_ip`, at, wireType, WireType.LengthDelimited);
        // Parse an IPv4 address from the bytes themselves; make a string only for anything else.
        const bytes = readBytes(reader, `${name}.client_ip`, end);
        const v4 = parseIpv4Bytes(bytes);
        if (v4 >= 0) {
          q.clientIpV4 = v4;
          q.clientIp = '';
        } else {
          q.clientIpV4 = NO_IPV4;
          q.clientIp = decodeUtf8(bytes, `${name}.client_ip`, reader.pos);
        }
        break;
      }
      case 3:
        expectWireType(`${name}.ecs_subnet`, at, wireType, WireType.LengthDelimited);
        q.ecsSubnet = readString(reader, `${name}.ecs_subnet`, end);
        q.ecsV4Subnet = NO_IPV4;
        break;
      case 4:
        expectWireType(`${name}.domain`, at, wireType, WireType.LengthDelimited);
        q.domain = readString(reader, `${name}.domain`, end);
        break;
      case 5:
        expectWireType(`${name}.answers`, at, wireType, WireType.Varint);
        q.answers = readScalar(reader, `${name}.answers`, end, () => reader.uint32());
        break;
      case 6:
        expectWireType(`${name}.compact`, at, wireType, WireType.Varint);
        q.compact = readScalar(reader, `${name}.compact`, end, () => reader.bool());
        break;
      default:
        skipField(reader, name, field, wireType, end);
    }
  }
  expectEnd(reader, name, end);
}

/** Appends one `Decision` (field 1 of ResolveStreamResponse) for `decided` to `writer`. */
export function encodeDecision(writer: WireWriter, queryId: bigint | number, decided: Decided, compact = false): void {
  if (compact && decided.ok && typeof queryId === 'number' && queryId <= 0xffffffff) {
    encodeCompactDecision(writer, queryId, decided);
    return;
  }
  writer.tag(1, WireType.LengthDelimited).fork();
  if (!isZeroId(queryId)) writer.tag(1, WireType.Varint).uint64(queryId);
  if (!decided.ok) {
    writer.tag(3, WireType.LengthDelimited).fork();
    if (decided.code !== 0) writer.tag(1, WireType.Varint).uint32(decided.code);
    if (decided.message !== '') writer.tag(2, WireType.LengthDelimited).string(decided.message);
    writer.join();
  } else {
    writer.tag(2, WireType.LengthDelimited).fork();
    encodeResponseFields(writer, queryId, decided, compact);
    writer.join();
  }
  writer.join();
}

/** Proto3 leaves a zero id out, whichever type carries it. */
const isZeroId = (queryId: bigint | number): boolean => (typeof queryId === 'number' ? queryId === 0 : queryId === 0n);

/** Bytes of the varint `value` (u32). */
const varintBytes = (value: number): number => (value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : value < 0x10000000 ? 4 : 5);

/** A growable byte store of pre-encoded fields, with a `DataView` for the writer's word-wise copy. */
class ByteStore {
  bytes = new Uint8Array(4096);
  view = new DataView(this.bytes.buffer);
  used = 0;

  /** Appends `fields`; returns their offset. */
  append(fields: Uint8Array): number {
    if (this.used + fields.length > this.bytes.length) {
      let size = this.bytes.length * 2;
      while (size < this.used + fields.length) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.bytes.subarray(0, this.used));
      this.bytes = grown;
      this.view = new DataView(grown.buffer);
    }
    const at = this.used;
    this.bytes.set(fields, at);
    this.used += fields.length;
    return at;
  }
}

/**
 * Fields 1–3 of an `Answer` (node id, address, port) per node of one node table, encoded the first
 * time a decision names the node and copied into every later answer that does; the TTL (field 4)
 * is the domain's, and is written after them. Keyed by the table's `ids` array, which weight-only
 * updates keep (same nodes), so the bytes last until the membership changes. Memory: ~30 bytes per
 * node answered, plus 8 per node of the table.
 */
class AnswerPrefixes {
  readonly offsets: Int32Array;
  readonly lengths: Int32Array;
  readonly store = new ByteStore();
  private readonly scratch = createWireWriter(256);

  constructor(
    readonly ids: readonly string[],
    private readonly addresses: readonly string[],
    private readonly ports: Int32Array,
  ) {
    this.offsets = new Int32Array(ids.length).fill(-1);
    this.lengths = new Int32Array(ids.length);
  }

  /** Node `n`'s fields' offset in the store, encoding them the first time. */
  offsetOf(n: number): number {
    const at = this.offsets[n]!;
    return at >= 0 ? at : this.encode(n);
  }

  /** Encodes node `n`'s fields; returns their offset in the store. */
  private encode(n: number): number {
    const w = this.scratch.reset();
    const id = this.ids[n]!;
    const address = this.addresses[n]!;
    const port = this.ports[n]!;
    if (id !== '') w.tag(1, WireType.LengthDelimited).string(id);
    if (address !== '') w.tag(2, WireType.LengthDelimited).string(address);
    if (port !== 0) w.tag(3, WireType.Varint).uint32(port);
    const fields = w.finish();
    this.offsets[n] = this.store.append(fields);
    this.lengths[n] = fields.length;
    return this.offsets[n]!;
  }
}

/** The prefixes of the node table decisions last used (one table serves at a time). */
let answerPrefixes: AnswerPrefixes | undefined;

function answerPrefixesOf(nodes: NodeTable): AnswerPrefixes {
  if (answerPrefixes?.ids !== nodes.ids) answerPrefixes = new AnswerPrefixes(nodes.ids, nodes.addresses, nodes.ports);
  return answerPrefixes;
}

/**
 * Fields 8 and 9 of a ResolveResponse (config and weights versions) of the table decisions last
 * used, encoded once per table: every decision made with a table carries the same two.
 */
let trailerTable: RoutingTable | undefined;
let trailerBytes: Uint8Array = new Uint8Array(0);
const trailerWriter = createWireWriter(64);

function versionFieldsOf(table: RoutingTable): Uint8Array {
  if (trailerTable !== table) {
    const w = trailerWriter.reset();
    if (table.configVersion !== 0n) w.tag(8, WireType.Varint).uint64(table.configVersion);
    if (table.weightsVersion !== 0n) w.tag(9, WireType.Varint).uint64(table.weightsVersion);
    // Kept while the table serves: a copy of its own rather than a slice that keeps a Buffer pool alive.
    trailerBytes = Uint8Array.from(w.finish());
    trailerTable = table;
  }
  return trailerBytes;
}

/**
 * The fields of a ResolveResponse. `compact` (the request asked for it) leaves out location, tier
 * and reason: a DNS front-end uses none of them, and the reason is the one string built per
 * decision (formatReason).
 */
export function encodeResponseFields(writer: WireWriter, queryId: bigint | number, decided: Decided, compact = false): void {
  const table = decided.table!;
  const r = decided.result;
  if (!isZeroId(queryId)) writer.tag(1, WireType.Varint).uint64(queryId);
  const prefixes = answerPrefixesOf(table.nodes);
  const ttl = r.ttlS;
  // Field 4's tag is one byte, then the TTL's varint.
  const ttlBytes = ttl !== 0 ? 1 + varintBytes(ttl) : 0;
  for (let i = 0; i < r.count; i++) {
    const n = r.nodes[i]!;
    const at = prefixes.offsetOf(n);
    const length = prefixes.lengths[n]!;
    // The Answer's length is known up front: no fork and join.
    writer.tag(2, WireType.LengthDelimited).uint32(length + ttlBytes).rawFrom(prefixes.store.view, at, length);
    if (ttl !== 0) writer.tag(4, WireType.Varint).uint32(ttl);
  }
  if (!compact) {
    const loc = decided.location;
    writer.tag(3, WireType.LengthDelimited).fork();
    if (loc.country !== '') writer.tag(1, WireType.LengthDelimited).string(loc.country);
    if (loc.region !== '') writer.tag(2, WireType.LengthDelimited).string(loc.region);
    if (loc.isp !== '') writer.tag(3, WireType.LengthDelimited).string(loc.isp);
    if (decided.prefixLen !== 0) writer.tag(4, WireType.Varint).uint32(decided.prefixLen);
    writer.join();
    if (r.tier !== 0) writer.tag(4, WireType.Varint).int32(r.tier);
    const reason = formatReason(table, r);
    if (reason !== '') writer.tag(5, WireType.LengthDelimited).string(reason);
  }
  if (decided.prefixLen !== 0) writer.tag(6, WireType.Varint).uint32(decided.prefixLen);
  if (decided.degraded) writer.tag(7, WireType.Varint).bool(true);
  const versions = versionFieldsOf(table);
  writer.raw(versions, 0, versions.length);
}

/** Writes the varint of `value` (u32) at `p` of `b`; returns the offset after it. */
function putVarint32(b: Uint8Array, p: number, value: number): number {
  let v = value >>> 0;
  while (v > 0x7f) {
    b[p++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  b[p++] = v;
  return p;
}

/**
 * `encodeDecision` of a compact answer with a query id below 2^32 — what a DNS front-end asks for
 * at its full rate — in one pass with no call per field: every length is known before a byte is
 * written (the answers' pre-encoded fields, the TTL, the scope, the versions), so the Decision is
 * one claimed range of the writer, written in place. The same bytes as the general path
 * (`wire-codec.spec.ts` holds both to the reflective codec); measured by
 * `npm run bench -- serving-core` (`encode_compact_cpu_ns`).
 */
function encodeCompactDecision(writer: WireWriter, queryId: number, decided: Decided): void {
  const table = decided.table!;
  const r = decided.result;
  const prefixes = answerPrefixesOf(table.nodes);
  const ttl = r.ttlS;
  const ttlBytes = ttl !== 0 ? 1 + varintBytes(ttl) : 0;
  // Encode any node not seen yet first: that may grow the store, whose view the copies read.
  let answersBytes = 0;
  for (let i = 0; i < r.count; i++) {
    const n = r.nodes[i]!;
    prefixes.offsetOf(n);
    const answer = prefixes.lengths[n]! + ttlBytes;
    answersBytes += 1 + varintBytes(answer) + answer;
  }
  const idBytes = queryId !== 0 ? 1 + varintBytes(queryId) : 0;
  const scope = decided.prefixLen;
  const versions = versionFieldsOf(table);
  const response = idBytes + answersBytes + (scope !== 0 ? 1 + varintBytes(scope) : 0) + (decided.degraded ? 2 : 0) + versions.length;
  const body = idBytes + 1 + varintBytes(response) + response;
  let p = writer.claim(1 + varintBytes(body) + body);
  const b = writer.bytes;
  const d = writer.dataView;
  const store = prefixes.store.view;
  // ResolveStreamResponse.decisions (1), Decision.query_id (1) and .response (2).
  b[p++] = (1 << 3) | WireType.LengthDelimited;
  p = putVarint32(b, p, body);
  if (queryId !== 0) {
    b[p++] = (1 << 3) | WireType.Varint;
    p = putVarint32(b, p, queryId);
  }
  b[p++] = (2 << 3) | WireType.LengthDelimited;
  p = putVarint32(b, p, response);
  // ResolveResponse: query_id (1), answers (2, each its node's fields then ttl_s 4), ecs scope (6), degraded (7), versions (8, 9).
  if (queryId !== 0) {
    b[p++] = (1 << 3) | WireType.Varint;
    p = putVarint32(b, p, queryId);
  }
  for (let i = 0; i < r.count; i++) {
    const n = r.nodes[i]!;
    let s = prefixes.offsets[n]!;
    const length = prefixes.lengths[n]!;
    b[p++] = (2 << 3) | WireType.LengthDelimited;
    p = putVarint32(b, p, length + ttlBytes);
    const end = s + length;
    for (; s + 4 <= end; s += 4, p += 4) d.setUint32(p, store.getUint32(s));
    for (; s < end; s++) b[p++] = store.getUint8(s);
    if (ttl !== 0) {
      b[p++] = (4 << 3) | WireType.Varint;
      p = putVarint32(b, p, ttl);
    }
  }
  if (scope !== 0) {
    b[p++] = (6 << 3) | WireType.Varint;
    p = putVarint32(b, p, scope);
  }
  if (decided.degraded) {
    b[p++] = (7 << 3) | WireType.Varint;
    b[p++] = 1;
  }
  for (let i = 0; i < versions.length; i++) b[p++] = versions[i]!;
}

/**
 * A writer for ResolveStreamResponse batches: `encodeDecision` per query, then `finish()` for the
 * batch's bytes. Reusable after `finish()`, so a stream keeps one for all its batches.
 */
export const createBatchWriter = (): WireWriter => createWireWriter();
