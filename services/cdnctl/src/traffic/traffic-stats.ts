import { build, type Histogram } from 'hdr-histogram-js';
import { Status } from 'nice-grpc';

/** Latency percentiles of a run, in milliseconds (microsecond resolution). */
export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
}

/** Every figure of a run (the `--json` shape, documented in the README). */
export interface TrafficSummary {
  readonly durationS: number;
  /** What the schedule asked for: `rps` null when unpaced; `unsent` = offered but never sent. */
  readonly offered: { readonly rps: number | null; readonly queries: number; readonly unsent: number };
  /** Decisions (answers or item errors) and completed requests per second of the run. */
  readonly achieved: { readonly queriesPerS: number; readonly requestsPerS: number };
  readonly queries: { readonly sent: number; readonly ok: number; readonly failed: number; readonly degraded: number };
  /** Requests: unary calls, or stream batches. `failed` = ended with a status / lost with their stream. */
  readonly requests: { readonly sent: number; readonly ok: number; readonly failed: number };
  /** Per query (a stream query: from its batch's slot to its decision) and per request round trip. */
  readonly latencyMs: { readonly query: LatencySummary; readonly request: LatencySummary };
  /** How late requests went out after their slot (paced runs): the client's own lag. */
  readonly sendLagMs: { readonly p99: number; readonly max: number };
  /** Failed queries by gRPC status name: item errors by their code, the rest by their request's status. */
  readonly errors: Readonly<Record<string, number>>;
  /**
   * Failed requests by gRPC status name: unary calls that ended with a status, stream batches
   * lost to a stream failure or their deadline.
   */
  readonly requestErrors: Readonly<Record<string, number>>;
}

/** What the schedule offered, for {@link TrafficStats.summary}. */
export interface OfferedLoad {
  /** Queries per second asked for; 0 = as fast as possible. */
  readonly rps: number;
  /** Queries whose slot came during the run (paced); ignored when unpaced. */
  readonly queries: number;
}

/** Counters since the previous call, for the progress line. */
export interface ProgressSample {
  readonly queriesSent: number;
  readonly decisions: number;
  readonly failed: number;
  readonly degraded: number;
  readonly inFlight: number;
  /** p99 per-query latency over the interval, ms; 0 when nothing completed. */
  readonly p99Ms: number;
}

/** Recorder and reader of one run's figures. Latencies are recorded in microseconds. */
export interface TrafficStats {
  readonly queriesSent: number;
  readonly queriesOk: number;
  readonly queriesFailed: number;
  requestSent(queries: number): void;
  /** A decision arrived `latencyUs` after its request's clock started. */
  decision(latencyUs: number, degraded: boolean): void;
  /** A stream item failed with `code` (the rest of its batch is unaffected). */
  itemError(latencyUs: number, code: number): void;
  /** A request completed (every query answered or failed by item). */
  requestDone(latencyUs: number): void;
  /** A request ended with status `code` (a unary error, a lost stream): its `queries` unanswered ones fail with it. */
  requestFailed(code: number, queries: number): void;
  sendLag(lagUs: number): void;
  progress(): ProgressSample;
  summary(elapsedMs: number, offered: OfferedLoad): TrafficSummary;
  /** Adds this run's figures into `total` (for a stepped load's total). */
  addTo(total: TrafficStats): void;
}

/** Name of a gRPC status code: `NOT_FOUND`, or the number when it is not a known code. */
export function statusName(code: number): string {
  return Status[code] ?? String(code);
}

function histogram(): Histogram {
  // 3 significant digits from 1 µs; auto-resizing, so an hour-long stall still records.
  return build({ lowestDiscernibleValue: 1, numberOfSignificantValueDigits: 3, bitBucketSize: 'packed', useWebAssembly: false });
}

const ms = (us: number): number => Math.round(us) / 1000;

function latencySummary(h: Histogram): LatencySummary {
  if (h.totalCount === 0) return { count: 0, p50: 0, p95: 0, p99: 0, p999: 0, max: 0, mean: 0 };
  return {
    count: h.totalCount,
    p50: ms(h.getValueAtPercentile(50)),
    p95: ms(h.getValueAtPercentile(95)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    max: ms(h.maxValue),
    mean: ms(h.mean),
  };
}

const round2 = (v: number): number => Math.round(v * 100) / 100;

const clampUs = (us: number): number => Math.max(1, Math.round(us));

function bump(m: Map<string, number>, k: string, n: number): void {
  m.set(k, (m.get(k) ?? 0) + n);
}

class RunStats implements TrafficStats {
  private readonly query = histogram();
  private readonly request = histogram();
  private readonly lag = histogram();
  /** Per-query latencies since the last progress sample. */
  private readonly interval = histogram();
  private readonly errors = new Map<string, number>();
  private readonly requestErrors = new Map<string, number>();
  private readonly c = { qSent: 0, qOk: 0, qFailed: 0, degraded: 0, rSent: 0, rOk: 0, rFailed: 0 };
  private last = { qSent: 0, decisions: 0, failed: 0, degraded: 0 };

  get queriesSent(): number {
    return this.c.qSent;
  }

  get queriesOk(): number {
    return this.c.qOk;
  }

  get queriesFailed(): number {
    return this.c.qFailed;
  }

  requestSent(queries: number): void {
    this.c.rSent++;
    this.c.qSent += queries;
  }

  decision(latencyUs: number, degraded: boolean): void {
    const us = clampUs(latencyUs);
    this.query.recordValue(us);
    this.interval.recordValue(us);
    this.c.qOk++;
    if (degraded) this.c.degraded++;
  }

  itemError(latencyUs: number, code: number): void {
    const us = clampUs(latencyUs);
    this.query.recordValue(us);
    this.interval.recordValue(us);
    this.c.qFailed++;
    bump(this.errors, statusName(code), 1);
  }

  requestDone(latencyUs: number): void {
    this.request.recordValue(clampUs(latencyUs));
    this.c.rOk++;
  }

  requestFailed(code: number, queries: number): void {
    this.c.rFailed++;
    this.c.qFailed += queries;
    bump(this.requestErrors, statusName(code), 1);
    if (queries > 0) bump(this.errors, statusName(code), queries);
  }

  sendLag(lagUs: number): void {
    this.lag.recordValue(clampUs(lagUs));
  }

  progress(): ProgressSample {
    const { c, last, interval } = this;
    const decisions = c.qOk + c.qFailed;
    const sample: ProgressSample = {
      queriesSent: c.qSent - last.qSent,
      decisions: decisions - last.decisions,
      failed: c.qFailed - last.failed,
      degraded: c.degraded - last.degraded,
      inFlight: c.rSent - c.rOk - c.rFailed,
      p99Ms: interval.totalCount === 0 ? 0 : ms(interval.getValueAtPercentile(99)),
    };
    interval.reset();
    this.last = { qSent: c.qSent, decisions, failed: c.qFailed, degraded: c.degraded };
    return sample;
  }

  summary(elapsedMs: number, offered: OfferedLoad): TrafficSummary {
    const { c, query, request, lag } = this;
    const seconds = Math.max(elapsedMs, 1) / 1000;
    const paced = offered.rps > 0;
    const offeredQueries = paced ? Math.max(offered.queries, c.qSent) : c.qSent;
    const sorted = (m: Map<string, number>): Record<string, number> => Object.fromEntries([...m].sort((a, b) => b[1] - a[1]));
    return {
      durationS: Math.round(elapsedMs) / 1000,
      offered: { rps: paced ? offered.rps : null, queries: offeredQueries, unsent: offeredQueries - c.qSent },
      achieved: { queriesPerS: round2(query.totalCount / seconds), requestsPerS: round2(request.totalCount / seconds) },
      queries: { sent: c.qSent, ok: c.qOk, failed: c.qFailed, degraded: c.degraded },
      requests: { sent: c.rSent, ok: c.rOk, failed: c.rFailed },
      latencyMs: { query: latencySummary(query), request: latencySummary(request) },
      sendLagMs: { p99: lag.totalCount === 0 ? 0 : ms(lag.getValueAtPercentile(99)), max: ms(lag.maxValue) },
      errors: sorted(this.errors),
      requestErrors: sorted(this.requestErrors),
    };
  }

  addTo(total: TrafficStats): void {
    if (!(total instanceof RunStats)) throw new TypeError('addTo needs stats made by createTrafficStats');
    total.query.add(this.query);
    total.request.add(this.request);
    total.lag.add(this.lag);
    for (const [k, v] of this.errors) bump(total.errors, k, v);
    for (const [k, v] of this.requestErrors) bump(total.requestErrors, k, v);
    for (const key of Object.keys(this.c) as (keyof RunStats['c'])[]) total.c[key] += this.c[key];
  }
}

/** Creates empty {@link TrafficStats}. */
export function createTrafficStats(): TrafficStats {
  return new RunStats();
}
