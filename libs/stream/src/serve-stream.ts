import type { Change, VersionedStore } from './versioned-store.js';

/**
 * How a service turns store contents into its own wire messages. A snapshot or delta may be several
 * messages (chunks, sent in order, that the client applies together when the last arrives).
 */
export interface StreamEncoder<V, R> {
  snapshot(version: number, entries: ReadonlyMap<string, V>, reason: string): R | readonly R[];
  delta(fromVersion: number, toVersion: number, changes: readonly Change<V>[]): R | readonly R[];
  progress(version: number): R;
}

function* each<R>(m: R | readonly R[]): Generator<R> {
  if (Array.isArray(m)) yield* m as readonly R[];
  else yield m as R;
}

/** Options of {@link serveVersionedStream}. */
export interface ServeStreamOptions<V, R> {
  store: VersionedStore<V>;
  /** What the client says it has. */
  request: { epoch: string; version: number };
  encoder: StreamEncoder<V, R>;
  signal: AbortSignal;
  /** A progress message is sent after this long without any other. Defaults to 1 second. */
  progressIntervalMs?: number;
  /**
   * True when versions mean the same thing in every epoch (config-watcher: the etcd revision), so a
   * client from another epoch can still be answered with deltas. Defaults to false.
   */
  versionsGlobal?: boolean;
  /** A delta with more changes than this is sent as a snapshot instead. Defaults to 50,000. */
  maxDeltaChanges?: number;
}

/**
 * One stream of the snapshot-then-delta protocol (Envoy delta xDS, Kubernetes list+watch): the first
 * message is the deltas since the client's version when the store still has them, else a snapshot
 * marked as one with the reason; then one delta per wake-up, merged over every version the client
 * missed. A slow client is never buffered for: it only holds the version it last received, and when
 * it falls out of the history it gets a snapshot. The generator's consumer (nice-grpc) waits for the
 * transport before asking for the next message, which is the backpressure.
 */
export async function* serveVersionedStream<V, R>(options: ServeStreamOptions<V, R>): AsyncGenerator<R> {
  const { store, encoder, signal } = options;
  const progressMs = options.progressIntervalMs ?? 1000;
  const maxDelta = options.maxDeltaChanges ?? 50_000;
  const sameEpoch = options.request.epoch === store.epoch || (options.versionsGlobal ?? false);

  let sent: number;
  const first = (): R | readonly R[] => {
    const { version } = options.request;
    if (version > 0 && sameEpoch) {
      const changes = store.changesSince(version);
      if (changes && changes.length <= maxDelta) {
        sent = store.version;
        return version === store.version ? encoder.progress(store.version) : encoder.delta(version, store.version, changes);
      }
    }
    sent = store.version;
    const reason =
      version === 0
        ? 'first connect'
        : !sameEpoch
          ? `new server epoch ${store.epoch}`
          : version > store.version
            ? `server is behind the client: at ${store.version}, client has ${version}`
            : `version ${version} is no longer in the history (oldest ${store.oldestDeltaVersion})`;
    return encoder.snapshot(store.version, store.entries, reason);
  };
  yield* each(first());

  while (!signal.aborted) {
    await store.waitForChange(sent!, progressMs, signal);
    if (signal.aborted) return;
    if (store.version === sent! && store.oldestDeltaVersion <= sent!) {
      yield encoder.progress(sent!);
      continue;
    }
    const changes = store.changesSince(sent!);
    const from = sent!;
    sent = store.version;
    if (changes && changes.length <= maxDelta) yield* each(encoder.delta(from, sent, changes));
    else yield* each(encoder.snapshot(sent, store.entries, `client fell behind: version ${from} is no longer in the history`));
  }
}
