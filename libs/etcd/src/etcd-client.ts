import { Etcd3, GRPCUnavailableError, WatchClient, type IDuplexStream, type IKeyValue, type IOptions, type IWatchRequest, type IWatchResponse } from 'etcd3';
import { EtcdError } from './etcd-error.js';
import { createMemberBreakers } from './member-breakers.js';
import { prefixRangeEnd, toText } from './keys.js';

/** TLS material for the etcd connection (PEM bytes, already read and checked). */
export interface EtcdTls {
  /** CA bundle that signed the etcd members' certificates; absent = the system's trust store. */
  ca?: Buffer;
  /** Client certificate chain, for etcd's `--client-cert-auth`. Needs `key`. */
  cert?: Buffer;
  /** Private key of `cert`. */
  key?: Buffer;
}

/** Options of {@link createEtcdClient}. */
export interface EtcdClientOptions {
  /**
   * etcd client URLs (`http://10.0.0.1:2379`), all members of one cluster: every call goes to one
   * of them and moves to another when that one fails. All `http://` or all `https://`.
   */
  endpoints: readonly string[];
  /** TLS material; required for `https://` endpoints only if the system does not trust the CA. */
  tls?: EtcdTls;
  /** etcd user (etcd `auth enable`); the token it yields is sent with every call. */
  auth?: { username: string; password: string };
  /** Default deadline of unary calls, milliseconds. Defaults to 5 seconds. */
  callTimeoutMs?: number;
}

/** One key as read from etcd. */
export interface KeyValue {
  key: string;
  value: Uint8Array;
  createRevision: number;
  modRevision: number;
  version: number;
  lease: bigint;
}

/** A change seen by a watch. */
export interface WatchEvent {
  type: 'put' | 'delete';
  kv: KeyValue;
}

/** Options shared by unary calls. */
export interface CallOptions {
  signal?: AbortSignal;
  /** Overrides the client's default deadline, milliseconds. */
  timeoutMs?: number;
}

/** A raw etcd Watch stream as the `etcd3` client's generated `WatchClient` returns it. */
export type WatchStream = IDuplexStream<IWatchRequest, IWatchResponse>;

/**
 * The project's etcd connection: one `etcd3` client (its connection pool over every endpoint with
 * failover, TLS and user/password auth) plus the few typed helpers the services use. Transactions,
 * leases and anything else go through {@link EtcdClient.etcd}, the same client and credentials.
 */
export interface EtcdClient {
  readonly endpoints: readonly string[];
  get(key: string, options?: CallOptions): Promise<KeyValue | undefined>;
  /** Every key under `prefix`, and the store revision the read is consistent at. */
  list(prefix: string, options?: CallOptions): Promise<{ kvs: KeyValue[]; revision: number }>;
  put(key: string, value: string | Uint8Array, options?: CallOptions & { lease?: bigint }): Promise<number>;
  delete(key: string, options?: CallOptions): Promise<number>;
  deletePrefix(prefix: string, options?: CallOptions): Promise<number>;
  /** Compacts history up to `revision` (physical: waits until applied). */
  compact(revision: number, options?: CallOptions): Promise<void>;
  /** Current store revision (from a count-only range). */
  revision(options?: CallOptions): Promise<number>;
  /** The underlying `etcd3` client: transactions (`etcd.if(...)`), leases, elections. */
  readonly etcd: Etcd3;
  /**
   * Opens a raw Watch stream on one member of the pool, with etcd's require-leader metadata: a member
   * that loses its leader (partitioned, quorum lost) ends the stream instead of serving a history
   * that may already be stale, and the caller resumes on another member.
   */
  openWatchStream(): Promise<WatchStream>;
  /**
   * Tells the pool that the member serving `stream` failed in a way gRPC cannot see (a frozen
   * member that keeps its TCP connection open but answers nothing): its channel is reset and its
   * circuit breaker counts a failure, so the next stream prefers another member.
   */
  markStreamFailed(stream: WatchStream, reason: string): void;
  close(): void;
}

/** Converts an `etcd3` KeyValue (64-bit numbers as decimal strings). Revisions fit in a double (< 2^53). */
export function fromPb(kv: IKeyValue): KeyValue {
  return {
    key: toText(kv.key),
    value: new Uint8Array(kv.value.buffer, kv.value.byteOffset, kv.value.byteLength),
    createRevision: Number(kv.create_revision),
    modRevision: Number(kv.mod_revision),
    version: Number(kv.version),
    lease: BigInt(kv.lease || 0),
  };
}

/** `Etcd3` keeps its connection pool protected; the raw Watch stream needs it. */
class PooledEtcd3 extends Etcd3 {
  get connectionPool(): Etcd3['pool'] {
    return this.pool;
  }
}

/** What the member probe needs of etcd3's pool, which keeps its members private. */
interface PoolInternals {
  hosts: { host: string; getServiceClient(service: 'Maintenance'): MaintenanceStub }[];
}
interface MaintenanceStub {
  status(request: object, options: { deadline: number }, callback: (error: { code?: number } | null, response?: { leader?: string }) => void): void;
}

/**
 * The probe of an open member breaker (see `createMemberBreakers`): Maintenance.Status, which a
 * member answers from its own state, leader or not, and without an auth token (etcd 3.4 and 3.5
 * `api/v3rpc`: the auth wrapper passes Status through). Serving = it answered and names a leader
 * (`leader` is raft's lead, 0 while the member knows none). An error with another status than
 * CANCELLED (1), DEADLINE_EXCEEDED (4) or UNAVAILABLE (14) is an answer too (an etcd that wanted a
 * token for Status would still be a live process), and counts as serving.
 */
function probeMember(pool: Etcd3['pool'], member: string, timeoutMs: number): Promise<boolean> {
  const address = member.replace(/^https?:\/\//, '');
  const host = (pool as unknown as PoolInternals).hosts.find((h) => h.host === address);
  if (!host) return Promise.resolve(false);
  return new Promise<boolean>((resolve) => {
    host.getServiceClient('Maintenance').status({}, { deadline: Date.now() + timeoutMs }, (error, response) => {
      if (error) resolve(![1, 4, 14].includes(error.code ?? 14));
      else resolve(response?.leader !== undefined && response.leader !== '0');
    });
  });
}

/**
 * etcd's require-leader metadata (etcd `api/v3rpc/rpctypes`: MetadataRequireLeaderKey "hasleader" =
 * "true"): the server refuses the stream when the member has no leader and cancels it when the
 * member loses its leader later (etcd's `monitorLeader`), so a partitioned member cannot keep a
 * watch quietly open on a history that has moved on without it.
 */
function requireLeader(pool: Etcd3['pool'], hostOf: WeakMap<object, unknown>): ConstructorParameters<typeof WatchClient>[0] {
  return {
    exec: (service, method, params, options) => pool.exec(service, method, params, options),
    withConnection: (service, fn) =>
      pool.withConnection(service, async (args) => {
        const metadata = args.metadata.clone();
        metadata.set('hasleader', 'true');
        const stream = await fn({ ...args, metadata });
        if (typeof stream === 'object' && stream !== null) hostOf.set(stream, args.resource);
        return stream;
      }),
    // A member without a leader refuses a require-leader stream ("etcdserver: no leader") while an
    // election runs: it is alive, and counting that against it would open the breakers of every
    // member at once during a leader change, failing all calls until they half-open.
    markFailed: (resource, error) => {
      if (/no leader/.test(error.message)) return;
      pool.markFailed(resource as Parameters<typeof pool.markFailed>[0], error);
    },
    get callOptionsFactory() {
      return pool.callOptionsFactory;
    },
  };
}

/** Creates a client; connections are lazy (grpc-js reconnects by itself with backoff). */
export function createEtcdClient(options: EtcdClientOptions): EtcdClient {
  const endpoints = [...options.endpoints];
  if (endpoints.length === 0) throw new EtcdError('INVALID', 'etcd: no endpoints given (set ETCD_ENDPOINTS, e.g. http://127.0.0.1:2379)');
  const defaultTimeout = options.callTimeoutMs ?? 5000;
  // The probe needs the pool, which needs the breakers: the pool is set right after it is made.
  let probed: Etcd3['pool'] | undefined;
  const breakers = createMemberBreakers({ probe: (member) => (probed ? probeMember(probed, member, 1000) : Promise.resolve(false)) });
  const tls = options.tls;
  const etcdOptions: IOptions = {
    hosts: endpoints.map((e) => (e.includes('://') ? e : `http://${e}`)),
    // A CA-less TLS setup uses the system's trust store: grpc-js takes a null root certificate.
    credentials: tls && (tls.ca || tls.cert) ? { rootCertificate: tls.ca ?? (null as unknown as Buffer), privateKey: tls.key, certChain: tls.cert } : undefined,
    auth: options.auth ? { username: options.auth.username, password: options.auth.password, callOptions: () => ({ deadline: Date.now() + defaultTimeout }) } : undefined,
    // A fresh deadline for every attempt: etcd3 retries a failed call on another member, and each
    // attempt deserves the whole budget (a member that hangs must not eat the next member's time).
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + defaultTimeout }),
    // etcd3's retries (3 attempts, each on another member), with our per-member breakers: a member
    // that failed 3 times in a row is skipped until a probe finds it serving under a leader; an
    // answer from a live member without a leader does not count against it (see `createMemberBreakers`).
    faultHandling: { host: (member) => breakers.host(member) },
    grpcOptions: {
      // etcd closes idle streams it considers dead; keepalive pings make a cut network visible
      // within seconds instead of the OS TCP timeout (minutes).
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      // etcd (grpc-go) treats pings without an active stream as abuse ("too_many_pings") unless it
      // runs with --grpc-keepalive-... permit-without-stream; our long-lived watches keep a stream open.
      'grpc.keepalive_permit_without_calls': 0,
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 2_000,
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
    },
  };
  const etcd = new PooledEtcd3(etcdOptions);
  const pool = (probed = etcd.connectionPool);
  const hostOf = new WeakMap<object, unknown>();
  const watchClient = new WatchClient(requireLeader(pool, hostOf));

  const call = async <T>(what: string, o: CallOptions | undefined, fn: (callOptions: { deadline?: number }) => Promise<T>): Promise<T> => {
    const callOptions = o?.timeoutMs !== undefined ? { deadline: Date.now() + o.timeoutMs } : {};
    try {
      if (!o?.signal) return await fn(callOptions);
      o.signal.throwIfAborted();
      // grpc-js unary calls take no AbortSignal: stop waiting for the answer (the call itself ends
      // at its deadline or when the client closes).
      let onAbort!: () => void;
      const aborted = new Promise<never>((_, reject) => {
        onAbort = () => reject(o.signal!.reason ?? new DOMException('aborted', 'AbortError'));
        o.signal!.addEventListener('abort', onAbort, { once: true });
      });
      try {
        return await Promise.race([fn(callOptions), aborted]);
      } finally {
        o.signal.removeEventListener('abort', onAbort);
      }
    } catch (error) {
      if ((error as { name?: string } | null)?.name === 'TimeoutError') throw new EtcdError('TIMEOUT', `${what}: no answer in time`, 4, { cause: error });
      throw EtcdError.from(error, what);
    }
  };

  const key = (s: string): Buffer => Buffer.from(s);
  return {
    endpoints,
    etcd,
    openWatchStream: () => watchClient.watch(),
    markStreamFailed(stream, reason) {
      const host = hostOf.get(stream);
      if (host) pool.markFailed(host as Parameters<typeof pool.markFailed>[0], new GRPCUnavailableError(reason));
    },
    async get(k, o) {
      const res = await call(`get ${k}`, o, (c) => etcd.kv.range({ key: key(k) }, c));
      return res.kvs[0] ? fromPb(res.kvs[0]) : undefined;
    },
    async list(prefix, o) {
      const p = key(prefix);
      const res = await call(`list ${prefix}`, o, (c) => etcd.kv.range({ key: p, range_end: Buffer.from(prefixRangeEnd(p)) }, c));
      return { kvs: res.kvs.map(fromPb), revision: Number(res.header.revision) };
    },
    async put(k, value, o) {
      const res = await call(`put ${k}`, o, (c) =>
        etcd.kv.put({ key: key(k), value: typeof value === 'string' ? Buffer.from(value) : Buffer.from(value.buffer, value.byteOffset, value.byteLength), lease: (o?.lease ?? 0n).toString() }, c),
      );
      return Number(res.header.revision);
    },
    async delete(k, o) {
      const res = await call(`delete ${k}`, o, (c) => etcd.kv.deleteRange({ key: key(k) }, c));
      return Number(res.deleted);
    },
    async deletePrefix(prefix, o) {
      const p = key(prefix);
      const res = await call(`delete ${prefix}*`, o, (c) => etcd.kv.deleteRange({ key: p, range_end: Buffer.from(prefixRangeEnd(p)) }, c));
      return Number(res.deleted);
    },
    async compact(revision, o) {
      await call(`compact ${revision}`, o, (c) => etcd.kv.compact({ revision: String(revision), physical: true }, c));
    },
    async revision(o) {
      const res = await call('revision', o, (c) => etcd.kv.range({ key: Buffer.from([0]), count_only: true }, c));
      return Number(res.header.revision);
    },
    close() {
      breakers.close();
      etcd.close();
    },
  };
}
