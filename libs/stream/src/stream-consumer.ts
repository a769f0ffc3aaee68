import { breakerProfiles, createBackoff, createTunedBreaker, sleep, type BackoffOptions, type TunedBreakerStatus } from '@cdn-sched/resilience';
import type { Change } from './versioned-store.js';

/** A decoded message of a versioned stream. */
export type StreamMessage<V> =
  | { kind: 'snapshot'; epoch: string; version: number; entries: Iterable<[string, V]>; reason: string; more?: boolean; traceparent?: string }
  | { kind: 'delta'; epoch: string; fromVersion: number; version: number; changes: readonly Change<V>[]; more?: boolean; traceparent?: string }
  | {
      kind: 'progress';
      epoch: string;
      version: number;
      watchLatencyP99Ms?: number;
      upstreamHealthy?: boolean;
      /**
       * How old the server's own view is (e.g. the config-watcher cut off from etcd): the data is as
       * old as that, however recently the server itself spoke. Milliseconds.
       */
      upstreamStalenessMs?: number;
    };

/** What the consumer knows, for status pages and `degraded` flags. */
export interface ConsumerState {
  readonly connected: boolean;
  readonly epoch: string;
  readonly version: number;
  /** Wall time of the last message that confirmed `version`, or 0 before the first. */
  readonly confirmedAtMs: number;
  readonly stalenessMs: number;
  /** True before the first snapshot, or when staleness exceeds `maxStalenessMs`. */
  readonly stale: boolean;
  readonly lastError: string | undefined;
  /** Latest etcd watch latency p99 published by the server, milliseconds (NaN before any). */
  readonly watchLatencyP99Ms: number;
  /** Whether the server said its own upstream is healthy in its latest progress. */
  readonly upstreamHealthy: boolean;
}

/** One applied snapshot or delta, as {@link StreamConsumerOptions.onApplied} gets it. */
export interface AppliedUpdate<V> {
  snapshot: boolean;
  /** Epoch of the server's store the version belongs to. */
  epoch: string;
  version: number;
  changes: readonly Change<V>[];
  /** W3C traceparent of the span that produced the version on the server; `''` when not traced. */
  traceparent: string;
}

/** Options of {@link createStreamConsumer}. */
export interface StreamConsumerOptions<R, V> {
  /** Name in logs and status ("config-watcher"). */
  name: string;
  /** Opens the stream from what the client has. */
  open(request: { epoch: string; version: number }, signal: AbortSignal): AsyncIterable<R>;
  decode(message: R): StreamMessage<V>;
  /**
   * Called after an update has been applied to `entries` (atomically: in one synchronous block, so
   * no reader sees half of it). `changes` lists what changed; for a snapshot `snapshot` is true.
   */
  onApplied?(update: AppliedUpdate<V>, entries: ReadonlyMap<string, V>): void;
  onStateChange?(state: ConsumerState): void;
  /** Versions mean the same in every epoch (etcd revisions): a new epoch must not go back either. */
  versionsGlobal?: boolean;
  /** Past this age without confirmation the view is stale, milliseconds. Defaults to 10 seconds. */
  maxStalenessMs?: number;
  backoff?: BackoffOptions;
  /**
   * Bound from opening a stream to its first message, milliseconds; past it the attempt counts as a
   * failed connection. A 10 k-node snapshot takes well under 1 s on a loaded 2-core machine.
   * Defaults to 5 seconds.
   */
  connectTimeoutMs?: number;
  /** Clock, for tests. Defaults to Date.now. */
  now?: () => number;
}

/** A running consumer. */
export interface StreamConsumer<V> {
  readonly entries: ReadonlyMap<string, V>;
  readonly state: ConsumerState;
  breakerStatus(): TunedBreakerStatus;
  /** Resolves once the first snapshot has been applied (or rejects when `signal` aborts). */
  ready(signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** A violation of the protocol by the server: the consumer drops the stream and reconnects. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

/**
 * The client side of the versioned stream, used by every service that consumes config or weights:
 * applies snapshots and deltas atomically, resumes from its version with jittered backoff, refuses
 * to go back in time (a lower version, or a delta that does not start where it is), and reports
 * its staleness. Opening the stream goes through a breaker with a fixed connect timeout.
 */
export function createStreamConsumer<R, V>(options: StreamConsumerOptions<R, V>): StreamConsumer<V> {
  const now = options.now ?? Date.now;
  const maxStalenessMs = options.maxStalenessMs ?? 10_000;
  const entries = new Map<string, V>();
  const controller = new AbortController();
  // Reconnects are quick (at most 2 s apart) and the breaker half-opens after 0.5-2 s: a consumer
  // must be back within a couple of seconds of its upstream's restart, well inside the staleness
  // lease, while a dead upstream still sees at most one attempt per reset period.
  const backoff = createBackoff({ baseMs: 100, maxMs: 2000, ...options.backoff });
  let connected = false;
  let epoch = '';
  let version = 0;
  let confirmedAtMs = 0;
  let lastError: string | undefined;
  let watchLatencyP99Ms = Number.NaN;
  let upstreamHealthy = false;
  let haveSnapshot = false;
  let readyResolve: () => void;
  const readyPromise = new Promise<void>((r) => (readyResolve = r));
  // The breaker asks "is this server alive and serving?": the first message of a stream comes from
  // the server's memory (a snapshot or the deltas since our version), never from etcd, so its bound
  // is a fixed connect timeout and not one derived from etcd's watch latency. Derived, it was the
  // 15 s "nothing measured yet" ceiling on every new stream: a replica that accepts the connection
  // and never answers held a consumer for 15 s before it tried elsewhere.
  const connectTimeoutMs = options.connectTimeoutMs ?? 5000;
  const breaker = createTunedBreaker({
    name: `${options.name}.connect`,
    ...breakerProfiles.connect,
    latencyP99Ms: () => Number.NaN,
    timeoutFloorMs: connectTimeoutMs,
    timeoutCeilingMs: connectTimeoutMs,
    upstreamAlive: () => false,
  });

  const state: ConsumerState = {
    get connected() {
      return connected;
    },
    get epoch() {
      return epoch;
    },
    get version() {
      return version;
    },
    get confirmedAtMs() {
      return confirmedAtMs;
    },
    get stalenessMs() {
      return confirmedAtMs === 0 ? Number.POSITIVE_INFINITY : Math.max(0, now() - confirmedAtMs);
    },
    get stale() {
      return !haveSnapshot || this.stalenessMs > maxStalenessMs;
    },
    get lastError() {
      return lastError;
    },
    get watchLatencyP99Ms() {
      return watchLatencyP99Ms;
    },
    get upstreamHealthy() {
      return upstreamHealthy;
    },
  };
  const changed = (): void => options.onStateChange?.(state);

  // Chunks of a snapshot or delta received so far (see StreamEncoder): nothing is applied until the
  // last one, so no reader ever sees half of a version.
  let partial: { kind: 'snapshot' | 'delta'; epoch: string; version: number; fromVersion: number; reason: string; items: (readonly [string, V | undefined])[] } | undefined;
  const assemble = (m: StreamMessage<V>): StreamMessage<V> | undefined => {
    if (m.kind === 'progress') {
      if (partial) throw new ProtocolError(`${options.name}: progress in the middle of a chunked ${partial.kind} of version ${partial.version}`);
      return m;
    }
    if (!m.more && !partial) return m;
    const fromVersion = m.kind === 'delta' ? m.fromVersion : 0;
    if (!partial) partial = { kind: m.kind, epoch: m.epoch, version: m.version, fromVersion, reason: m.kind === 'snapshot' ? m.reason : '', items: [] };
    else if (partial.kind !== m.kind || partial.epoch !== m.epoch || partial.version !== m.version || partial.fromVersion !== fromVersion) {
      throw new ProtocolError(`${options.name}: chunk of ${m.kind} ${m.version} inside a chunked ${partial.kind} of version ${partial.version}`);
    }
    if (m.kind === 'snapshot') for (const [k, v] of m.entries) partial.items.push([k, v]);
    else for (const c of m.changes) partial.items.push([c.key, c.value]);
    if (m.more) return undefined;
    const p = partial;
    partial = undefined;
    // The last chunk carries the version's trace context.
    const traceparent = m.traceparent;
    return p.kind === 'snapshot'
      ? { kind: 'snapshot', epoch: p.epoch, version: p.version, reason: p.reason, entries: p.items as [string, V][], traceparent }
      : { kind: 'delta', epoch: p.epoch, fromVersion: p.fromVersion, version: p.version, changes: p.items.map(([key, value]) => ({ key, value })), traceparent };
  };

  const apply = (chunk: StreamMessage<V>): void => {
    const m = assemble(chunk);
    if (!m) return;
    const backwards = m.version < version && (m.epoch === epoch || options.versionsGlobal);
    if (m.kind === 'snapshot') {
      if (backwards) throw new ProtocolError(`${options.name}: snapshot at version ${m.version} is behind applied version ${version}`);
      entries.clear();
      const changes: Change<V>[] = [];
      for (const [key, value] of m.entries) {
        entries.set(key, value);
        changes.push({ key, value });
      }
      epoch = m.epoch;
      version = m.version;
      haveSnapshot = true;
      options.onApplied?.({ snapshot: true, epoch: m.epoch, version, changes, traceparent: m.traceparent ?? '' }, entries);
      readyResolve();
    } else if (m.kind === 'delta') {
      if (!haveSnapshot || m.epoch !== epoch && !options.versionsGlobal) throw new ProtocolError(`${options.name}: delta without a snapshot of epoch ${m.epoch}`);
      if (m.fromVersion !== version) throw new ProtocolError(`${options.name}: delta from ${m.fromVersion} does not start at applied version ${version}`);
      if (!(m.version > version)) throw new ProtocolError(`${options.name}: delta to ${m.version} does not move past ${version}`);
      for (const c of m.changes) {
        if (c.value === undefined) entries.delete(c.key);
        else entries.set(c.key, c.value);
      }
      epoch = m.epoch;
      version = m.version;
      options.onApplied?.({ snapshot: false, epoch: m.epoch, version, changes: m.changes, traceparent: m.traceparent ?? '' }, entries);
    } else {
      if (backwards) throw new ProtocolError(`${options.name}: progress at version ${m.version} is behind applied version ${version}`);
      if (m.watchLatencyP99Ms !== undefined && Number.isFinite(m.watchLatencyP99Ms) && m.watchLatencyP99Ms > 0) watchLatencyP99Ms = m.watchLatencyP99Ms;
      if (m.upstreamHealthy !== undefined) upstreamHealthy = m.upstreamHealthy;
    }
    // The lease on the data runs from when its source last confirmed it: a progress message from a
    // server that has itself been cut off for 20 s does not make the view fresh.
    const upstreamAge = m.kind === 'progress' && m.upstreamStalenessMs !== undefined && m.upstreamStalenessMs > 0 ? m.upstreamStalenessMs : 0;
    confirmedAtMs = now() - upstreamAge;
  };

  const run = async (): Promise<void> => {
    const signal = controller.signal;
    while (!signal.aborted) {
      const streamAbort = new AbortController();
      const streamSignal = AbortSignal.any([signal, streamAbort.signal]);
      try {
        const iterator = options.open({ epoch, version }, streamSignal)[Symbol.asyncIterator]();
        // The first message proves the connection; wait for it through the breaker so that a dead
        // upstream fails fast instead of every consumer hanging on it.
        const first = await breaker.fire(async (deadline) => {
          const onDeadline = (): void => streamAbort.abort(deadline.reason);
          deadline.addEventListener('abort', onDeadline, { once: true });
          try {
            return await iterator.next();
          } finally {
            deadline.removeEventListener('abort', onDeadline);
          }
        });
        if (first.done) throw new Error('stream ended before its first message');
        connected = true;
        lastError = undefined;
        backoff.reset();
        apply(options.decode(first.value));
        changed();
        for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
          apply(options.decode(next.value));
          changed();
        }
        if (!signal.aborted) throw new Error('stream ended by the server');
      } catch (error) {
        streamAbort.abort();
        partial = undefined;
        if (signal.aborted) break;
        lastError = error instanceof Error ? error.message : String(error);
        if (error instanceof ProtocolError) {
          // Start over from nothing: the safest way back to a consistent view.
          epoch = '';
          version = options.versionsGlobal ? version : 0;
        }
      } finally {
        streamAbort.abort();
      }
      if (connected) {
        connected = false;
        changed();
      }
      await sleep(backoff.next(), signal).catch(() => undefined);
    }
  };
  const done = run();

  return {
    entries,
    state,
    breakerStatus: () => breaker.status(),
    ready(signal) {
      if (!signal) return readyPromise;
      return Promise.race([
        readyPromise,
        new Promise<void>((_, reject) => {
          if (signal.aborted) reject(signal.reason);
          signal.addEventListener('abort', () => reject(signal.reason), { once: true });
        }),
      ]);
    },
    async close() {
      controller.abort();
      await done;
      breaker.shutdown();
    },
  };
}

/**
 * The consumer, plus its upstream address; closing it also closes `ownedChannel` (a channel the
 * consumer made for itself, as opposed to one shared with other clients of the same peer).
 */
export function withChannel<V>(consumer: StreamConsumer<V>, target: string, ownedChannel?: { close(): void }): StreamConsumer<V> & { readonly target: string } {
  return Object.assign(Object.create(consumer) as StreamConsumer<V>, {
    target,
    async close() {
      await consumer.close();
      ownedChannel?.close();
    },
  });
}
