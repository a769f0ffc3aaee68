import type { EtcdClient } from '@cdn-sched/etcd';
import { createLatencyWindow, type LatencyWindow, type TunedBreaker } from '@cdn-sched/resilience';

/** Options of {@link createWatchLatencyProbe}. */
export interface WatchLatencyProbeOptions {
  client: EtcdClient;
  /** The heartbeat key, `<prefix>heartbeat/<instance>`. */
  key: string;
  instanceId: string;
  /** Heartbeat period, milliseconds. Defaults to 1000. */
  intervalMs?: number;
  /** Sliding window of the percentiles, milliseconds. Defaults to 60 s. */
  windowMs?: number;
  /** Breaker the heartbeat puts go through. */
  breaker?: TunedBreaker;
  now?: () => number;
  onError?(error: unknown): void;
}

/** Continuous measurement of etcd watch latency. */
export interface WatchLatencyProbe {
  readonly window: LatencyWindow;
  /** Feed every put of the heartbeat prefix seen by the watch. */
  onHeartbeat(key: string, value: Uint8Array): void;
  p50(): number;
  p99(): number;
  /** When our own heartbeat last came back through the watch (0 = never). */
  readonly lastEchoAtMs: number;
  close(): Promise<void>;
}

/**
 * Measures what the design's breakers are tuned by: the time from writing a key to seeing it come
 * back through the watch. Every `intervalMs` the service writes its heartbeat key with its own
 * send time; when the watch delivers that put, now − sentAt is one sample. This includes the Raft
 * commit and the watch fan-out, i.e. exactly the delay consumers see, and keeps being measured while
 * nothing else changes.
 */
export function createWatchLatencyProbe(options: WatchLatencyProbeOptions): WatchLatencyProbe {
  const now = options.now ?? Date.now;
  const window = createLatencyWindow({ windowMs: options.windowMs ?? 60_000 });
  let lastEchoAtMs = 0;
  let closed = false;
  let inFlight: Promise<void> | undefined;
  const beat = (): void => {
    if (closed || inFlight) return;
    const value = JSON.stringify({ instance: options.instanceId, sentAtMs: now() });
    const put = (signal?: AbortSignal) => options.client.put(options.key, value, { signal, timeoutMs: 30_000 }).then(() => undefined);
    inFlight = (options.breaker ? options.breaker.fire(put) : put())
      .catch((error: unknown) => options.onError?.(error))
      .finally(() => (inFlight = undefined));
  };
  const timer = setInterval(beat, options.intervalMs ?? 1000);
  beat();
  return {
    window,
    onHeartbeat(key, bytes) {
      if (key !== options.key) return;
      try {
        const { sentAtMs } = JSON.parse(Buffer.from(bytes).toString('utf8')) as { sentAtMs?: unknown };
        if (typeof sentAtMs !== 'number') return;
        const t = now();
        window.record(t - sentAtMs, t);
        lastEchoAtMs = t;
      } catch {
        // Someone else wrote our key; not a sample.
      }
    },
    p50: () => window.quantile(0.5, now()),
    p99: () => window.quantile(0.99, now()),
    get lastEchoAtMs() {
      return lastEchoAtMs;
    },
    async close() {
      closed = true;
      clearInterval(timer);
      await inFlight;
      await options.client.delete(options.key, { timeoutMs: 1000 }).catch(() => undefined);
    },
  };
}
