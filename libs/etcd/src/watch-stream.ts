import type { etcdpb} from '@cdn-sched/proto';
import { mvccpb } from '@cdn-sched/proto';
import { fromPb, type EtcdClient, type WatchEvent } from './etcd-client.js';
import { CompactedError, EtcdError } from './etcd-error.js';
import { prefixRangeEnd, toBytes } from './keys.js';
import { createRequestChannel } from './request-channel.js';

/**
 * One response of a watch: `created` (the watcher exists; says nothing about progress, since a
 * watcher created at an old revision may still be catching up), `events` (possibly several
 * revisions) or `progress` (etcd 3.4 sends these only to synced watchers, so every event up to the
 * header revision has been delivered).
 */
export interface WatchBatch {
  kind: 'created' | 'events' | 'progress';
  events: WatchEvent[];
  /** Store revision in the response header: every event up to it has been delivered. */
  headerRevision: number;
  /** Highest mod revision among `events`, or the header revision for a progress notification. */
  revision: number;
  progress: boolean;
}

/** Options of {@link watchPrefix}. */
export interface WatchPrefixOptions {
  prefix: string;
  /** First revision to deliver (inclusive). */
  startRevision: number;
  signal: AbortSignal;
  /**
   * With no message for this long, ask etcd for a progress notification; with still none after as
   * long again, give up on the stream (a cut network or a frozen etcd). Defaults to 5 seconds.
   */
  idleTimeoutMs?: number;
}

/**
 * Watches every key under `prefix` from `startRevision`, yielding one batch per etcd response.
 * Throws {@link CompactedError} when `startRevision` has been compacted (etcd answers with
 * `compact_revision` and cancels the watcher) — the caller must relist, never silently skip. Ends
 * by throwing {@link EtcdError} on a broken stream; returns when `signal` aborts.
 */
export async function* watchPrefix(client: EtcdClient, options: WatchPrefixOptions): AsyncGenerator<WatchBatch> {
  const controller = new AbortController();
  const onOuterAbort = (): void => controller.abort(options.signal.reason);
  options.signal.addEventListener('abort', onOuterAbort, { once: true });
  const requests = createRequestChannel<etcdpb.WatchRequest>(controller.signal);
  const key = toBytes(options.prefix);
  requests.push({
    $typeName: 'etcdserverpb.WatchRequest',
    requestUnion: {
      case: 'createRequest',
      value: {
        $typeName: 'etcdserverpb.WatchCreateRequest',
        key,
        rangeEnd: prefixRangeEnd(key),
        startRevision: BigInt(options.startRevision),
        progressNotify: true,
        filters: [],
        prevKv: false,
        watchId: 0n,
        fragment: false,
      },
    },
  });
  const idleMs = options.idleTimeoutMs ?? 5000;
  let lastMessageAt = Date.now();
  let progressAskedAt = 0;
  const idleTimer = setInterval(() => {
    const quietFor = Date.now() - lastMessageAt;
    if (quietFor < idleMs) return;
    if (progressAskedAt > lastMessageAt && Date.now() - progressAskedAt >= idleMs) {
      controller.abort(new EtcdError('TIMEOUT', `watch ${options.prefix}: no message for ${quietFor} ms, not even a progress notification`));
      return;
    }
    if (progressAskedAt <= lastMessageAt) {
      progressAskedAt = Date.now();
      requests.push({
        $typeName: 'etcdserverpb.WatchRequest',
        requestUnion: { case: 'progressRequest', value: { $typeName: 'etcdserverpb.WatchProgressRequest' } },
      });
    }
  }, Math.max(50, Math.floor(idleMs / 4)));
  try {
    for await (const res of client.watch.watch(requests.iterable, { signal: controller.signal })) {
      lastMessageAt = Date.now();
      const headerRevision = Number(res.header?.revision ?? 0n);
      if (res.compactRevision > 0n) throw new CompactedError(Number(res.compactRevision), options.startRevision);
      if (res.canceled) throw new EtcdError('INTERNAL', `watch ${options.prefix} canceled by etcd: ${res.cancelReason || 'no reason given'}`);
      if (res.created && res.events.length === 0) {
        yield { kind: 'created', events: [], headerRevision, revision: options.startRevision - 1, progress: false };
        continue;
      }
      if (res.events.length === 0) {
        yield { kind: 'progress', events: [], headerRevision, revision: headerRevision, progress: true };
        continue;
      }
      let revision = 0;
      const events = res.events.map((e) => {
        const kv = fromPb(e.kv ?? ({ key: new Uint8Array(), value: new Uint8Array(), createRevision: 0n, modRevision: 0n, version: 0n, lease: 0n } as mvccpb.KeyValue));
        revision = Math.max(revision, kv.modRevision);
        return { type: e.type === mvccpb.Event_EventType.DELETE ? ('delete' as const) : ('put' as const), kv };
      });
      yield { kind: 'events', events, headerRevision, revision, progress: false };
    }
    if (!options.signal.aborted) throw new EtcdError('UNAVAILABLE', `watch ${options.prefix}: stream ended by etcd`);
  } catch (error) {
    if (options.signal.aborted) return;
    if (controller.signal.aborted && controller.signal.reason instanceof EtcdError) throw controller.signal.reason;
    throw EtcdError.from(error, `watch ${options.prefix}`);
  } finally {
    clearInterval(idleTimer);
    options.signal.removeEventListener('abort', onOuterAbort);
    controller.abort();
  }
}
