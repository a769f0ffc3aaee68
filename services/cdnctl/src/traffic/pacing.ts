/** Options of {@link createSchedule}. */
export interface ScheduleOptions {
  /** Offered rate in queries per second; 0 sends as fast as the workers can. */
  readonly rps: number;
  /** Queries per request: the batch size of a stream, 1 for unary calls. */
  readonly batchSize: number;
  /** Queries to send in all; `undefined` for no limit (then `durationMs` must be set). */
  readonly totalQueries?: number;
  /** Length of the run in ms; `undefined` to run until `totalQueries` are sent. */
  readonly durationMs?: number;
}

/** The queries of one request: `[first, first + count)`. */
export interface RequestSlice {
  readonly first: number;
  readonly count: number;
}

/**
 * When each request of a run is due, as offsets from the run's start. Pure: callers bring the
 * clock.
 *
 * Pacing is open-loop: request `k` is due at `k × batchSize / rps` seconds from the start,
 * whatever happened to the requests before it. A closed loop (send, wait, send) lets a slow server
 * lower the offered rate and hides the queueing its clients would see; measuring from these due
 * times instead counts that wait as latency ("coordinated omission", Gil Tene; wrk2 does the
 * same).
 */
export interface Schedule {
  /** Offered rate in queries per second; 0 when unpaced. */
  readonly rps: number;
  /** Requests in the run; `Infinity` when only the duration bounds it. */
  readonly requestCount: number;
  /** Queries in the run; `Infinity` when only the duration bounds it. */
  readonly queryCount: number;
  /** Gap between two request slots in ms; 0 when unpaced. */
  readonly intervalMs: number;
  /** Offset of request `k`'s slot from the start, in ms (0 for every request when unpaced). */
  dueMs(k: number): number;
  /** The queries request `k` carries (the last one may be short). */
  slice(k: number): RequestSlice;
  /** Whether request `k` may still be started `elapsedMs` after the start. */
  mayStart(k: number, elapsedMs: number): boolean;
  /**
   * Queries whose slot had come `elapsedMs` after the start: what was offered so far. Only
   * meaningful when paced (an unpaced run offers what it sends).
   */
  offeredQueries(elapsedMs: number): number;
}

/** @throws RangeError on a negative rate, a batch size below 1, or a run with no bound. */
export function createSchedule(options: ScheduleOptions): Schedule {
  const { rps, batchSize, durationMs } = options;
  if (!(rps >= 0) || !Number.isFinite(rps)) throw new RangeError(`rate must be a number >= 0, got ${rps}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batch size must be an integer >= 1, got ${batchSize}`);
  if (options.totalQueries === undefined && durationMs === undefined) throw new RangeError('a run needs a query count or a duration');
  let queryCount = options.totalQueries ?? Infinity;
  // A paced run with a duration offers exactly rps × duration queries (its slots before the end).
  if (rps > 0 && durationMs !== undefined) queryCount = Math.min(queryCount, Math.ceil((rps * durationMs) / 1000));
  const requestCount = Math.ceil(queryCount / batchSize);
  const intervalMs = rps > 0 ? (batchSize * 1000) / rps : 0;
  return {
    rps,
    requestCount,
    queryCount,
    intervalMs,
    dueMs: (k) => k * intervalMs,
    slice(k) {
      const first = k * batchSize;
      return { first, count: Math.max(0, Math.min(batchSize, queryCount - first)) };
    },
    mayStart: (k, elapsedMs) => k < requestCount && (durationMs === undefined || elapsedMs < durationMs),
    offeredQueries(elapsedMs) {
      if (intervalMs === 0) return 0;
      const due = Math.floor(elapsedMs / intervalMs) + 1;
      return Math.min(queryCount, Math.max(0, due) * batchSize);
    },
  };
}
