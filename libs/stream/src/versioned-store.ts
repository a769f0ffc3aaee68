import { randomUUID } from 'node:crypto';

/** One change to a keyed entry; `value` undefined is a delete. */
export interface Change<V> {
  key: string;
  value: V | undefined;
}

/** Options of {@link createVersionedStore}. */
export interface VersionedStoreOptions {
  /** Identifies this server incarnation. Defaults to a random UUID. */
  epoch?: string;
  /**
   * Changes kept for deltas (counted per change, not per version); a client older than the
   * history gets a snapshot. Defaults to 100,000.
   */
  maxHistoryChanges?: number;
}

/**
 * The server side of the versioned stream: the current entries, a bounded history of changes, and
 * a way to wait for the next version. Like go-control-plane's snapshot cache, one store answers any
 * number of streams, each of which only remembers the version it last sent.
 */
export interface VersionedStore<V> {
  readonly epoch: string;
  /** Version of the current entries (0 before the first commit). */
  readonly version: number;
  /** Oldest version a client may hold and still be answered with deltas. */
  readonly oldestDeltaVersion: number;
  readonly entries: ReadonlyMap<string, V>;
  /**
   * Applies `changes` as `version` (strictly greater than the current one; throws otherwise, since
   * going back in time is the one thing the protocol forbids) and wakes every waiting stream.
   */
  commit(version: number, changes: readonly Change<V>[]): void;
  /**
   * Replaces everything with `entries` at `version` (>= the current one) and forgets the history:
   * the initial load, or a relist. Clients older than `version` get a snapshot, since a delta from
   * before the store existed could not name the keys they hold that are now gone.
   */
  reset(version: number, entries: Iterable<[string, V]>): void;
  /** Merged changes (last value per key) from `version` (exclusive) to now, or undefined if too old. */
  changesSince(version: number): Change<V>[] | undefined;
  /** Resolves when the version moves past `version`, `timeoutMs` passes, or `signal` aborts. */
  waitForChange(version: number, timeoutMs: number, signal: AbortSignal): Promise<void>;
}

export function createVersionedStore<V>(options: VersionedStoreOptions = {}): VersionedStore<V> {
  const epoch = options.epoch ?? randomUUID();
  const maxHistory = options.maxHistoryChanges ?? 100_000;
  const entries = new Map<string, V>();
  // History as parallel arrays of (version, change), oldest first, from index `start`: trimming moves
  // `start` and the arrays are cut only once the dropped prefix is as long as the history kept, so a
  // commit costs what it adds, not a copy of the whole history (the weight-calculator commits ~10 k
  // changes a tick against a 100 k-change history: two full copies a tick, and a reallocation on
  // the next push, were ~8 % of its CPU under ingest load).
  let versions: number[] = [];
  let changes: Change<V>[] = [];
  let start = 0;
  let version = 0;
  let oldestDeltaVersion = 0;
  const waiters = new Set<() => void>();

  const trim = (): void => {
    if (changes.length - start <= maxHistory) return;
    // Drop whole versions so that a client is never handed half of one.
    let cut = changes.length - maxHistory;
    const lastDropped = versions[cut - 1]!;
    while (cut < versions.length && versions[cut] === lastDropped) cut++;
    start = cut;
    oldestDeltaVersion = lastDropped;
    if (start >= changes.length - start) {
      versions = versions.slice(start);
      changes = changes.slice(start);
      start = 0;
    }
  };

  return {
    epoch,
    get version() {
      return version;
    },
    get oldestDeltaVersion() {
      return oldestDeltaVersion;
    },
    entries,
    commit(next, batch) {
      if (!(next > version)) throw new Error(`versioned store: version ${next} is not after ${version}`);
      for (const c of batch) {
        if (c.value === undefined) entries.delete(c.key);
        else entries.set(c.key, c.value);
        versions.push(next);
        changes.push(c);
      }
      version = next;
      trim();
      for (const wake of waiters) wake();
      waiters.clear();
    },
    reset(next, items) {
      if (next < version) throw new Error(`versioned store: reset to version ${next} is before ${version}`);
      entries.clear();
      for (const [k, v] of items) entries.set(k, v);
      versions = [];
      changes = [];
      start = 0;
      version = next;
      oldestDeltaVersion = next;
      for (const wake of waiters) wake();
      waiters.clear();
    },
    changesSince(since) {
      if (since < oldestDeltaVersion || since > version) return undefined;
      const merged = new Map<string, Change<V>>();
      // Binary search for the first change after `since`.
      let lo = start;
      let hi = versions.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (versions[mid]! <= since) lo = mid + 1;
        else hi = mid;
      }
      for (let i = lo; i < changes.length; i++) {
        const c = changes[i]!;
        merged.delete(c.key);
        merged.set(c.key, c);
      }
      return [...merged.values()];
    },
    waitForChange(since, timeoutMs, signal) {
      if (version > since || signal.aborted) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, timeoutMs);
        signal.addEventListener('abort', done, { once: true });
        waiters.add(done);
      });
    },
  };
}
