import { sleep } from '@cdn-sched/resilience';
import type { EtcdClient } from './etcd-client.js';
import { EtcdError } from './etcd-error.js';
import { createRequestChannel } from './request-channel.js';

/** Options of {@link grantLease}. */
export interface LeaseOptions {
  /** Lease time-to-live, seconds. Defaults to 10. */
  ttlS?: number;
  /** Called once if the lease expires or cannot be kept alive (keys attached to it are gone). */
  onLost?: (error: EtcdError) => void;
}

/** A lease kept alive in the background until revoked. */
export interface Lease {
  readonly id: bigint;
  readonly ttlS: number;
  readonly lost: boolean;
  /** Stops the keep-alive and revokes the lease (its keys are deleted at once). */
  revoke(): Promise<void>;
}

/**
 * Grants a lease and keeps it alive over one LeaseKeepAlive stream, refreshing every ttl/3 so one
 * lost refresh does not expire it. If etcd answers TTL <= 0 the lease is gone (expired while we
 * were cut off): `onLost` fires and the owner must re-register with a new lease.
 */
export async function grantLease(client: EtcdClient, options: LeaseOptions = {}): Promise<Lease> {
  const ttlS = options.ttlS ?? 10;
  const granted = await client.lease.leaseGrant({ TTL: BigInt(ttlS), ID: 0n }, { signal: AbortSignal.timeout(5000) }).catch((e: unknown) => {
    throw EtcdError.from(e, 'lease grant');
  });
  if (granted.error) throw new EtcdError('INTERNAL', `lease grant: ${granted.error}`);
  const id = granted.ID;
  const controller = new AbortController();
  let lost = false;
  const markLost = (error: EtcdError): void => {
    if (lost || controller.signal.aborted) return;
    lost = true;
    controller.abort();
    options.onLost?.(error);
  };
  const keepAlive = async (): Promise<void> => {
    let lastOk = Date.now();
    while (!controller.signal.aborted) {
      const streamAbort = new AbortController();
      const signal = AbortSignal.any([controller.signal, streamAbort.signal]);
      const requests = createRequestChannel<{ ID: bigint }>(signal);
      const ticker = setInterval(() => requests.push({ ID: id }), Math.max(100, (ttlS * 1000) / 3));
      requests.push({ ID: id });
      try {
        for await (const res of client.lease.leaseKeepAlive(requests.iterable, { signal })) {
          if (res.TTL <= 0n) {
            markLost(new EtcdError('LEASE_NOT_FOUND', `lease ${id.toString(16)} expired`));
            break;
          }
          lastOk = Date.now();
        }
      } catch {
        // broken stream: retry below while the lease may still be alive
      } finally {
        clearInterval(ticker);
        streamAbort.abort();
      }
      if (Date.now() - lastOk > ttlS * 1000) markLost(new EtcdError('LEASE_NOT_FOUND', `lease ${id.toString(16)}: no keep-alive for ${ttlS} s`));
      await sleep(200, controller.signal).catch(() => undefined);
    }
  };
  const loop = keepAlive();
  return {
    id,
    ttlS,
    get lost() {
      return lost;
    },
    async revoke() {
      controller.abort();
      await loop;
      if (!lost) await client.lease.leaseRevoke({ ID: id }, { signal: AbortSignal.timeout(3000) }).catch(() => undefined);
    },
  };
}
