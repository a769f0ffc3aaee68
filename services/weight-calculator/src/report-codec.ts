import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { expectEnd, expectWireType, ProbeErrorClass, readLengthEnd, readScalar, readString, readTag, serviceDefinitions, skipField, WireDecodeError, type ProbeResult, type ReportProbesRequest } from '@cdn-sched/proto';
import type { MethodDefinition } from 'nice-grpc';

/**
 * What the wire decoder adds to a ReportProbesRequest: results whose own bytes were malformed (inside
 * sound framing: they fail alone), and `malformed` when the request as a whole could not be read.
 * Returned rather than thrown, since grpc-js turns a deserializer exception into INTERNAL.
 */
export interface DecodeOutcome {
  /** One message per malformed result, naming the field and byte offset. */
  invalidResults: string[];
  /** Why the whole request is unreadable (the stream then ends with INVALID_ARGUMENT). */
  malformed?: string;
}

/**
 * Wire-level decoder of ReportProbesRequest, the weight-calculator's hot input (every probe of every
 * prober): the reflective decoder costs 2-5 µs per result, more than the weight table's own ingest
 * (< 1 µs). Field numbers from proto/cdn/sched/v1/weight_calculator.proto; encoding per
 * https://protobuf.dev/programming-guides/encoding/. Every field is checked against its declared
 * wire type and its message's end (checked-wire.ts in libs/proto), so malformed bytes are refused
 * instead of decoding into other values than the reflective decoder's; `report-codec.fuzz.spec.ts`
 * checks that against the reflective decoder.
 */
export function decodeReportProbesRequest(bytes: Uint8Array): ReportProbesRequest & DecodeOutcome {
  const reader = new BinaryReader(bytes);
  const request = { $typeName: 'cdn.sched.v1.ReportProbesRequest', proberId: '', seq: 0n, results: [] as ProbeResult[], traceparent: '', invalidResults: [] as string[] } as ReportProbesRequest & DecodeOutcome;
  const name = 'ReportProbesRequest';
  try {
    while (reader.pos < reader.len) {
      const at = reader.pos;
      const [field, wireType] = readTag(reader, name);
      if (field === 1) {
        expectWireType('prober_id', at, wireType, WireType.LengthDelimited);
        request.proberId = readString(reader, 'prober_id', reader.len);
      } else if (field === 2) {
        expectWireType('seq', at, wireType, WireType.Varint);
        request.seq = BigInt(readScalar(reader, 'seq', reader.len, () => reader.uint64()));
      } else if (field === 3) {
        const item = `results[${request.results.length + request.invalidResults.length}]`;
        expectWireType(item, at, wireType, WireType.LengthDelimited);
        const end = readLengthEnd(reader, item, reader.len);
        try {
          request.results.push(decodeProbeResult(reader, end, item));
        } catch (error) {
          if (!(error instanceof WireDecodeError)) throw error;
          request.invalidResults.push(error.message);
          reader.pos = end;
        }
      } else if (field === 4) {
        expectWireType('traceparent', at, wireType, WireType.LengthDelimited);
        request.traceparent = readString(reader, 'traceparent', reader.len);
      } else skipField(reader, name, field, wireType, reader.len);
    }
  } catch (error) {
    if (!(error instanceof WireDecodeError)) throw error;
    request.malformed = error.message;
  }
  return request;
}

const FIELD_TYPES: Record<number, [string, WireType]> = {
  1: ['node_id', WireType.LengthDelimited],
  2: ['ok', WireType.Varint],
  3: ['error_class', WireType.Varint],
  4: ['error_detail', WireType.LengthDelimited],
  5: ['connect_ms', WireType.Bit64],
  6: ['ttfb_ms', WireType.Bit64],
  7: ['total_ms', WireType.Bit64],
  8: ['status_code', WireType.Varint],
  9: ['load', WireType.Bit64],
  10: ['started_at_ms', WireType.Varint],
};

function decodeProbeResult(reader: BinaryReader, end: number, item: string): ProbeResult {
  const r = {
    $typeName: 'cdn.sched.v1.ProbeResult',
    nodeId: '',
    ok: false,
    errorClass: ProbeErrorClass.UNSPECIFIED,
    errorDetail: '',
    connectMs: 0,
    ttfbMs: 0,
    totalMs: 0,
    statusCode: 0,
    load: 0,
    startedAtMs: 0n,
  } as ProbeResult;
  while (reader.pos < end) {
    const at = reader.pos;
    const [field, wireType] = readTag(reader, item);
    const known = FIELD_TYPES[field];
    if (!known) {
      skipField(reader, item, field, wireType, end);
      continue;
    }
    const name = `${item}.${known[0]}`;
    expectWireType(name, at, wireType, known[1]);
    switch (field) {
      case 1:
        r.nodeId = readString(reader, name, end);
        break;
      case 2:
        r.ok = readScalar(reader, name, end, () => reader.bool());
        break;
      case 3:
        r.errorClass = readScalar(reader, name, end, () => reader.int32());
        break;
      case 4:
        r.errorDetail = readString(reader, name, end);
        break;
      case 5:
        r.connectMs = readScalar(reader, name, end, () => reader.double());
        break;
      case 6:
        r.ttfbMs = readScalar(reader, name, end, () => reader.double());
        break;
      case 7:
        r.totalMs = readScalar(reader, name, end, () => reader.double());
        break;
      case 8:
        r.statusCode = readScalar(reader, name, end, () => reader.uint32());
        break;
      case 9:
        r.load = readScalar(reader, name, end, () => reader.double());
        break;
      case 10:
        r.startedAtMs = BigInt(readScalar(reader, name, end, () => reader.int64()));
        break;
    }
  }
  expectEnd(reader, item, end);
  return r;
}

const base = serviceDefinitions.weightCalculator;

/** The weight-calculator's service definition: generated, except ReportProbes decodes at wire level. */
export const weightCalculatorServiceDefinition = {
  ...base,
  reportProbes: {
    ...base.reportProbes,
    requestDeserialize: decodeReportProbesRequest,
  } satisfies MethodDefinition<Parameters<typeof base.reportProbes.requestSerialize>[0], ReportProbesRequest, Parameters<typeof base.reportProbes.responseSerialize>[0], ReturnType<typeof base.reportProbes.responseDeserialize>, true, true>,
};
