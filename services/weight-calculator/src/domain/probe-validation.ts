import { ProbeErrorClass } from '@cdn-sched/proto';
import type { ProbeResult } from '@cdn-sched/proto';
import { requireNumber } from './option-checks.js';

/**
 * Validation of probe results before they touch any state. A prober bug (a NaN RTT, a clock an hour
 * off, a replayed batch) must cost one rejected result with a reason, never a corrupted EWMA or a
 * node flipped DOWN by a result from last week. The reasons go back to the prober in
 * `ReportProbesResponse.errors`, so they name the field as the proto does ("node n1: total_ms must
 * be a finite number >= 0, got NaN"), and the stable codes are for metrics labels.
 */

/** Why a result was rejected; stable strings, fit for a metrics label. */
export type IngestRejectCode =
  /** A field is malformed (NaN, negative time, load > 1, empty id, contradictory ok/error). */
  | 'INVALID_RESULT'
  /** The node is not in the table (unknown id, or removed). */
  | 'UNKNOWN_NODE'
  /** The probe started further in the future than the allowed clock skew. */
  | 'CLOCK_SKEW'
  /** The probe started longer ago than the allowed result age. */
  | 'TOO_OLD'
  /** Not newer than the last result applied for this (node, prober): replayed or reordered. */
  | 'OUT_OF_ORDER';

/** A result that was applied. */
export interface IngestAccepted {
  readonly accepted: true;
}

/** A result that was not applied, and why. */
export interface IngestRejected {
  readonly accepted: false;
  readonly code: IngestRejectCode;
  /** For a person, naming the node and field. */
  readonly error: string;
}

/** The outcome of one `ingest`. */
export type IngestOutcome = IngestAccepted | IngestRejected;

/** The one accepted outcome, shared so that accepting a result allocates nothing. */
export const INGEST_ACCEPTED: IngestAccepted = Object.freeze({ accepted: true });

export interface ProbeValidationOptions {
  /**
   * How far a result's `started_at_ms` may be ahead of the weight-calculator's clock,
   * milliseconds. Defaults to 60 000: NTP-synchronised hosts are within milliseconds; a minute
   * ahead means a broken clock whose results would otherwise look fresh forever.
   */
  maxClockSkewMs: number;
  /**
   * How old a result may be when it arrives, milliseconds. Defaults to 60 000: a prober that
   * reconnects and flushes a backlog must not replay minutes-old health as current.
   */
  maxResultAgeMs: number;
}

/** The defaults documented on {@link ProbeValidationOptions}. */
export const DEFAULT_PROBE_VALIDATION_OPTIONS: Readonly<ProbeValidationOptions> = Object.freeze({
  maxClockSkewMs: 60_000,
  maxResultAgeMs: 60_000,
});

/** The field and time checks that need no table state. */
export interface ProbeValidator {
  /** The resolved options. */
  readonly options: Readonly<ProbeValidationOptions>;
  /**
   * The rejection for a malformed or mistimed result, or undefined when it may be applied.
   * `startedAtMs` is `result.startedAtMs` as a number (the caller converts it once). Pure.
   */
  check(proberId: string, result: ProbeResult, startedAtMs: number, nowMs: number): IngestRejected | undefined;
}

/** Creates the validator; throws a `RangeError` naming a bad option. */
export function createProbeValidator(options: Partial<ProbeValidationOptions> = {}): ProbeValidator {
  const resolved: ProbeValidationOptions = {
    maxClockSkewMs: options.maxClockSkewMs ?? DEFAULT_PROBE_VALIDATION_OPTIONS.maxClockSkewMs,
    maxResultAgeMs: options.maxResultAgeMs ?? DEFAULT_PROBE_VALIDATION_OPTIONS.maxResultAgeMs,
  };
  requireNumber('maxClockSkewMs', resolved.maxClockSkewMs, 0, Number.MAX_SAFE_INTEGER);
  requireNumber('maxResultAgeMs', resolved.maxResultAgeMs, 0, Number.MAX_SAFE_INTEGER);
  const { maxClockSkewMs, maxResultAgeMs } = resolved;

  return {
    options: Object.freeze(resolved),
    check(proberId, result, startedAtMs, nowMs) {
      const { nodeId } = result;
      if (proberId === '') return invalid('prober_id must not be empty');
      if (nodeId === '') return invalid('node_id must not be empty');
      const fieldError =
        duration('connect_ms', result.connectMs) ??
        duration('ttfb_ms', result.ttfbMs) ??
        duration('total_ms', result.totalMs) ??
        load(result.load) ??
        startTime(startedAtMs) ??
        consistency(result);
      if (fieldError !== undefined) return invalid(`node ${nodeId}: ${fieldError}`);
      if (startedAtMs - nowMs > maxClockSkewMs) {
        return reject(
          'CLOCK_SKEW',
          `node ${nodeId}: started_at_ms is ${startedAtMs - nowMs} ms ahead of the weight-calculator's clock ` +
            `(limit ${maxClockSkewMs} ms); check the prober's clock`,
        );
      }
      if (nowMs - startedAtMs > maxResultAgeMs) {
        return reject(
          'TOO_OLD',
          `node ${nodeId}: result started ${nowMs - startedAtMs} ms ago (limit ${maxResultAgeMs} ms); not applied`,
        );
      }
      return undefined;
    },
  };
}

/** The rejection of a result for a node the table does not hold. */
export function rejectUnknownNode(nodeId: string): IngestRejected {
  return reject('UNKNOWN_NODE', `node ${nodeId}: unknown node`);
}

/** The rejection of a result not newer than the last applied one of the same (node, prober). */
export function rejectOutOfOrder(nodeId: string, proberId: string, startedAtMs: number, lastMs: number): IngestRejected {
  const what = startedAtMs === lastMs ? 'duplicate' : 'stale';
  return reject(
    'OUT_OF_ORDER',
    `node ${nodeId}: ${what} result from prober ${proberId}: started_at_ms ${startedAtMs} is not after ` +
      `the last applied ${lastMs}; not applied`,
  );
}

function reject(code: IngestRejectCode, error: string): IngestRejected {
  return { accepted: false, code, error };
}

function invalid(error: string): IngestRejected {
  return reject('INVALID_RESULT', error);
}

// `!(value >= 0)` is true for NaN as well as for negatives; one comparison on the accepted path.
function duration(field: string, value: number): string | undefined {
  if (value >= 0 && value !== Infinity) return undefined;
  return `${field} must be a finite number >= 0, got ${String(value)}`;
}

function load(value: number): string | undefined {
  if (value <= 1 && value !== -Infinity) return undefined;
  return `load must be in [0, 1], or negative when not reported, got ${String(value)}`;
}

function startTime(value: number): string | undefined {
  if (value > 0 && value <= Number.MAX_SAFE_INTEGER) return undefined;
  return `started_at_ms must be a positive Unix time in milliseconds, got ${String(value)}`;
}

function consistency(result: ProbeResult): string | undefined {
  if (!result.ok || result.errorClass === ProbeErrorClass.UNSPECIFIED) return undefined;
  const name = ProbeErrorClass[result.errorClass] ?? String(result.errorClass);
  return `ok is true but error_class is ${name}`;
}
