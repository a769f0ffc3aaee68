import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { parseIpv4Bytes } from '@cdn-sched/geoip';
import { formatReason } from '../decision/index.js';
import type { Decided, ResolveInput } from './resolve-core.js';
import { createWireWriter, type WireWriter } from './wire-writer.js';

/**
 * Hand-written protobuf codec of the ResolveStream hot path: requests are read with the
 * `BinaryReader` of `@bufbuild/protobuf/wire`, decisions written with {@link WireWriter} (no
 * reflection: the reflective codec walks descriptors for every field of every message). Field
 * numbers are those of proto/cdn/sched/v1/resolver.proto; `wire-codec.spec.ts` checks that it is
 * byte-for-byte equal to the reflective codec (protobuf encoding spec:
 * https://protobuf.dev/programming-guides/encoding/ — proto3 fields at their default value are not
 * written; set message fields are, even when empty; fields are written in number order).
 */

const textDecoder = new TextDecoder();

/** Decodes a `ResolveStreamRequest` into plain inputs. Unknown fields are skipped (forward compatible). */
export function decodeResolveStreamRequest(bytes: Uint8Array): ResolveInput[] {
  const reader = new BinaryReader(bytes);
  const queries: ResolveInput[] = [];
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === WireType.LengthDelimited) queries.push(decodeResolveRequest(reader, reader.uint32() + reader.pos));
    else reader.skip(wireType);
  }
  return queries;
}

/** Decodes a unary `ResolveRequest` (the Resolve method's request). */
export function decodeResolveRequestBytes(bytes: Uint8Array): ResolveInput {
  const reader = new BinaryReader(bytes);
  return decodeResolveRequest(reader, reader.len);
}

/**
 * Encodes a unary `ResolveResponse` for a successful decision, with `writer` reused between calls;
 * `compact` as in `encodeResponseFields`.
 */
export function encodeResolveResponse(writer: WireWriter, queryId: bigint, decided: Decided, compact = false): Uint8Array {
  encodeResponseFields(writer, queryId, decided, compact);
  return writer.finish();
}

function decodeResolveRequest(reader: BinaryReader, end: number): ResolveInput {
  const q: ResolveInput = { queryId: 0n, clientIp: '', ecsSubnet: '', domain: '', answers: 0, compact: false };
  while (reader.pos < end) {
    const [field, wireType] = reader.tag();
    switch (field) {
      case 1:
        q.queryId = BigInt(reader.uint64());
        break;
      case 2: {
        // Parse an IPv4 address from the bytes themselves; make a string only for anything else.
        const bytes = reader.bytes();
        const v4 = parseIpv4Bytes(bytes);
        if (v4 >= 0) {
          q.clientIpV4 = v4;
          q.clientIp = '';
        } else {
          q.clientIpV4 = undefined;
          q.clientIp = textDecoder.decode(bytes);
        }
        break;
      }
      case 3:
        q.ecsSubnet = reader.string();
        break;
      case 4:
        q.domain = reader.string();
        break;
      case 5:
        q.answers = reader.uint32();
        break;
      case 6:
        q.compact = reader.bool();
        break;
      default:
        reader.skip(wireType);
    }
  }
  return q;
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
