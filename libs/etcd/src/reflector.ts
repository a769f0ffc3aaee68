import { createBackoff, sleep, type BackoffOptions } from '@cdn-sched/resilience';
import type { EtcdClient, KeyValue, WatchEvent } from './etcd-client.js';
import { CompactedError, EtcdError } from './etcd-error.js';
import { watchPrefix, type WatchBatch } from './watch-stream.js';

/** Why the reflector (re)listed. */
export type ListReason = 'initial' | 'compacted';

/** What the reflector is doing. */
export type ReflectorState = 'listing' | 'watching' | 'disconnected' | 'closed';

/** Options of {@link createReflector}. */
export interface ReflectorOptions {
  client: EtcdClient;
  prefix: string;
  /** A full list; replaces everything known. `revision` is the store revision of the read. */
  onSnapshot(kvs: KeyValue[], revision: number, reason: ListReason): void;
  /** Events in revision order; `revision` is the highest revision they contain. */
  onEvents(events: WatchEvent[], revision: number): void;
  /**
   * The stream is alive (an empty progress response). `revision` is the last applied revision, not
   * the response's: see {@link WatchBatch} on etcd issue #15220.
   */
  onProgress?(revision: number): void;
  onStateChange?(state: ReflectorState, error?: EtcdError): void;
  /**
   * How to list; defaults to `client.list(prefix)`. Services pass one that goes through their
   * breaker.
   */
  list?: (signal: AbortSignal) => Promise<{ kvs: KeyValue[]; revision: number }>;
  /** Reconnect backoff. Defaults to 100 ms doubling to 5 s, full jitter. */
  backoff?: BackoffOptions;
  /** See {@link WatchPrefixOptions.idleTimeoutMs}. Defaults to 5 seconds. */
  idleTimeoutMs?: number;
}

/** A running list+watch of one prefix. */
export interface Reflector {
  /** Highest revision applied (snapshot or event; never a progress notification's). */
  readonly revision: number;
  readonly state: ReflectorState;
  /** Relists now (e.g. after a consumer fell behind), then resumes watching. */
  relist(): void;
  close(): Promise<void>;
}

/**
 * Kubernetes-style list+watch (client-go's Reflector) for etcd, on the raw Watch stream of the
 * `etcd3` client (so it shares its pool, failover, TLS and auth):
 * - list the prefix, then watch from `list revision + 1`;
 * - on a broken stream (member killed, network cut, member without leader) resume — on whichever
 *   member the pool picks — from the last applied revision + 1, never from "now" (events in
 *   between would be lost) and never from an older revision (events would be applied twice).
 *   `etcd3`'s own `Watcher` is not used: it resumes from the last response header revision + 1,
 *   progress notifications included (wrong on etcd with issue #15220), and hides
 *   `compact_revision`;
 * - when the resume revision has been compacted, etcd cancels the watch with `compact_revision`:
 *   relist and publish a snapshot, so nothing is skipped and nothing goes back in time.
 */
/** etcd's `ErrNoLeader` ("etcdserver: no leader", etcd api/v3rpc/rpctypes). */
const NO_LEADER = /etcdserver: no leader/;

export function createReflector(options: ReflectorOptions): Reflector {
  const controller = new AbortController();
  const signal = controller.signal;
  const backoff = createBackoff({ baseMs: 100, maxMs: 5000, ...options.backoff });
  const list = options.list ?? ((s: AbortSignal) => options.client.list(options.prefix, { signal: s }));
  let revision = 0;
  let state: ReflectorState = 'listing';
  let needList: ListReason | undefined = 'initial';
  let streamAbort: AbortController | undefined;
  // Unreachable-member failures in a row, the members a round of attempts can try, and the pace
  // inside a round (the backoff's base, never growing).
  let unreachable = 0;
  const members = Math.max(1, options.client.endpoints.length);
  const nextMember = createBackoff({ ...options.backoff, maxMs: options.backoff?.baseMs ?? 100 });

  const setState = (next: ReflectorState, error?: EtcdError): void => {
    if (next === state && !error) return;
    state = next;
    options.onStateChange?.(next, error);
  };

  const apply = (batch: WatchBatch): void => {
    if (batch.kind === 'created') return;
    if (batch.kind === 'progress') {
      // Liveness only: on etcd without the fix of etcd issue #15220 (PR #15237) a requested progress
      // notification can overtake events still queued for this watcher, so its header revision is
      // no proof that they were delivered. Advancing to it could make a resume skip them.
      options.onProgress?.(revision);
      return;
    }
    // A resumed watch starts at revision + 1, so an event at or below `revision` can only come from
    // a server that went back in time (restored from backup): drop those rather than re-apply.
    const fresh = batch.events.filter((e) => e.kv.modRevision > revision);
    if (fresh.length > 0) {
      revision = batch.revision;
      options.onEvents(fresh, revision);
    }
  };

  const run = async (): Promise<void> => {
    while (!signal.aborted) {
      try {
        if (needList) {
          setState('listing');
          const reason = needList;
          const result = await list(signal);
          needList = undefined;
          revision = result.revision;
          options.onSnapshot(result.kvs, result.revision, reason);
        }
        streamAbort = new AbortController();
        const streamSignal = AbortSignal.any([signal, streamAbort.signal]);
        for await (const batch of watchPrefix(options.client, {
          prefix: options.prefix,
          startRevision: revision + 1,
          signal: streamSignal,
          idleTimeoutMs: options.idleTimeoutMs,
        })) {
          setState('watching');
          backoff.reset();
          unreachable = 0;
          apply(batch);
        }
        // watchPrefix returns only when aborted: by close(), or by relist().
      } catch (error) {
        if (signal.aborted) break;
        if (error instanceof CompactedError) {
          needList = 'compacted';
          setState('listing', error);
          continue;
        }
        const failure = EtcdError.from(error, `reflector ${options.prefix}`);
        setState('disconnected', failure);
        // A member without a leader (etcd's ErrNoLeader, refused by the require-leader metadata) is
        // alive and serves again as soon as the election ends, 1-2 election timeouts after a leader
        // died. Retrying it at the base pace keeps the backoff from growing through the election: a
        // grown backoff (up to its cap) would hold back the first event after a leader failover.
        // A member that cannot be reached (gRPC UNAVAILABLE: the stream dropped, no connection) is
        // skipped by the pool once its breaker opens, and the next attempt may go to a live member:
        // inside a round of attempts, as many as there are members, the next one follows at the
        // base pace, and the backoff grows once per round. So a dead member picked a few times in
        // a row does not hold back the survivors. With the backoff grown at each attempt, local
        // runs saw up to five unreachable attempts before a live member, and a CI run of the leader
        // failover test got its first event 1.6 s after the commit.
        const noLeader = NO_LEADER.test(failure.message);
        unreachable = failure.code === 'UNAVAILABLE' && !noLeader ? unreachable + 1 : 0;
        if (noLeader) backoff.reset();
        const delay = unreachable % members !== 0 ? nextMember.next() : backoff.next();
        await sleep(delay, signal).catch(() => undefined);
      }
    }
    setState('closed');
  };
  const done = run();

  return {
    get revision() {
      return revision;
    },
    get state() {
      return state;
    },
    relist() {
      needList = 'compacted';
      streamAbort?.abort();
    },
    async close() {
      controller.abort();
      await done;
    },
  };
}
