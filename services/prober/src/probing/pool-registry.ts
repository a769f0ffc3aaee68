import { hostPoolFactory, originOf, type HostPool, type HostPoolOptions } from './host-pool.js';

/**
 * The prober's HTTP connection pools, one per host:port, shared by every target on that address
 * and closed when the last of them goes (a removed node leaves no socket behind).
 */
export interface PoolRegistry {
  /** The pool of `address:port`, created on first use; pair every call with one `release`. */
  acquire(address: string, port: number): HostPool;
  /** Gives back a pool from `acquire`; the last release closes it. */
  release(pool: HostPool): void;
  /** Pools open. */
  size(): number;
  /** Connected sockets across every pool. */
  openSockets(): number;
  /** Closes every pool, resolving once their sockets are destroyed. */
  close(): Promise<void>;
}

interface Entry {
  readonly pool: HostPool;
  users: number;
}

/** Creates an empty registry; `options` apply to every pool it opens. */
export function createPoolRegistry(options: HostPoolOptions = {}): PoolRegistry {
  const createPool = hostPoolFactory(options);
  const entries = new Map<string, Entry>();
  const closing = new Set<Promise<void>>();

  const closeInBackground = (pool: HostPool): void => {
    const done = pool.close().then(() => void closing.delete(done));
    closing.add(done);
  };

  return {
    acquire(address, port) {
      const origin = originOf(address, port);
      let entry = entries.get(origin);
      if (!entry) {
        entry = { pool: createPool(origin), users: 0 };
        entries.set(origin, entry);
      }
      entry.users++;
      return entry.pool;
    },
    release(pool) {
      const entry = entries.get(pool.origin);
      if (!entry || entry.pool !== pool) return;
      if (--entry.users > 0) return;
      entries.delete(pool.origin);
      closeInBackground(pool);
    },
    size: () => entries.size,
    openSockets() {
      let n = 0;
      for (const { pool } of entries.values()) n += pool.openSockets();
      return n;
    },
    async close() {
      for (const { pool } of entries.values()) closeInBackground(pool);
      entries.clear();
      await Promise.all(closing);
    },
  };
}
