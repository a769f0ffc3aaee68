import type { MessageInitShape } from '@bufbuild/protobuf';
import type { ResolveStreamRequestSchema, ResolveStreamResponse } from '@cdn-sched/proto';
import { Status } from 'nice-grpc';
import { createPushQueue, type PushQueue } from '@cdn-sched/stream';
import { failureCode, type RequestQuery, type RequestSender, type SenderOptions } from './request-sender.js';
import type { ResolverClient } from './resolver-connection.js';

/** How long {@link RequestSender.close} waits for the server to end a half-closed stream, in ms. */
const CLOSE_GRACE_MS = 1000;

/** The batch in flight on a stream. */
interface InFlight {
  readonly firstId: number;
  readonly received: Uint8Array;
  remaining: number;
  readonly clockStartMs: number;
  readonly timer: NodeJS.Timeout;
  readonly done: (code: number | undefined) => void;
}

/** One open `ResolveStream` call. */
interface OpenStream {
  readonly queue: PushQueue<MessageInitShape<typeof ResolveStreamRequestSchema>>;
  readonly abort: AbortController;
  /** Settles when the response side has ended, however it ended. */
  ended: Promise<void>;
  current: InFlight | undefined;
  closed: boolean;
  /** Set when a batch's deadline aborted the stream. */
  timedOut: boolean;
}

/**
 * Sends batches over one `ResolveStream` call, reopened after a failure. Decisions are matched to
 * the batch by `queryId` (the server may answer a batch in several messages); an item error fails
 * only its query; a stream failure fails the unanswered queries of the batch in flight with the
 * stream's status.
 */
export function createStreamSender(client: ResolverClient, options: SenderOptions): RequestSender {
  const { now, stats, requestTimeoutMs, signal } = options;
  let stream: OpenStream | undefined;

  const finish = (s: OpenStream, code: number | undefined): void => {
    const cur = s.current;
    if (!cur) return;
    s.current = undefined;
    clearTimeout(cur.timer);
    if (code !== undefined) stats.requestFailed(code, cur.remaining);
    cur.done(code);
  };

  const onResponse = (s: OpenStream, res: ResolveStreamResponse): void => {
    const cur = s.current;
    if (!cur) return;
    const latencyUs = (now() - cur.clockStartMs) * 1000;
    for (const d of res.decisions) {
      const i = Number(d.queryId) - cur.firstId;
      // Not ours or answered twice: a decision for a batch that already timed out, or a server bug.
      if (i < 0 || i >= cur.received.length || cur.received[i] === 1) continue;
      cur.received[i] = 1;
      cur.remaining--;
      if (d.result.case === 'response') stats.decision(latencyUs, d.result.value.degraded);
      else if (d.result.case === 'error') stats.itemError(latencyUs, d.result.value.code);
      else stats.itemError(latencyUs, Status.INTERNAL);
    }
    if (cur.remaining === 0) {
      stats.requestDone(latencyUs);
      finish(s, undefined);
    }
  };

  const open = (): OpenStream => {
    const abort = new AbortController();
    const onRunAbort = (): void => abort.abort();
    signal.addEventListener('abort', onRunAbort, { once: true });
    const queue = createPushQueue<MessageInitShape<typeof ResolveStreamRequestSchema>>();
    const s: OpenStream = { queue, abort, ended: Promise.resolve(), current: undefined, closed: false, timedOut: false };
    const read = async (): Promise<void> => {
      let code: number;
      try {
        for await (const res of client.resolveStream(queue, { signal: abort.signal })) onResponse(s, res);
        // The server ended the stream: whatever is still in flight will never be answered.
        code = Status.UNAVAILABLE;
      } catch (error) {
        code = failureCode(error, s.timedOut, signal);
      }
      s.closed = true;
      signal.removeEventListener('abort', onRunAbort);
      finish(s, code);
    };
    s.ended = read();
    return s;
  };

  return {
    send(queries: readonly RequestQuery[], firstId: number, clockStartMs: number) {
      if (!stream || stream.closed) stream = open();
      const s = stream;
      stats.requestSent(queries.length);
      return new Promise<number | undefined>((resolve) => {
        // A batch that gets no complete answer in time fails, and so does its stream: late
        // decisions on it could not be told from the next batch's otherwise.
        const timer = setTimeout(() => {
          s.timedOut = true;
          s.abort.abort();
        }, requestTimeoutMs);
        s.current = { firstId, received: new Uint8Array(queries.length), remaining: queries.length, clockStartMs, timer, done: resolve };
        s.queue.push({
          queries: queries.map((q, i) => ({ queryId: BigInt(firstId + i), clientIp: q.clientIp, ecsSubnet: q.ecsSubnet, domain: q.domain })),
        });
      });
    },
    async close() {
      const s = stream;
      stream = undefined;
      if (!s || s.closed) return;
      s.queue.end();
      const grace = setTimeout(() => s.abort.abort(), CLOSE_GRACE_MS);
      await s.ended;
      clearTimeout(grace);
    },
  };
}
