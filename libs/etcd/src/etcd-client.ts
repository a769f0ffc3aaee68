import { create } from '@bufbuild/protobuf';
import type { mvccpb} from '@cdn-sched/proto';
import { etcdpb, serviceDefinitions } from '@cdn-sched/proto';
import { createChannel, createClient, type Channel, type Client } from 'nice-grpc';
import { EtcdError } from './etcd-error.js';
import { prefixRangeEnd, toBytes, toText } from './keys.js';

/** Options of {@link createEtcdClient}. */
export interface EtcdClientOptions {
  /** etcd client URLs (`http://127.0.0.1:2379`); the first is used, the rest are fallbacks. */
  endpoints: readonly string[];
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

/**
 * A small typed etcd v3 client over nice-grpc (gRPC API, etcd 3.4+). It speaks etcd's own
 * protocol so the watch layer can see compaction and pick its resume revision itself.
 */
export interface EtcdClient {
  readonly endpoint: string;
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
  /** Raw generated clients, for watch, lease and transactions. */
  readonly kv: Client<typeof serviceDefinitions.etcdKv>;
  readonly watch: Client<typeof serviceDefinitions.etcdWatch>;
  readonly lease: Client<typeof serviceDefinitions.etcdLease>;
  close(): void;
}

/** Converts a generated KeyValue. Revisions fit in a double for any etcd we will meet (< 2^53). */
export function fromPb(kv: mvccpb.KeyValue): KeyValue {
  return {
    key: toText(kv.key),
    value: kv.value,
    createRevision: Number(kv.createRevision),
    modRevision: Number(kv.modRevision),
    version: Number(kv.version),
    lease: kv.lease,
  };
}

function target(endpoint: string): string {
  const url = new URL(endpoint.includes('://') ? endpoint : `http://${endpoint}`);
  return `${url.hostname}:${url.port || '2379'}`;
}

/** Creates a client; connection is lazy (grpc-js reconnects by itself with backoff). */
export function createEtcdClient(options: EtcdClientOptions): EtcdClient {
  const endpoint = options.endpoints[0];
  if (!endpoint) throw new EtcdError('INVALID', 'etcd: no endpoints given (set ETCD_ENDPOINTS, e.g. http://127.0.0.1:2379)');
  const channel: Channel = createChannel(target(endpoint), undefined, {
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
  });
  const kv = createClient(serviceDefinitions.etcdKv, channel);
  const watch = createClient(serviceDefinitions.etcdWatch, channel);
  const lease = createClient(serviceDefinitions.etcdLease, channel);
  const defaultTimeout = options.callTimeoutMs ?? 5000;

  const call = async <T>(what: string, o: CallOptions | undefined, fn: (opts: { signal: AbortSignal }) => Promise<T>): Promise<T> => {
    const deadline = AbortSignal.timeout(o?.timeoutMs ?? defaultTimeout);
    const signal = o?.signal ? AbortSignal.any([o.signal, deadline]) : deadline;
    try {
      return await fn({ signal });
    } catch (error) {
      if (deadline.aborted && !o?.signal?.aborted) throw new EtcdError('TIMEOUT', `${what}: no answer within ${o?.timeoutMs ?? defaultTimeout} ms`, 4, { cause: error });
      throw EtcdError.from(error, what);
    }
  };

  return {
    endpoint,
    kv,
    watch,
    lease,
    async get(key, o) {
      const res = await call(`get ${key}`, o, (c) => kv.range({ key: toBytes(key) }, c));
      return res.kvs[0] ? fromPb(res.kvs[0]) : undefined;
    },
    async list(prefix, o) {
      const p = toBytes(prefix);
      const res = await call(`list ${prefix}`, o, (c) => kv.range({ key: p, rangeEnd: prefixRangeEnd(p) }, c));
      return { kvs: res.kvs.map(fromPb), revision: Number(res.header?.revision ?? 0n) };
    },
    async put(key, value, o) {
      const res = await call(`put ${key}`, o, (c) =>
        kv.put({ key: toBytes(key), value: typeof value === 'string' ? toBytes(value) : value, lease: o?.lease ?? 0n }, c),
      );
      return Number(res.header?.revision ?? 0n);
    },
    async delete(key, o) {
      const res = await call(`delete ${key}`, o, (c) => kv.deleteRange({ key: toBytes(key) }, c));
      return Number(res.deleted);
    },
    async deletePrefix(prefix, o) {
      const p = toBytes(prefix);
      const res = await call(`delete ${prefix}*`, o, (c) => kv.deleteRange({ key: p, rangeEnd: prefixRangeEnd(p) }, c));
      return Number(res.deleted);
    },
    async compact(revision, o) {
      await call(`compact ${revision}`, o, (c) =>
        kv.compact(create(etcdpb.CompactionRequestSchema, { revision: BigInt(revision), physical: true }), c),
      );
    },
    async revision(o) {
      const res = await call('revision', o, (c) => kv.range({ key: toBytes('\0'), countOnly: true }, c));
      return Number(res.header?.revision ?? 0n);
    },
    close() {
      channel.close();
    },
  };
}
