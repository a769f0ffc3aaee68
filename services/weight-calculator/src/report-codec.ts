import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { ProbeErrorClass, serviceDefinitions, type ProbeResult, type ReportProbesRequest } from '@cdn-sched/proto';
import type { MethodDefinition } from 'nice-grpc';

/**
 * Wire-level decoder of ReportProbesRequest, the weight-calculator's hot input (every probe of every
 * prober): the reflective decoder costs 2-5 µs per result, more than the weight table's own ingest
 * (< 1 µs). Field numbers from proto/cdn/sched/v1/weight_calculator.proto; encoding per
 * https://protobuf.dev/programming-guides/encoding/. `report-codec.spec.ts` checks it against the
 * reflective decoder.
 */
export function decodeReportProbesRequest(bytes: Uint8Array): ReportProbesRequest {
  const reader = new BinaryReader(bytes);
  const request = { $typeName: 'cdn.sched.v1.ReportProbesRequest', proberId: '', seq: 0n, results: [] as ProbeResult[] } as ReportProbesRequest;
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === WireType.LengthDelimited) request.proberId = reader.string();
    else if (field === 2 && wireType === WireType.Varint) request.seq = BigInt(reader.uint64());
    else if (field === 3 && wireType === WireType.LengthDelimited) request.results.push(decodeProbeResult(reader, reader.uint32() + reader.pos));
    else reader.skip(wireType);
  }
  return request;
}

function decodeProbeResult(reader: BinaryReader, end: number): ProbeResult {
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
    const [field, wireType] = reader.tag();
    switch (field) {
      case 1:
        r.nodeId = reader.string();
        break;
      case 2:
        r.ok = reader.bool();
        break;
      case 3:
        r.errorClass = reader.int32();
        break;
      case 4:
        r.errorDetail = reader.string();
        break;
      case 5:
        r.connectMs = reader.double();
        break;
      case 6:
        r.ttfbMs = reader.double();
        break;
      case 7:
        r.totalMs = reader.double();
        break;
      case 8:
        r.statusCode = reader.uint32();
        break;
      case 9:
        r.load = reader.double();
        break;
      case 10:
        r.startedAtMs = BigInt(reader.int64());
        break;
      default:
        reader.skip(wireType);
    }
  }
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
