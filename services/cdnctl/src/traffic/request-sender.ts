import { ClientError, Status } from 'nice-grpc';
import type { TrafficStats } from './traffic-stats.js';

/**
 * Sends requests of a run and records their outcome. A worker owns one sender and has at most one
 * request in flight on it.
 */
export interface RequestSender {
  /**
   * Sends one request carrying `queries`, numbered from `firstId`, and records every outcome.
   * `clockStartMs` (on the run's clock) is where its latency is counted from.
   *
   * @returns the gRPC status code when the request was lost as a whole, else `undefined` (item
   *   errors of a batch are recorded, not returned).
   */
  send(queries: readonly RequestQuery[], firstId: number, clockStartMs: number): Promise<number | undefined>;
  /** Ends the sender's stream or calls; resolves once they are closed. */
  close(): Promise<void>;
}

/** What a request carries per query. */
export interface RequestQuery {
  readonly clientIp: string;
  readonly ecsSubnet: string;
  readonly domain: string;
}

/** What every sender needs. */
export interface SenderOptions {
  /** Where outcomes are recorded. */
  readonly stats: TrafficStats;
  /** The run's monotonic clock, in ms. */
  readonly now: () => number;
  /** Time after which a request counts as `DEADLINE_EXCEEDED`, in ms. */
  readonly requestTimeoutMs: number;
  /** Aborts in-flight requests (they count as `CANCELLED`). */
  readonly signal: AbortSignal;
}

/**
 * The status code a failed call ends with: the server's status, `DEADLINE_EXCEEDED` when our own
 * timeout cut it, `CANCELLED` when the run was stopped.
 */
export function failureCode(error: unknown, timedOut: boolean, runSignal: AbortSignal): number {
  if (timedOut) return Status.DEADLINE_EXCEEDED;
  if (error instanceof ClientError) return error.code;
  if (runSignal.aborted) return Status.CANCELLED;
  return Status.UNKNOWN;
}
