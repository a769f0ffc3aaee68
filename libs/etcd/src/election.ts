import type { EtcdClient } from './etcd-client.js';
import { EtcdError } from './etcd-error.js';
import { toText } from './keys.js';
import { grantLease, type Lease } from './lease.js';
import { createReflector, type Reflector } from './reflector.js';
import { sleep } from '@cdn-sched/resilience';

/** Options of {@link createElection}. */
export interface ElectionOptions {
  client: EtcdClient;
  /** Election key prefix ("/cdn/election/weight-calculator"). */
  prefix: string;
  /** This candidate's id, stored as the value of its key. */
  candidateId: string;
  /**
   * Lease TTL, seconds: a dead leader is replaced within this (plus one watch round trip).
   * Defaults to 5.
   */
  ttlS?: number;
  /** Called whenever the leader changes (and once when first known). */
  onChange?(state: { isLeader: boolean; leaderId: string | undefined }): void;
  onError?(error: EtcdError): void;
}

/** A running candidacy. */
export interface Election {
  readonly isLeader: boolean;
  readonly leaderId: string | undefined;
  /** Resigns (deletes our key by revoking its lease) and stops watching. */
  close(): Promise<void>;
}

/**
 * Leader election the way etcd's own `concurrency.Election` does it: every candidate writes
 * `<prefix>/<lease id>` under a lease; the key with the lowest create revision is the leader. A
 * leader that dies stops refreshing its lease, etcd deletes its key when the TTL runs out, and the
 * next candidate in create-revision order sees itself first. The candidates' keys are watched with
 * the same compaction-aware reflector as the configuration.
 */
export function createElection(options: ElectionOptions): Election {
  const prefix = options.prefix.endsWith('/') ? options.prefix : `${options.prefix}/`;
  const ttlS = options.ttlS ?? 5;
  const candidates = new Map<string, { createRevision: number; id: string }>();
  let lease: Lease | undefined;
  let ourKey: string | undefined;
  let leaderId: string | undefined;
  let isLeader = false;
  let closed = false;

  const recompute = (): void => {
    let best: { key: string; createRevision: number; id: string } | undefined;
    for (const [key, c] of candidates) if (!best || c.createRevision < best.createRevision) best = { key, ...c };
    const nextLeader = best?.id;
    const nextIsLeader = best !== undefined && best.key === ourKey && !(lease?.lost ?? true);
    if (nextLeader !== leaderId || nextIsLeader !== isLeader) {
      leaderId = nextLeader;
      isLeader = nextIsLeader;
      options.onChange?.({ isLeader, leaderId });
    }
  };

  const campaign = async (): Promise<void> => {
    while (!closed) {
      try {
        lease = await grantLease(options.client, {
          ttlS,
          onLost: (error) => {
            options.onError?.(error);
            recompute();
            if (!closed) void campaign();
          },
        });
        ourKey = `${prefix}${lease.id.toString(16)}`;
        await options.client.put(ourKey, options.candidateId, { lease: lease.id });
        recompute();
        return;
      } catch (error) {
        options.onError?.(EtcdError.from(error, 'election campaign'));
        await sleep(500).catch(() => undefined);
      }
    }
  };

  const reflector: Reflector = createReflector({
    client: options.client,
    prefix,
    onSnapshot(kvs) {
      candidates.clear();
      for (const kv of kvs) candidates.set(kv.key, { createRevision: kv.createRevision, id: toText(kv.value) });
      recompute();
    },
    onEvents(events) {
      for (const e of events) {
        if (e.type === 'delete') candidates.delete(e.kv.key);
        else if (!candidates.has(e.kv.key)) candidates.set(e.kv.key, { createRevision: e.kv.createRevision, id: toText(e.kv.value) });
      }
      recompute();
    },
    backoff: { baseMs: 50, maxMs: 1000 },
    idleTimeoutMs: Math.max(1000, (ttlS * 1000) / 2),
  });
  const started = campaign();

  return {
    get isLeader() {
      return isLeader;
    },
    get leaderId() {
      return leaderId;
    },
    async close() {
      closed = true;
      await started;
      await lease?.revoke();
      if (isLeader) {
        isLeader = false;
        options.onChange?.({ isLeader, leaderId: undefined });
      }
      await reflector.close();
    },
  };
}
