import { createReflector, grantLease, type EtcdClient, type Lease, type Reflector } from '@cdn-sched/etcd';
import { sleep } from '@cdn-sched/resilience';

/** Options of {@link createMembership}. */
export interface MembershipOptions {
  client: EtcdClient;
  /** `<prefix>members/prober/`. */
  keyPrefix: string;
  memberId: string;
  /** Lease TTL, seconds: a dead prober's nodes move to the others within this. Defaults to 5. */
  ttlS?: number;
  /** Called with the sorted member ids whenever they change. */
  onChange(members: readonly string[]): void;
  onError?(error: unknown): void;
}

/** This prober's registration and its view of all probers. */
export interface Membership {
  readonly members: readonly string[];
  readonly registered: boolean;
  close(): Promise<void>;
}

/**
 * Registers the prober under `<prefix>members/prober/<id>` with a lease and watches the member set
 * (with the compaction-aware reflector). A prober that dies stops refreshing its lease; etcd deletes
 * its key after the TTL and every survivor recomputes the assignment without it. If our own lease is
 * lost (we were cut off longer than the TTL), we register again with a new one.
 */
export function createMembership(options: MembershipOptions): Membership {
  const ids = new Map<string, string>();
  let members: string[] = [];
  let lease: Lease | undefined;
  /** Our key is written under `lease`: a granted lease whose put etcd refused is not a registration. */
  let written = false;
  let closed = false;
  const publish = (): void => {
    const next = [...new Set(ids.values())].sort();
    if (next.join('\0') === members.join('\0')) return;
    members = next;
    options.onChange(members);
  };
  const register = async (): Promise<void> => {
    while (!closed) {
      written = false;
      try {
        lease = await grantLease(options.client, {
          ttlS: options.ttlS ?? 5,
          onLost: (error) => {
            options.onError?.(error);
            if (!closed) void register();
          },
        });
        await options.client.put(`${options.keyPrefix}${options.memberId}`, JSON.stringify({ id: options.memberId, since: Date.now() }), { lease: lease.id });
        written = true;
        return;
      } catch (error) {
        options.onError?.(error);
        await lease?.revoke().catch(() => undefined);
        lease = undefined;
        await sleep(500).catch(() => undefined);
      }
    }
  };
  const reflector: Reflector = createReflector({
    client: options.client,
    prefix: options.keyPrefix,
    backoff: { baseMs: 50, maxMs: 1000 },
    onSnapshot(kvs) {
      ids.clear();
      for (const kv of kvs) ids.set(kv.key, kv.key.slice(options.keyPrefix.length));
      publish();
    },
    onEvents(events) {
      for (const e of events) {
        if (e.type === 'delete') ids.delete(e.kv.key);
        else ids.set(e.kv.key, e.kv.key.slice(options.keyPrefix.length));
      }
      publish();
    },
  });
  const registering = register();
  return {
    get members() {
      return members;
    },
    get registered() {
      return written && lease !== undefined && !lease.lost;
    },
    async close() {
      closed = true;
      await registering;
      await lease?.revoke();
      await reflector.close();
    },
  };
}
