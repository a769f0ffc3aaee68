import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { parseIpv4Bytes } from '@cdn-sched/geoip';
import { createWireWriter, decodeUtf8, expectEnd, expectWireType, readBytes, readLengthEnd, readScalar, readString, readTag, skipField, WireDecodeError, type WireWriter } from '@cdn-sched/proto';
import { ServiceError } from '@cdn-sched/service-kit';
import { Status } from 'nice-grpc';
import { formatReason } from '../decision/index.js';
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
export function decodeResolveStreamRequest(bytes: Uint8Array, limits: BatchLimits = DEFAULT_BATCH_LIMITS): ResolveBatch | ServiceError {
  if (bytes.length > limits.maxBatchBytes) {
    return batchTooLarge(`batch of ${bytes.length} bytes is over the limit of ${limits.maxBatchBytes} bytes; split it into smaller batches`);
  }
  const reader = new BinaryReader(bytes);
  const queries: ResolveBatch = [];
  try {
    while (reader.pos < reader.len) {
      const at = reader.pos;
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
      const name = `queries[${queries.length}]`;
      expectWireType(name, at, wireType, WireType.LengthDelimited);
      if (queries.length === limits.maxBatch) {
        return batchTooLarge(`batch has more than ${limits.maxBatch} queries; split it into smaller batches`);
      }
      const end = readLengthEnd(reader, name, reader.len);
      const q = emptyInput();
      try {
        decodeResolveRequest(reader, end, name, q);
      } catch (error) {
        if (!(error instanceof WireDecodeError)) throw error;
        q.invalid = error.message;
        reader.pos = end;
      }
      queries.push(q);
    }
  } catch (error) {
    if (error instanceof WireDecodeError) return new ServiceError(Status.INVALID_ARGUMENT, 'malformed-batch', error.message, { cause: error });
    throw error;
  }
  return queries;
}

/** Decodes a unary `ResolveRequest` (the Resolve method's request); malformed bytes set `invalid`. */
export function decodeResolveRequestBytes(bytes: Uint8Array): ResolveInput {
  const reader = new BinaryReader(bytes);
  const q = emptyInput();
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
export function encodeResolveResponse(writer: WireWriter, queryId: bigint, decided: Decided, compact = false): Uint8Array {
  encodeResponseFields(writer, queryId, decided, compact);
  return writer.finish();
}

const emptyInput = (): ResolveInput => ({ queryId: 0n, clientIp: '', ecsSubnet: '', domain: '', answers: 0, compact: false });

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
        q.queryId = BigInt(readScalar(reader, `${name}.query_id`, end, () => reader.uint64()));
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
          q.clientIpV4 = undefined;
          q.clientIp = decodeUtf8(bytes, `${name}.client_ip`, reader.pos);
        }
        break;
      }
      case 3:
        expectWireType(`${name}.ecs_subnet`, at, wireType, WireType.LengthDelimited);
        q.ecsSubnet = readString(reader, `${name}.ecs_subnet`, end);
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
export function encodeDecision(writer: WireWriter, queryId: bigint, decided: Decided, compact = false): void {
  writer.tag(1, WireType.LengthDelimited).fork();
  if (queryId !== 0n) writer.tag(1, WireType.Varint).uint64(queryId);
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

/**
 * The fields of a ResolveResponse. `compact` (the request asked for it) leaves out location, tier
 * and reason: a DNS front-end uses none of them, and the reason is the one string built per
 * decision (formatReason).
 */
export function encodeResponseFields(writer: WireWriter, queryId: bigint, decided: Decided, compact = false): void {
  const table = decided.table!;
  const r = decided.result;
  const nodes = table.nodes;
  if (queryId !== 0n) writer.tag(1, WireType.Varint).uint64(queryId);
  for (let i = 0; i < r.count; i++) {
    const n = r.nodes[i]!;
    writer.tag(2, WireType.LengthDelimited).fork();
    const id = nodes.ids[n]!;
    const address = nodes.addresses[n]!;
    const port = nodes.ports[n]!;
    if (id !== '') writer.tag(1, WireType.LengthDelimited).string(id);
    if (address !== '') writer.tag(2, WireType.LengthDelimited).string(address);
    if (port !== 0) writer.tag(3, WireType.Varint).uint32(port);
    if (r.ttlS !== 0) writer.tag(4, WireType.Varint).uint32(r.ttlS);
    writer.join();
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
  if (table.configVersion !== 0n) writer.tag(8, WireType.Varint).uint64(table.configVersion);
  if (table.weightsVersion !== 0n) writer.tag(9, WireType.Varint).uint64(table.weightsVersion);
}

/**
 * A writer for ResolveStreamResponse batches: `encodeDecision` per query, then `finish()` for the
 * batch's bytes. Reusable after `finish()`, so a stream keeps one for all its batches.
 */
export const createBatchWriter = (): WireWriter => createWireWriter();
