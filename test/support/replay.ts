import type { MessageInitShape } from '@bufbuild/protobuf';
import { serviceDefinitions, type Decision, type ResolveStreamRequestSchema } from '@cdn-sched/proto';
import { createChannel, createClient, type Channel } from 'nice-grpc';
import { createPushQueue, type PushQueue } from '@cdn-sched/stream';
import { summarize, type Summary } from './stats.js';

/** A ResolveStream batch as the client sends it. */
type BatchInit = MessageInitShape<typeof ResolveStreamRequestSchema>;

/** One query of the replay mix. */
export interface ReplayQuery {
  clientIp: string;
  domain: string;
  /** Answers wanted; 0 or absent = the policy's count. */
  answers?: number;
}

/** Options of {@link startReplay}. */
export interface ReplayOptions {
  /** Resolver addresses (`host:port`), in failover order. */
  targets: readonly string[];
  /** Queries, used round-robin. */
  queries: readonly ReplayQuery[];
  /** Queries per batch. Defaults to 20. */
  batchSize?: number;
  /** One batch every this many milliseconds. Defaults to 50 (with 20 per batch: 400 decisions/s). */
  intervalMs?: number;
  /**
   * A batch without an answer after this long counts the stream as hung: it is abandoned and every
   * unanswered batch is sent again on the next target, milliseconds. Defaults to 1500.
   */
  batchTimeoutMs?: number;
  /** Opens the channel to a target (a test with mutual TLS passes its transport's). Defaults to plaintext. */
  connect?(target: string): Channel;
  /** Called with every batch of decisions as it arrives (after the replay's own accounting). */
  onDecisions?(decisions: readonly Decision[], receivedAtMs: number): void;
}

/** A decision that failed, or came back without answers. */
export interface ReplayFailure {
  atMs: number;
  queryId: bigint;
  target: string;
  code: number;
  message: string;
}

/** A broken stream and where the replay went next. */
export interface ReplayFailover {
  atMs: number;
  from: string;
  to: string;
  error: string;
  /** Batches that were in flight on it and were sent again. */
  resent: number;
}

/** What a replay saw over a window (see {@link Replay.report}). */
export interface ReplayReport {
  durationMs: number;
  batches: number;
  decisions: number;
  decisionsPerS: number;
  /** Item errors plus decisions with no answer. */
  failures: ReplayFailure[];
  degraded: number;
  /** A few degraded answers' reasons, for the log. */
  degradedReasons: string[];
  /** Batch latency, from its first send to its answer (a resent batch keeps its first send time). */
  latencyMs: Summary;
  failovers: ReplayFailover[];
  /** Batches that had to be sent more than once. */
  resentBatches: number;
  /** Batches sent and never answered (only non-zero in the report `stop()` returns). */
  unanswered: number;
  /** Answers per node id. */
  answersByNode: Map<string, number>;
}

/** A running replay. */
export interface Replay {
  /** The resolver the replay talks to now. */
  readonly target: string;
  /** Everything since `sinceMs` (a `Date.now()` value; default: the start). */
  report(sinceMs?: number): ReplayReport;
  /** Stops sending, waits up to 3 s for the last answers, closes the streams; the whole-run report. */
  stop(): Promise<ReplayReport>;
}

interface PendingBatch {
  firstId: bigint;
  request: BatchInit;
  firstSentAtMs: number;
  lastSentAtMs: number;
  attempts: number;
}

interface BatchRecord {
  sentAtMs: number;
  latencyMs: number;
  decisions: number;
  degraded: number;
  resent: boolean;
}

/**
 * A steady stream of ResolveStream batches, the way a DNS front-end sends them: a fixed rate,
 * independent of the answers (the next batch does not wait for the previous one), over one stream
 * at a time. When the stream breaks or hangs, the replay fails over to the next resolver and sends
 * every unanswered batch again, so "zero failed resolves" means every query was answered, with no
 * item error, by some resolver — what a front-end with two resolvers gives its users.
 */
export function startReplay(options: ReplayOptions): Replay {
  const batchSize = options.batchSize ?? 20;
  const intervalMs = options.intervalMs ?? 50;
  const batchTimeoutMs = options.batchTimeoutMs ?? 1500;
  const channels: Channel[] = options.targets.map((t) => (options.connect ? options.connect(t) : createChannel(t)));
  const clients = channels.map((c) => createClient(serviceDefinitions.resolver, c));
  const startedAtMs = Date.now();
  const pending = new Map<bigint, PendingBatch>();
  const records: BatchRecord[] = [];
  const failures: ReplayFailure[] = [];
  const degradedLog: { atMs: number; reason: string }[] = [];
  const failovers: ReplayFailover[] = [];
  const answers: { atMs: number; nodeId: string }[] = [];
  let targetIndex = 0;
  let nextId = 1n;
  let queryCursor = 0;
  let outbox: PushQueue<BatchInit> | undefined;
  let streamAbort: AbortController | undefined;
  let stopping = false;
  const closed = new AbortController();

  const send = (batch: PendingBatch): void => {
    batch.lastSentAtMs = Date.now();
    batch.attempts++;
    outbox?.push(batch.request);
  };

  const produce = (): void => {
    const firstId = nextId;
    const queries = [];
    for (let i = 0; i < batchSize; i++) {
      const q = options.queries[queryCursor++ % options.queries.length]!;
      queries.push({ queryId: nextId++, clientIp: q.clientIp, domain: q.domain, answers: q.answers ?? 0 });
    }
    const batch: PendingBatch = { firstId, request: { queries }, firstSentAtMs: Date.now(), lastSentAtMs: 0, attempts: 0 };
    pending.set(firstId, batch);
    send(batch);
  };

  const onResponse = (decisions: readonly Decision[], target: string): void => {
    const at = Date.now();
    const first = decisions[0];
    if (!first) return;
    const firstId = ((first.queryId - 1n) / BigInt(batchSize)) * BigInt(batchSize) + 1n;
    const batch = pending.get(firstId);
    // An answer to a batch already answered on a previous stream (sent again after a failover).
    if (!batch) return;
    pending.delete(firstId);
    let degraded = 0;
    for (const d of decisions) {
      if (d.result.case === 'error') {
        failures.push({ atMs: at, queryId: d.queryId, target, code: d.result.value.code, message: d.result.value.message });
      } else if (d.result.case === 'response') {
        const r = d.result.value;
        if (r.answers.length === 0) failures.push({ atMs: at, queryId: d.queryId, target, code: 0, message: `no answers (${r.reason})` });
        for (const a of r.answers) answers.push({ atMs: at, nodeId: a.nodeId });
        if (r.degraded) {
          degraded++;
          if (degradedLog.length < 1000) degradedLog.push({ atMs: at, reason: `${target}: ${r.reason}` });
        }
      }
    }
    records.push({ sentAtMs: batch.firstSentAtMs, latencyMs: at - batch.firstSentAtMs, decisions: decisions.length, degraded, resent: batch.attempts > 1 });
    options.onDecisions?.(decisions, at);
  };

  const runStreams = async (): Promise<void> => {
    while (!closed.signal.aborted) {
      const target = options.targets[targetIndex]!;
      const client = clients[targetIndex]!;
      const queue = createPushQueue<BatchInit>();
      const abort = new AbortController();
      outbox = queue;
      streamAbort = abort;
      for (const batch of pending.values()) send(batch);
      try {
        for await (const res of client.resolveStream(queue, { signal: AbortSignal.any([abort.signal, closed.signal]) })) onResponse(res.decisions, target);
        if (!closed.signal.aborted) throw new Error('stream ended by the server');
      } catch (error) {
        if (closed.signal.aborted) break;
        const next = (targetIndex + 1) % options.targets.length;
        const reason = abort.signal.aborted ? String(abort.signal.reason) : ((error as { details?: string }).details ?? (error as Error).message);
        failovers.push({ atMs: Date.now(), from: target, to: options.targets[next]!, error: reason, resent: pending.size });
        targetIndex = next;
        // A short pause so that a target that refuses at once is not hammered in a tight loop.
        await new Promise((r) => setTimeout(r, 20));
      } finally {
        queue.end();
        outbox = undefined;
      }
    }
  };

  const ticker = setInterval(() => {
    if (stopping) return;
    produce();
    // A hung stream (a frozen resolver, a black-holed connection) is abandoned like a broken one.
    const oldest = pending.values().next().value;
    if (oldest && oldest.lastSentAtMs > 0 && Date.now() - oldest.lastSentAtMs > batchTimeoutMs) {
      streamAbort?.abort(new Error(`no answer within ${batchTimeoutMs} ms`));
    }
  }, intervalMs);
  const streams = runStreams();

  const report = (sinceMs = startedAtMs, unanswered = 0): ReplayReport => {
    const window = records.filter((r) => r.sentAtMs >= sinceMs);
    const decisions = window.reduce((n, r) => n + r.decisions, 0);
    const durationMs = Math.max(1, Date.now() - sinceMs);
    const answersByNode = new Map<string, number>();
    for (const a of answers) if (a.atMs >= sinceMs) answersByNode.set(a.nodeId, (answersByNode.get(a.nodeId) ?? 0) + 1);
    return {
      durationMs,
      batches: window.length,
      decisions,
      decisionsPerS: (decisions / durationMs) * 1000,
      failures: failures.filter((f) => f.atMs >= sinceMs),
      degraded: window.reduce((n, r) => n + r.degraded, 0),
      degradedReasons: [...new Set(degradedLog.filter((d) => d.atMs >= sinceMs).map((d) => d.reason))].slice(0, 5),
      latencyMs: summarize(window.map((r) => r.latencyMs)),
      failovers: failovers.filter((f) => f.atMs >= sinceMs),
      resentBatches: window.filter((r) => r.resent).length,
      unanswered,
      answersByNode,
    };
  };

  return {
    get target() {
      return options.targets[targetIndex]!;
    },
    report: (sinceMs) => report(sinceMs),
    async stop() {
      stopping = true;
      clearInterval(ticker);
      const deadline = Date.now() + 3000;
      while (pending.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const unanswered = pending.size;
      closed.abort();
      await streams;
      for (const c of channels) c.close();
      return report(startedAtMs, unanswered);
    },
  };
}
