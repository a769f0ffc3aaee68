import { create } from '@bufbuild/protobuf';
import { ProbeErrorClass, ProbeResultSchema, type ProbeResult } from '@cdn-sched/proto';

/** Timings of one probe, milliseconds. */
export interface ProbeTimings {
  /** TCP connect time; 0 when an open keep-alive connection was reused. */
  connectMs: number;
  /** Request start to response headers (http probes); 0 otherwise. */
  ttfbMs: number;
  totalMs: number;
}

/** Sentinel of ProbeResult.load: the edge did not report its load. */
export const LOAD_NOT_REPORTED = -1;

const round = (ms: number): number => Math.round(ms * 1000) / 1000;

/** A successful probe. */
export function probeSuccess(
  nodeId: string,
  startedAtMs: number,
  timings: ProbeTimings,
  statusCode = 0,
  load = LOAD_NOT_REPORTED,
): ProbeResult {
  return create(ProbeResultSchema, {
    nodeId,
    ok: true,
    errorClass: ProbeErrorClass.UNSPECIFIED,
    connectMs: round(timings.connectMs),
    ttfbMs: round(timings.ttfbMs),
    totalMs: round(timings.totalMs),
    statusCode,
    load,
    startedAtMs: BigInt(Math.round(startedAtMs)),
  });
}

/** A failed probe of class `errorClass` (never UNSPECIFIED). */
export function probeFailure(
  nodeId: string,
  startedAtMs: number,
  errorClass: ProbeErrorClass,
  errorDetail: string,
  timings: ProbeTimings,
  statusCode = 0,
): ProbeResult {
  return create(ProbeResultSchema, {
    nodeId,
    ok: false,
    errorClass: errorClass === ProbeErrorClass.UNSPECIFIED ? ProbeErrorClass.OTHER : errorClass,
    errorDetail,
    connectMs: round(timings.connectMs),
    ttfbMs: round(timings.ttfbMs),
    totalMs: round(timings.totalMs),
    statusCode,
    load: LOAD_NOT_REPORTED,
    startedAtMs: BigInt(Math.round(startedAtMs)),
  });
}
