import { create } from '@bufbuild/protobuf';
import { parseDocument, writerTracesPrefix } from '@cdn-sched/documents';
import { toText, type KeyValue, type WatchEvent } from '@cdn-sched/etcd';
import { RejectedDocumentSchema } from '@cdn-sched/proto';
import type { Change, VersionedStore } from '@cdn-sched/stream';
import { domainEntryKey, nodeEntryKey, rejectedEntryKey, type ConfigEntry } from '@cdn-sched/stream';

/** Options of {@link createConfigState}. */
export interface ConfigStateOptions {
  store: VersionedStore<ConfigEntry>;
  /** Key prefix of the documents ("/cdn/"). */
  prefix: string;
  /** Called for every rejected document (log it, count it). */
  onRejected?(key: string, reason: string, revision: number): void;
  /** Called for puts under `<prefix>heartbeat/` (watch-latency measurement). */
  onHeartbeat?(key: string, value: Uint8Array): void;
  /**
   * Called after a new version is committed to the store (not on a reset). `writers` holds the
   * traceparent values writers left under `<prefix>traces/` in the events merged into this version
   * (one per write, in order; empty after a relist). Defaults to none.
   */
  onCommit?(revision: number, changes: readonly Change<ConfigEntry>[], writers: readonly string[]): void;
  /**
   * Called after a list replaced the store's entries (the first load, or a list not newer than the
   * store): the store is at `revision` with `size` entries. Defaults to none.
   */
  onReset?(revision: number, size: number): void;
}

/** Turns etcd lists and events into validated, versioned config entries. */
export interface ConfigState {
  /** A full list at `revision`: the initial load, or a relist after compaction (one delta). */
  applyList(kvs: readonly KeyValue[], revision: number): void;
  applyEvents(events: readonly WatchEvent[], revision: number): void;
}

/**
 * The heart of the config-watcher's "nothing lost, nothing crashes" rule (docs/architecture.md,
 * "Documents"): a document that does not validate is rejected with its key and reason and the last good
 * value for that key stays in force; a delete is a delete (of the document and of its rejection).
 * Because a document's id must equal its key, the entry of `/cdn/nodes/<id>` is always
 * `node/<id>`: deletes need no bookkeeping.
 */
export function createConfigState(options: ConfigStateOptions): ConfigState {
  const { store, prefix } = options;
  const nodesPrefix = `${prefix}nodes/`;
  const domainsPrefix = `${prefix}domains/`;
  const heartbeatPrefix = `${prefix}heartbeat/`;
  const tracesPrefix = writerTracesPrefix(prefix);

  const entryKeyOf = (etcdKey: string): string | undefined => {
    if (etcdKey.startsWith(nodesPrefix)) return nodeEntryKey(etcdKey.slice(nodesPrefix.length));
    if (etcdKey.startsWith(domainsPrefix)) return domainEntryKey(etcdKey.slice(domainsPrefix.length));
    return undefined;
  };

  /** Validates one value: the accepted entry, or the rejection entry. */
  const validate = (kv: KeyValue): ConfigEntry => {
    const result = parseDocument(kv.key, kv.value, { prefix });
    if (result.ok && result.kind === 'node') return { kind: 'node', node: result.node };
    if (result.ok && result.kind === 'domain') return { kind: 'domain', domain: result.domain };
    const reason = result.ok ? `not a node or domain document` : result.reason;
    options.onRejected?.(kv.key, reason, kv.modRevision);
    return { kind: 'rejected', rejected: create(RejectedDocumentSchema, { key: kv.key, reason, revision: BigInt(kv.modRevision) }) };
  };

  /**
   * The changes one put or delete makes, given `view` (the store's entries plus the changes of this
   * batch so far, as an overlay: copying 10 k entries per batch would be wasted work).
   */
  const apply = (kv: KeyValue, deleted: boolean, view: Overlay, out: Change<ConfigEntry>[]): void => {
    const entryKey = entryKeyOf(kv.key);
    if (!entryKey) return;
    const rejectedKey = rejectedEntryKey(kv.key);
    const set = (key: string, value: ConfigEntry | undefined): void => {
      if (value === undefined) {
        if (!view.has(key)) return;
        view.delete(key);
      } else view.set(key, value);
      out.push({ key, value });
    };
    if (deleted) {
      set(entryKey, undefined);
      set(rejectedKey, undefined);
      return;
    }
    const entry = validate(kv);
    if (entry.kind === 'rejected') set(rejectedKey, entry);
    else {
      set(entryKey, entry);
      set(rejectedKey, undefined);
    }
  };

  return {
    applyList(kvs, revision) {
      const previous = store.entries;
      const next = new Map<string, ConfigEntry>();
      for (const kv of kvs) {
        const entryKey = entryKeyOf(kv.key);
        if (!entryKey) continue;
        const entry = validate(kv);
        if (entry.kind !== 'rejected') {
          next.set(entryKey, entry);
          continue;
        }
        next.set(rejectedEntryKey(kv.key), entry);
        const lastGood = previous.get(entryKey);
        if (lastGood) next.set(entryKey, lastGood);
      }
      if (store.version === 0 || revision <= store.version) {
        // First load, or a list that is not newer (etcd restored from an older backup): replace.
        if (store.version === 0 || revision === store.version) store.reset(Math.max(revision, store.version), next);
        else store.reset(store.version, next);
        options.onReset?.(store.version, next.size);
        return;
      }
      const changes: Change<ConfigEntry>[] = [];
      for (const [key, value] of next) {
        const old = previous.get(key);
        if (old === undefined || !sameEntry(old, value)) changes.push({ key, value });
      }
      for (const key of previous.keys()) if (!next.has(key)) changes.push({ key, value: undefined });
      store.commit(revision, changes);
      options.onCommit?.(revision, changes, []);
    },
    applyEvents(events, revision) {
      const changes: Change<ConfigEntry>[] = [];
      // Every write's context, not only the newest: one batch of events (one version) can hold
      // several writes, each the cause of part of the version.
      const writers: string[] = [];
      const view = createOverlay(store.entries);
      for (const e of events) {
        if (e.kv.key.startsWith(heartbeatPrefix)) {
          if (e.type === 'put') options.onHeartbeat?.(e.kv.key, e.kv.value);
          continue;
        }
        if (e.kv.key.startsWith(tracesPrefix)) {
          if (e.type === 'put') writers.push(toText(e.kv.value));
          continue;
        }
        apply(e.kv, e.type === 'delete', view, changes);
      }
      if (changes.length > 0 && revision > store.version) {
        store.commit(revision, changes);
        options.onCommit?.(revision, changes, writers);
      }
    },
  };
}

interface Overlay {
  has(key: string): boolean;
  set(key: string, value: ConfigEntry): void;
  delete(key: string): void;
}

function createOverlay(base: ReadonlyMap<string, ConfigEntry>): Overlay {
  const changed = new Map<string, ConfigEntry | null>();
  return {
    has: (key) => (changed.has(key) ? changed.get(key) !== null : base.has(key)),
    set: (key, value) => void changed.set(key, value),
    delete: (key) => void changed.set(key, null),
  };
}

/** Entries are protobuf messages: compare by their JSON form (only on relists, a cold path). */
function sameEntry(a: ConfigEntry, b: ConfigEntry): boolean {
  return JSON.stringify(a, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) === JSON.stringify(b, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}
