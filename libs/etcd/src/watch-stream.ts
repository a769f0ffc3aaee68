import type { IWatchResponse } from 'etcd3';
import { fromPb, type EtcdClient, type WatchEvent, type WatchStream } from './etcd-client.js';
import { CompactedError, EtcdError } from './etcd-error.js';
import { prefixRangeEnd } from './keys.js';

/**
 * One response of a watch: `created` (the watcher exists; says nothing about progress, since a
 * watcher created at an old revision may still be catching up), `events` (possibly several
 * revisions) or `progress` (an empty response: the stream is alive).
 *
 * A progress response is a liveness signal only. On etcd releases without the fix of etcd issue
 * #15220 (PR #15237: 3.4.24, 3.5.8 — Debian's 3.4.23 predates it), a progress notification
 * requested with WatchProgressRequest can be sent while events below its header revision are
 * still queued for this watcher, so its revision does not prove that every event up to it has been
 * delivered. Callers must never advance their resume revision from it.
 */
export interface WatchBatch {
  kind: 'created' | 'events' | 'progress';
  events: WatchEvent[];
  /** Store revision in the response header (informational: see above for progress responses). */
  headerRevision: number;
  /** Highest mod revision among `events`; 0 for `created` and `progress`. */
  revision: number;
}

/** Options of {@link watchPrefix}. */
export interface WatchPrefixOptions {
  prefix: string;
  /** First revision to deliver (inclusive). */
  startRevision: number;
  signal: AbortSignal;
  /**
   * With no message for this long, ask etcd for a progress notification; with still none after as
   * long again, give up on the stream (a cut network or a frozen member). Defaults to 5 seconds.
   */
  idleTimeoutMs?: number;
}

/**
 * Watches every key under `prefix` from `startRevision` on a raw etcd Watch stream of the `etcd3`
 * client (one member of its pool, require-leader), yielding one batch per etcd response.
 * Throws {@link CompactedError} when `startRevision` has been compacted (etcd answers with
 * `compact_revision` and cancels the watcher) — the caller must relist, never silently skip. Ends
 * by throwing {@link EtcdError} on a broken stream; returns when `signal` aborts.
 */
export async function* watchPrefix(client: EtcdClient, options: WatchPrefixOptions): AsyncGenerator<WatchBatch> {
  const what = `watch ${options.prefix}`;
  const queue: IWatchResponse[] = [];
  let failure: EtcdError | undefined;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const onAbort = (): void => notify();
  options.signal.addEventListener('abort', onAbort, { once: true });

  let stream: WatchStream | undefined;
  let idleTimer: NodeJS.Timeout | undefined;
  try {
    if (options.signal.aborted) return;
    stream = await client.openWatchStream().catch((e: unknown) => {
      throw EtcdError.from(e, what);
    });
    const s = stream;
    s.on('data', (res) => {
      queue.push(res);
      notify();
    });
    s.on('error', (error) => {
      failure ??= EtcdError.from(error, what);
      notify();
    });
    s.on('end', () => {
      failure ??= new EtcdError('UNAVAILABLE', `${what}: stream ended by etcd`, 14);
      notify();
    });
    const key = Buffer.from(options.prefix);
    s.write({
      create_request: {
        key,
        range_end: Buffer.from(prefixRangeEnd(key)),
        start_revision: String(options.startRevision),
        progress_notify: true,
      },
    });

    const idleMs = options.idleTimeoutMs ?? 5000;
    let lastMessageAt = Date.now();
    let progressAskedAt = 0;
    idleTimer = setInterval(() => {
      const quietFor = Date.now() - lastMessageAt;
      if (quietFor < idleMs) return;
      if (progressAskedAt > lastMessageAt && Date.now() - progressAskedAt >= idleMs) {
        const reason = `${what}: no message for ${quietFor} ms, not even a progress notification`;
        failure ??= new EtcdError('TIMEOUT', reason, 4);
        client.markStreamFailed(s, reason);
        notify();
        return;
      }
      if (progressAskedAt <= lastMessageAt) {
        progressAskedAt = Date.now();
        s.write({ progress_request: {} });
      }
    }, Math.max(50, Math.floor(idleMs / 4)));

    while (!options.signal.aborted) {
      const res = queue.shift();
      if (!res) {
        if (failure) throw failure;
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      lastMessageAt = Date.now();
      const headerRevision = Number(res.header?.revision ?? 0);
      if (Number(res.compact_revision) > 0) throw new CompactedError(Number(res.compact_revision), options.startRevision);
      if (res.canceled) throw new EtcdError('INTERNAL', `${what} canceled by etcd: ${res.cancel_reason || 'no reason given'}`);
      if (res.events.length === 0) {
        yield { kind: res.created ? 'created' : 'progress', events: [], headerRevision, revision: 0 };
        continue;
      }
      let revision = 0;
      const events = res.events.map((e) => {
        const kv = fromPb(e.kv);
        revision = Math.max(revision, kv.modRevision);
        return { type: e.type === 'Delete' ? ('delete' as const) : ('put' as const), kv };
      });
      yield { kind: 'events', events, headerRevision, revision };
    }
  } finally {
    clearInterval(idleTimer);
    options.signal.removeEventListener('abort', onAbort);
    if (stream) {
      // Half-close first: etcd3 marks a member failed on a stream error only while the stream is
      // still writable, and our own cancel is no failure of the member.
      stream.end();
      stream.cancel();
    }
  }
}
