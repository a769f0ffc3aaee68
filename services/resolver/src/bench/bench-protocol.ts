/**
 * What the serving benchmark's three processes say to each other over the IPC channel of
 * `child_process.fork` (advanced serialization: byte arrays cross as they are), and the byte-level
 * gRPC method definitions both children use.
 */
import type { Session } from 'node:inspector';
import { fromBinary } from '@bufbuild/protobuf';
import { ResolveStreamRequestSchema, ResolveStreamResponseSchema, serviceDefinitions } from '@cdn-sched/proto';

/** Which server a run loads: the real resolver, or the bare grpc-js echo of pre-encoded replies. */
/**
 * `echo`: bare grpc-js answering pre-encoded bytes (the transport floor). `echoCodec`: bare grpc-js
 * that decodes each request and encodes an answer with the generated protobuf-es codec, the way a
 * plain grpc-js echo service is written.
 */
export type BenchTarget = 'resolver' | 'echo' | 'echoCodec';

/** Request batches per batch size, and unary requests: encoded once, by the parent. */
export interface BenchRequests {
  /** `ResolveStreamRequest` bytes, keyed by batch size. */
  batches: Record<number, Uint8Array[]>;
  /** `ResolveRequest` bytes. */
  unary: Uint8Array[];
}

/** Parent → server. */
export type ServerCommand =
  | { type: 'init'; seed: number; requests: BenchRequests }
  /** Start of a measured window: reset the event-loop histogram, the CPU clock and the counters. */
  | { type: 'mark' }
  /** End of a measured window: answer with a `window` message. */
  | { type: 'report' }
  | { type: 'close' };

/** Server → parent. */
export type ServerMessage =
  /** Sent once the process listens for commands (a message sent before that would be lost). */
  | { type: 'started' }
  | {
      type: 'ready';
      ports: Record<BenchTarget, number>;
      /** Sizes of the echo's pre-encoded replies: ResolveStreamResponse per batch size, and ResolveResponse. */
      replyBytes: { batches: Record<number, number>; unary: number };
    }
  | {
      type: 'window';
      wallMs: number;
      cpuMs: number;
      /** Decisions the resolver made, or batch items the echo answered, in the window. */
      decisions: number;
      /** Event-loop delay beyond the sampling period (see {@link ELD_RESOLUTION_MS}), milliseconds. */
      eventLoopDelayP99Ms: number;
      eventLoopDelayMaxMs: number;
      /**
       * Mark-compacts (full GCs) in the window and their pauses on the JavaScript thread, ms. A
       * resolver under this load can settle into a mark-compact every ~0.1 s or into almost none
       * (docs/benchmarks.md, "Decision path benchmarks"); the count says which a run measured.
       */
      markCompacts: number;
      markCompactMs: number;
    };

/** One measured run of the load client. */
export type RunCommand =
  | {
      type: 'stream';
      port: number;
      batchSize: number;
      streams: number;
      depth: number;
      warmupMs: number;
      measureMs: number;
      /**
       * Connections the streams are spread over, stream i on connection i mod n. Defaults to 1 (one
       * channel per server). A server of several cluster workers balances per connection, so a run
       * against N workers needs at least N.
       */
      connections?: number;
    }
  | { type: 'unary'; port: number; concurrency: number; warmupMs: number; measureMs: number };

/** Parent → client. `windowBytes`: HTTP/2 receive window of the client's channels, 0 for grpc-js's default (64 KiB). */
export type ClientCommand = { type: 'init'; requests: BenchRequests; windowBytes: number } | RunCommand | { type: 'close' };

/** Client → parent. */
export type ClientMessage =
  | { type: 'started' }
  | { type: 'ready' }
  /** The measured window starts (sent after the warm-up) or ends (before the calls are drained). */
  | { type: 'measuring' }
  | { type: 'measured' }
  | {
      type: 'result';
      /** Batches (streams) or calls (unary) answered inside the window. */
      completed: number;
      /** Of those, unary calls answered with an error status (always 0 for streams: item errors are inside replies). */
      errors: number;
      seconds: number;
      /** Round trip of one batch or call: write to reply, milliseconds. */
      p50Ms: number;
      p99Ms: number;
      cpuMs: number;
      /** The first reply inside the window, and the request it answers, for the parent to check. */
      sample: { request: Uint8Array; reply: Uint8Array };
    };

/** Sampling period of the server's event-loop delay monitor: Node's default, as in libs/telemetry. */
export const ELD_RESOLUTION_MS = 10;

/** Metadata key telling the echo server which pre-encoded reply a stream gets. */
export const BATCH_SIZE_HEADER = 'x-bench-batch-size';

const resolver = serviceDefinitions.resolver;
const identity = (bytes: Buffer): Buffer => bytes;

/**
 * The resolver's two measured methods at their real paths, with identity serializers: what the
 * echo server registers and what the load client calls, so that both servers see the same wire
 * traffic and the client spends the same on every reply whichever server sent it.
 */
export const rawMethods = {
  resolveStream: {
    path: resolver.resolveStream.path,
    requestStream: true,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
  resolve: {
    path: resolver.resolve.path,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
} as const;

/** A Buffer view of bytes that crossed IPC as a plain Uint8Array (grpc-js writes with `Buffer#copy`). */
export const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** The `p`-th percentile (0–100) of the first `n` values of `xs`, sorting them in place. */
export function percentile(xs: Float64Array, n: number, p: number): number {
  if (n === 0) return 0;
  const sorted = xs.subarray(0, n).sort();
  return sorted[Math.min(n - 1, Math.floor((p / 100) * n))]!;
}

/** Median of a small list. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** The workload's item errors are ~3 % (policies that error when nobody is up); far more means a run timed error paths. */
export const MAX_ERROR_SHARE = 0.1;

/**
 * Share of error items in a sampled ResolveStream reply, after checking that it has a decision per
 * query of its request and (`checkIds`: the resolver's replies, not the echo's fixed bytes) that they
 * answer the queries in order. `label` names the server in the error.
 */
export function streamReplyErrorShare(request: Uint8Array, reply: Uint8Array, label: string, checkIds: boolean): number {
  const queries = fromBinary(ResolveStreamRequestSchema, request).queries;
  const decisions = fromBinary(ResolveStreamResponseSchema, reply).decisions;
  if (decisions.length !== queries.length) throw new Error(`${label}: ${decisions.length} decisions for a batch of ${queries.length}`);
  if (checkIds && decisions.some((d, i) => d.queryId !== queries[i]!.queryId)) throw new Error(`${label}: decisions out of query order`);
  return decisions.filter((d) => d.result.case === 'error').length / decisions.length;
}

/** `session.post` of the inspector (a callback API) as a promise, for the benches that profile themselves. */
export function inspectorPost<T>(session: Session, method: string, params: object = {}): Promise<T> {
  return new Promise((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result as T))));
}
