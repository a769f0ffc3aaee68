import type { EtcdClient } from '@cdn-sched/etcd';
import { Health, type NodeWeight } from '@cdn-sched/proto';

/** The JSON document the leader writes to `<prefix>weights/<id>`, for operators and bootstraps. */
export interface PersistedWeight {
  nodeId: string;
  weight: number;
  health: 'unknown' | 'up' | 'down';
  updatedAtMs: number;
  /** Weight-stream version this weight was published in, and by whom. */
  version: number;
  leader: string;
}

const HEALTH_NAMES: Record<number, PersistedWeight['health']> = { [Health.UP]: 'up', [Health.DOWN]: 'down' };

export function toPersisted(w: NodeWeight, version: number, leader: string): PersistedWeight {
  return {
    nodeId: w.nodeId,
    weight: Math.round(w.weight * 1000) / 1000,
    health: HEALTH_NAMES[w.health] ?? 'unknown',
    updatedAtMs: Number(w.updatedAtMs),
    version,
    leader,
  };
}

/** Options of {@link createWeightPersister}. */
export interface WeightPersisterOptions {
  client: EtcdClient;
  /** `<prefix>weights/`. */
  keyPrefix: string;
  leaderId: string;
  /** Writes in flight at once. Defaults to 32. */
  concurrency?: number;
  onError?(error: unknown): void;
}

/**
 * Writes weights to etcd, only from the leader and only what changed materially (the weight table
 * already filters immaterial changes). Writes are coalesced per node: when etcd is slow, only the
 * newest weight of each node is written, never a backlog.
 */
export interface WeightPersister {
  enqueue(weights: readonly NodeWeight[], version: number): void;
  remove(nodeIds: readonly string[]): void;
  /** Writes every given weight whose persisted value differs (on becoming leader). */
  reconcile(weights: readonly NodeWeight[], version: number): Promise<void>;
  readonly pending: number;
  readonly written: number;
  idle(): Promise<void>;
  close(): Promise<void>;
}

export function createWeightPersister(options: WeightPersisterOptions): WeightPersister {
  const pending = new Map<string, PersistedWeight | null>();
  const concurrency = options.concurrency ?? 32;
  let running = 0;
  let written = 0;
  let closed = false;
  let idleWaiters: (() => void)[] = [];

  const pump = (): void => {
    while (!closed && running < concurrency && pending.size > 0) {
      const [nodeId, doc] = pending.entries().next().value as [string, PersistedWeight | null];
      pending.delete(nodeId);
      running++;
      const key = `${options.keyPrefix}${nodeId}`;
      const op = doc === null ? options.client.delete(key) : options.client.put(key, JSON.stringify(doc));
      void op
        .then(() => void written++)
        .catch((error: unknown) => {
          options.onError?.(error);
          // Retry the newest value later unless a newer one is already queued.
          if (!pending.has(nodeId) && !closed) setTimeout(() => { if (!pending.has(nodeId)) { pending.set(nodeId, doc); pump(); } }, 500).unref();
        })
        .finally(() => {
          running--;
          pump();
          if (running === 0 && pending.size === 0) {
            for (const w of idleWaiters) w();
            idleWaiters = [];
          }
        });
    }
  };

  return {
    enqueue(weights, version) {
      for (const w of weights) pending.set(w.nodeId, toPersisted(w, version, options.leaderId));
      pump();
    },
    remove(nodeIds) {
      for (const id of nodeIds) pending.set(id, null);
      pump();
    },
    async reconcile(weights, version) {
      const { kvs } = await options.client.list(options.keyPrefix);
      const stored = new Map(kvs.map((kv) => [kv.key.slice(options.keyPrefix.length), Buffer.from(kv.value).toString('utf8')]));
      const live = new Set(weights.map((w) => w.nodeId));
      for (const w of weights) {
        const doc = toPersisted(w, version, options.leaderId);
        const old = stored.get(w.nodeId);
        const same = old !== undefined && (() => {
          try {
            const o = JSON.parse(old) as PersistedWeight;
            return o.weight === doc.weight && o.health === doc.health;
          } catch {
            return false;
          }
        })();
        if (!same) pending.set(w.nodeId, doc);
      }
      for (const id of stored.keys()) if (!live.has(id)) pending.set(id, null);
      pump();
    },
    get pending() {
      return pending.size + running;
    },
    get written() {
      return written;
    },
    idle() {
      if (running === 0 && pending.size === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    async close() {
      closed = true;
      pending.clear();
      while (running > 0) await new Promise((r) => setTimeout(r, 10));
    },
  };
}
