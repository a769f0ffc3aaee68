import type { EtcdClient } from './etcd-client.js';
import { EtcdError } from './etcd-error.js';

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
 * Grants a lease with the `etcd3` client's `Lease`, which keeps it alive over a LeaseKeepAlive
 * stream every ttl/3 (as etcd's Go client does) and moves that stream to another member when one
 * fails. When etcd answers that the lease is gone (it expired while we were cut off) or no
 * keep-alive succeeded for 2 × TTL, etcd3 emits `lost`: `onLost` fires and the owner must
 * re-register with a new lease.
 */
export async function grantLease(client: EtcdClient, options: LeaseOptions = {}): Promise<Lease> {
  const ttlS = options.ttlS ?? 10;
  const lease = client.etcd.lease(ttlS);
  let granted: string;
  try {
    granted = await lease.grant();
  } catch (error) {
    lease.release();
    throw EtcdError.from(error, 'lease grant');
  }
  const id = BigInt(granted);
  let lost = false;
  let revoked = false;
  lease.on('lost', (error) => {
    if (lost || revoked) return;
    lost = true;
    options.onLost?.(EtcdError.from(error, `lease ${id.toString(16)}`));
  });
  return {
    id,
    ttlS,
    get lost() {
      return lost;
    },
    async revoke() {
      if (revoked) return;
      revoked = true;
      if (lost) {
        lease.release();
        return;
      }
      await lease.revoke({ deadline: Date.now() + 3000 }).catch(() => undefined);
    },
  };
}
