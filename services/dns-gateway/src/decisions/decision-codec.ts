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
import { createWireWriter, expectEnd, expectWireType, readLengthEnd, readScalar, readString, readTag, skipField, type WireWriter } from '@cdn-sched/proto';

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

/** Reads a `ResolveStreamResponse`; throws a {@link WireDecodeError} for malformed bytes. */
export function decodeDecisionBatch(bytes: Uint8Array): IncomingDecision[] {
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
