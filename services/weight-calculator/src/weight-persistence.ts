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
  /**
   * Writes every given weight whose persisted value differs, and deletes persisted nodes not among
   * them (on becoming leader). Nodes enqueued or removed after this call are left alone: their
   * newer value is already on its way, and the given weights are older than it.
   */
  reconcile(weights: readonly NodeWeight[], version: number): Promise<void>;
  readonly pending: number;
  readonly written: number;
  idle(): Promise<void>;
  close(): Promise<void>;
}

export function createWeightPersister(options: WeightPersisterOptions): WeightPersister {
  const pending = new Map<string, PersistedWeight | null>();
  // Generation of the newest value queued per node (one counter for all nodes). A failed write is
  // retried, and a reconcile applied, only while no newer value has been queued for that node:
  // otherwise an old weight read before an etcd round trip (the reconcile's list, a failed put's
  // back-off) would overwrite the newer one written meanwhile, and stay there until the node's
  // weight happens to change again.
  const generation = new Map<string, number>();
  const concurrency = options.concurrency ?? 32;
  let nextGeneration = 0;
  let running = 0;
  let written = 0;
  let closed = false;
  let idleWaiters: (() => void)[] = [];

  const queue = (nodeId: string, doc: PersistedWeight | null): void => {
    pending.set(nodeId, doc);
    generation.set(nodeId, ++nextGeneration);
  };

  const settled = (nodeId: string, gen: number, doc: PersistedWeight | null): void => {
    // A deleted node's generation is dropped once its delete is written, so the map stays bounded
    // by the live fleet.
    if (doc === null && generation.get(nodeId) === gen) generation.delete(nodeId);
  };

  const pump = (): void => {
    while (!closed && running < concurrency && pending.size > 0) {
      const [nodeId, doc] = pending.entries().next().value as [string, PersistedWeight | null];
      pending.delete(nodeId);
      const gen = generation.get(nodeId) ?? 0;
      running++;
      const key = `${options.keyPrefix}${nodeId}`;
      const op = doc === null ? options.client.delete(key) : options.client.put(key, JSON.stringify(doc));
      void op
        .then(() => {
          written++;
          settled(nodeId, gen, doc);
        })
        .catch((error: unknown) => {
          options.onError?.(error);
          // Retry this value later unless a newer one has been queued since.
          if (closed) return;
          setTimeout(() => {
            if (!closed && generation.get(nodeId) === gen && !pending.has(nodeId)) {
              pending.set(nodeId, doc);
              pump();
            }
          }, 500).unref();
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
      for (const w of weights) queue(w.nodeId, toPersisted(w, version, options.leaderId));
      pump();
    },
    remove(nodeIds) {
      for (const id of nodeIds) queue(id, null);
      pump();
    },
    async reconcile(weights, version) {
      const startedAt = nextGeneration;
      const { kvs } = await options.client.list(options.keyPrefix);
      const newer = (nodeId: string): boolean => (generation.get(nodeId) ?? 0) > startedAt;
      const stored = new Map(kvs.map((kv) => [kv.key.slice(options.keyPrefix.length), Buffer.from(kv.value).toString('utf8')]));
      const live = new Set(weights.map((w) => w.nodeId));
      for (const w of weights) {
        if (newer(w.nodeId)) continue;
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
        if (!same) queue(w.nodeId, doc);
      }
      for (const id of stored.keys()) if (!live.has(id) && !newer(id)) queue(id, null);
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
