import { create } from '@bufbuild/protobuf';
import { ReportProbesRequestSchema, serviceDefinitions, type ProbeResult, type ReportProbesRequest } from '@cdn-sched/proto';
import { breakerProfiles, createBackoff, createTunedBreaker, sleep, type TunedBreakerStatus } from '@cdn-sched/resilience';
import { plaintextTransport, type Transport } from '@cdn-sched/transport';
import { createClient, type Channel } from 'nice-grpc';

/** Options of {@link createReporter}. */
export interface ReporterOptions {
  proberId: string;
  /** weight-calculator address, `host:port`. */
  target: string;
  /** Name expected in its certificate when `target` is one address of a DNS name. Defaults to the target's host. */
  serverName?: string;
  /** Results per batch at most. Defaults to 500. */
  maxBatch?: number;
  /** A batch leaves at least this often while results wait, milliseconds. Defaults to 50. */
  flushIntervalMs?: number;
  /** Batches sent and not yet acknowledged, at most. Defaults to 8. */
  maxInFlightBatches?: number;
  /**
   * Bound from opening the stream to the first acknowledgement, milliseconds; past it the attempt
   * counts as a failed connection. Defaults to 5 seconds.
   */
  connectTimeoutMs?: number;
  onAck?(ack: { accepted: number; rejected: number; errors: readonly string[] }): void;
  onStateChange?(connected: boolean, error?: string): void;
  /** Credentials and limits of its gRPC channels. Defaults to plaintext with default limits. */
  transport?: Transport;
  /** The W3C traceparent of a batch about to be sent, `''` when untraced. Defaults to none. */
  traceBatch?(results: readonly ProbeResult[]): string;
}

/** Streams probe results to one weight-calculator. */
export interface Reporter {
  /** Queues a result: only the newest result per node is kept while it waits. */
  push(result: ProbeResult): void;
  readonly connected: boolean;
  /** Results waiting (bounded by the number of nodes, never a growing queue). */
  readonly pending: number;
  readonly sent: number;
  breakerStatus(): TunedBreakerStatus;
  close(): Promise<void>;
}

/**
 * ReportProbes client with a bounded buffer: while the weight-calculator is unreachable the prober
 * keeps probing and keeps only the most recent result per node (an old result is worth nothing once
 * a newer one exists), and resends unacknowledged batches on reconnect. Reconnects go through a
 * breaker with a fixed connect timeout.
 */
export function createReporter(options: ReporterOptions): Reporter {
  const maxBatch = options.maxBatch ?? 500;
  const flushMs = options.flushIntervalMs ?? 50;
  const maxInFlight = options.maxInFlightBatches ?? 8;
  const pending = new Map<string, ProbeResult>();
  const inFlight = new Map<bigint, ProbeResult[]>();
  const controller = new AbortController();
  const channel: Channel = (options.transport ?? plaintextTransport()).channel(options.target, { serverName: options.serverName });
  const client = createClient(serviceDefinitions.weightCalculator, channel);
  const backoff = createBackoff({ baseMs: 100, maxMs: 2000 });
  // Short reset: results must flow again within a couple of seconds of the weight-calculator's return.
  // The first ack comes from the weight-calculator's memory, never from etcd: a fixed connect timeout,
  // not one derived from etcd's watch latency (whose "nothing measured yet" value is 15 s).
  const connectTimeoutMs = options.connectTimeoutMs ?? 5000;
  const breaker = createTunedBreaker({
    name: `report.${options.target}`,
    ...breakerProfiles.connect,
    latencyP99Ms: () => Number.NaN,
    timeoutFloorMs: connectTimeoutMs,
    timeoutCeilingMs: connectTimeoutMs,
  });
  let connected = false;
  let sent = 0;
  let seq = 0n;
  let wake: (() => void) | undefined;

  const setConnected = (value: boolean, error?: string): void => {
    if (value !== connected) {
      connected = value;
      options.onStateChange?.(value, error);
    }
  };

  /** Requeues unacknowledged results, unless a newer result of the same node is already waiting. */
  const requeueInFlight = (): void => {
    for (const batch of inFlight.values()) for (const r of batch) if (!pending.has(r.nodeId)) pending.set(r.nodeId, r);
    inFlight.clear();
  };

  async function* batches(signal: AbortSignal): AsyncGenerator<ReportProbesRequest> {
    while (!signal.aborted) {
      if (pending.size === 0 || inFlight.size >= maxInFlight) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            clearTimeout(timer);
            // Removed every round: an idle stream waits here every flushMs for its whole life.
            signal.removeEventListener('abort', done);
            resolve();
          };
          const timer = setTimeout(done, flushMs);
          wake = done;
          signal.addEventListener('abort', done, { once: true });
        });
        wake = undefined;
        continue;
      }
      const results: ProbeResult[] = [];
      for (const [nodeId, r] of pending) {
        results.push(r);
        pending.delete(nodeId);
        if (results.length >= maxBatch) break;
      }
      seq++;
      inFlight.set(seq, results);
      sent += results.length;
      const traceparent = options.traceBatch?.(results) ?? '';
      yield create(ReportProbesRequestSchema, { proberId: options.proberId, seq, results, traceparent });
      if (pending.size < maxBatch) await new Promise((r) => setTimeout(r, flushMs));
    }
  }

  const run = async (): Promise<void> => {
    while (!controller.signal.aborted) {
      const streamAbort = new AbortController();
      const signal = AbortSignal.any([controller.signal, streamAbort.signal]);
      try {
        // Open the stream only when there is something to say: an idle prober (no nodes assigned)
        // must not count as a failing weight-calculator.
        while (pending.size === 0 && inFlight.size === 0) await sleep(flushMs, controller.signal);
        const acks = client.reportProbes(batches(signal), { signal })[Symbol.asyncIterator]();
        // The first ack proves the stream works; wait for it through the breaker.
        const first = await breaker.fire(async (deadline) => {
          const onDeadline = (): void => streamAbort.abort();
          deadline.addEventListener('abort', onDeadline, { once: true });
          try {
            return await acks.next();
          } finally {
            deadline.removeEventListener('abort', onDeadline);
          }
        });
        for (let next = first; !next.done; next = await acks.next()) {
          setConnected(true);
          backoff.reset();
          inFlight.delete(next.value.seq);
          options.onAck?.({ accepted: next.value.accepted, rejected: next.value.rejected, errors: next.value.errors });
          wake?.();
        }
        throw new Error('report stream ended by the server');
      } catch (error) {
        streamAbort.abort();
        if (controller.signal.aborted) break;
        requeueInFlight();
        setConnected(false, error instanceof Error ? error.message : String(error));
      }
      await sleep(backoff.next(), controller.signal).catch(() => undefined);
    }
  };
  const done = run();

  return {
    push(result) {
      pending.set(result.nodeId, result);
      if (pending.size >= maxBatch) wake?.();
    },
    get connected() {
      return connected;
    },
    get pending() {
      return pending.size;
    },
    get sent() {
      return sent;
    },
    breakerStatus: () => breaker.status(),
    async close() {
      controller.abort();
      await done;
      breaker.shutdown();
      channel.close();
    },
  };
}
