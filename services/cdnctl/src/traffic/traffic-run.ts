import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { Status } from 'nice-grpc';
import type { Schedule } from './pacing.js';
import type { Query } from './query-log.js';
import type { RequestSender, SenderOptions } from './request-sender.js';
import type { ResolverConnection } from './resolver-connection.js';
import { createStreamSender } from './stream-sender.js';
import { createTrafficStats, type ProgressSample, type TrafficStats, type TrafficSummary } from './traffic-stats.js';
import { createUnarySender } from './unary-sender.js';

/** How requests go out: batches over `ResolveStream`, or one `Resolve` call per query. */
export type TrafficMode = 'stream' | 'unary';

/** Options of {@link runTraffic}. */
export interface TrafficRunOptions {
  readonly connection: ResolverConnection;
  /** Queries to send, in order, starting over from the first when the run needs more. */
  readonly queries: readonly Query[];
  /** When requests are due; its batch size must be 1 in unary mode. */
  readonly schedule: Schedule;
  readonly mode: TrafficMode;
  /** Streams (stream mode) or concurrent callers (unary mode), each with one request in flight. */
  readonly concurrency: number;
  /** Where figures are recorded. Defaults to fresh stats. */
  readonly stats?: TrafficStats;
  /** Monotonic clock in ms. Defaults to `performance.now`. */
  readonly now?: () => number;
  /** Time after which a request counts as `DEADLINE_EXCEEDED`, in ms. Defaults to 10 seconds. */
  readonly requestTimeoutMs?: number;
  /** Stops the run early; in-flight requests count as `CANCELLED`. */
  readonly signal?: AbortSignal;
  /** Called every `progressIntervalMs` with the figures since the previous call. */
  readonly onProgress?: (sample: ProgressSample, elapsedMs: number) => void;
  /** Interval of `onProgress`, in ms. Defaults to 1 second. */
  readonly progressIntervalMs?: number;
  /** Id of the run's first query (ids follow the schedule's query numbers). Defaults to 1. */
  readonly firstQueryId?: number;
}

/** What a run measured. */
export interface TrafficRunResult {
  readonly stats: TrafficStats;
  readonly elapsedMs: number;
  readonly summary: TrafficSummary;
}

/** First and longest pause after a request was lost to the transport, in ms. */
const BACKOFF_BASE_MS = 25;
const BACKOFF_MAX_MS = 1000;
/** Unary statuses that mean "the server is not there" rather than "this query is bad". */
const TRANSIENT = new Set<number>([Status.UNAVAILABLE, Status.DEADLINE_EXCEEDED, Status.INTERNAL, Status.UNKNOWN]);

/** Sleeps unless aborted; resolves to false when `signal` aborted. */
async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs one traffic run against a resolver: `concurrency` workers take request slots from the
 * schedule in order, each waiting for its slot, sending, and recording the outcome.
 *
 * The latency clock of a request starts at its slot when the slot passed while every worker was
 * busy (the server was slow: that wait is latency a real client would have seen — coordinated
 * omission), and when it actually goes out when a worker was idle and waiting for it (timer
 * slop of ~1 ms is the client's, reported as send lag, not the server's). A worker that loses a
 * request to the transport pauses (25 ms doubling to 1 s) so a dead resolver is not hammered; the
 * schedule keeps running meanwhile, so the missed slots show up as latency or as unsent.
 */
export async function runTraffic(options: TrafficRunOptions): Promise<TrafficRunResult> {
  const { schedule, mode, queries, connection } = options;
  if (queries.length === 0) throw new RangeError('no queries to send');
  if (!Number.isInteger(options.concurrency) || options.concurrency < 1) throw new RangeError(`concurrency must be an integer >= 1, got ${options.concurrency}`);
  if (mode === 'unary' && schedule.slice(0).count > 1) throw new RangeError('a unary run needs a schedule with batches of 1');
  const stats = options.stats ?? createTrafficStats();
  const now = options.now ?? (() => performance.now());
  // One signal for the whole run: every in-flight call and every pause listens to it, so its
  // listener count is a few per worker by design, not a leak (Node warns past 10).
  const stop = new AbortController();
  const signal = stop.signal;
  setMaxListeners(0, signal);
  const onStop = (): void => stop.abort();
  if (options.signal?.aborted) stop.abort();
  options.signal?.addEventListener('abort', onStop, { once: true });
  const firstQueryId = options.firstQueryId ?? 1;
  const senderOptions: SenderOptions = { stats, now, signal, requestTimeoutMs: options.requestTimeoutMs ?? 10_000 };
  const start = now();
  let next = 0;

  const worker = async (sender: RequestSender): Promise<void> => {
    let failures = 0;
    for (;;) {
      const elapsed = now() - start;
      if (signal.aborted || !schedule.mayStart(next, elapsed)) return;
      const k = next++;
      const due = schedule.dueMs(k);
      let clockStart: number;
      if (schedule.intervalMs === 0) clockStart = now();
      else if (due > elapsed) {
        if (!(await pause(due - elapsed, signal))) return;
        clockStart = now();
        stats.sendLag((clockStart - start - due) * 1000);
      } else {
        clockStart = start + due;
        stats.sendLag((elapsed - due) * 1000);
      }
      const { first, count } = schedule.slice(k);
      const batch = new Array<Query>(count);
      for (let i = 0; i < count; i++) batch[i] = queries[(first + i) % queries.length]!;
      const code = await sender.send(batch, firstQueryId + first, clockStart);
      if (code === undefined || (mode === 'unary' && !TRANSIENT.has(code))) failures = 0;
      else if (!(await pause(Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** failures++), signal))) return;
    }
  };

  const timer = options.onProgress
    ? setInterval(() => options.onProgress!(stats.progress(), now() - start), options.progressIntervalMs ?? 1000)
    : undefined;
  timer?.unref();
  const senders = Array.from({ length: options.concurrency }, () =>
    mode === 'stream' ? createStreamSender(connection.client, senderOptions) : createUnarySender(connection.client, senderOptions),
  );
  let elapsedMs: number;
  try {
    await Promise.all(senders.map(worker));
    elapsedMs = now() - start;
  } finally {
    clearInterval(timer);
    options.signal?.removeEventListener('abort', onStop);
    await Promise.all(senders.map((s) => s.close()));
  }
  const summary = stats.summary(elapsedMs, { rps: schedule.rps, queries: schedule.offeredQueries(elapsedMs) });
  return { stats, elapsedMs, summary };
}
