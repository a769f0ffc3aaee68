import { createReflector, type EtcdClient, type Reflector } from '@cdn-sched/etcd';

/** Why a ReportProbes caller was refused (the label of the refusal metric). */
export type RefusalReason = 'not_member' | 'identity_mismatch' | 'prober_id_changed';

/** The outcome of {@link ReporterAuthorization.check}. */
export type AuthorizationResult = { ok: true } | { ok: false; reason: RefusalReason; message: string };

/** Options of {@link createReporterAuthorization}. */
export interface ReporterAuthorizationOptions {
  client: EtcdClient;
  /** `<prefix>members/prober/`: the probers' leased registrations. */
  keyPrefix: string;
  /**
   * A cache miss is checked against etcd itself at most this often per stream, milliseconds: a
   * prober that registered a moment ago may not have reached our watch yet. Defaults to 1 second.
   */
  recheckIntervalMs?: number;
}

/** Decides whether a ReportProbes stream may feed the weight table. */
export interface ReporterAuthorization {
  /**
   * Checks one batch: `proberId` must be a current member, and when the caller presented a verified
   * certificate (`identities` not empty) one of its identities must be `proberId`. `stream` holds
   * per-stream state (the first prober id, the last etcd re-check).
   */
  check(stream: ReporterStream, proberId: string, identities: readonly string[]): Promise<AuthorizationResult>;
  readonly members: ReadonlySet<string>;
  close(): Promise<void>;
}

/** Per-stream state of {@link ReporterAuthorization.check}. */
export interface ReporterStream {
  proberId?: string;
  lastRecheckMs?: number;
}

/**
 * Only the probers that hold a membership lease may report, and with mutual TLS only under their
 * own name: without this, any client that reaches the weight-calculator could report under
 * invented prober ids and outvote the real probers (quorum counts prober ids), taking any edge out
 * of DNS. Membership is followed with a list+watch of `<prefix>members/prober/`, the same keys the
 * probers use for their assignment.
 */
export function createReporterAuthorization(options: ReporterAuthorizationOptions): ReporterAuthorization {
  const members = new Set<string>();
  const recheckMs = options.recheckIntervalMs ?? 1000;
  const idOf = (key: string): string => key.slice(options.keyPrefix.length);
  const reflector: Reflector = createReflector({
    client: options.client,
    prefix: options.keyPrefix,
    backoff: { baseMs: 50, maxMs: 1000 },
    onSnapshot(kvs) {
      members.clear();
      for (const kv of kvs) members.add(idOf(kv.key));
    },
    onEvents(events) {
      for (const e of events) {
        if (e.type === 'delete') members.delete(idOf(e.kv.key));
        else members.add(idOf(e.kv.key));
      }
    },
  });

  const isMember = async (stream: ReporterStream, proberId: string): Promise<boolean> => {
    if (members.has(proberId)) return true;
    const now = Date.now();
    if (stream.lastRecheckMs !== undefined && now - stream.lastRecheckMs < recheckMs) return false;
    stream.lastRecheckMs = now;
    try {
      return (await options.client.get(`${options.keyPrefix}${proberId}`, { timeoutMs: 2000 })) !== undefined;
    } catch {
      // etcd unreachable: the cached member set is all we know.
      return false;
    }
  };

  return {
    members,
    async check(stream, proberId, identities) {
      if (stream.proberId !== undefined && stream.proberId !== proberId) {
        return { ok: false, reason: 'prober_id_changed', message: `prober_id changed on an open ReportProbes stream (${stream.proberId} -> ${proberId}); one stream reports for one prober` };
      }
      if (identities.length > 0 && !identities.includes(proberId)) {
        return { ok: false, reason: 'identity_mismatch', message: `prober_id ${JSON.stringify(proberId)} is not the identity of the client certificate (${identities.join(', ')})` };
      }
      if (!proberId || !(await isMember(stream, proberId))) {
        return { ok: false, reason: 'not_member', message: `prober ${JSON.stringify(proberId)} is not a current member (${options.keyPrefix}${proberId} does not exist)` };
      }
      stream.proberId = proberId;
      return { ok: true };
    },
    close: () => reflector.close(),
  };
}
