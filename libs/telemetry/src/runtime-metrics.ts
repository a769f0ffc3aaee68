import { constants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { Gauge, Histogram, type Registry } from 'prom-client';

/** Options of {@link createRuntimeMetrics}. */
export interface RuntimeMetricsOptions {
  /** Registry the metrics are registered on. */
  registry: Registry;
  /**
   * Window the event-loop delay gauges describe: every window the percentiles of the window just
   * ended are published and the monitor is reset. Defaults to 10 000 ms.
   */
  eventLoopWindowMs?: number;
  /** Sampling resolution of `monitorEventLoopDelay`. Defaults to 10 ms (Node's own default). */
  eventLoopResolutionMs?: number;
  /** Upper bounds of the GC pause histogram, in seconds. Defaults to 0.5 ms … 1 s. */
  gcPauseBucketsS?: readonly number[];
}

/** The runtime metrics of one registry; `close()` stops the monitor, the timer and the observer. */
export interface RuntimeMetrics {
  /** Publishes the current window now and resets the monitor (what the window timer does). */
  publishEventLoopWindow(): void;
  /** Stops the event-loop monitor, the window timer and the GC observer. Idempotent. */
  close(): void;
}

/** Metric names, exported for dashboards and tests. */
export const RUNTIME_METRIC_NAMES = {
  eventLoopDelayP50: 'nodejs_event_loop_delay_p50_seconds',
  eventLoopDelayP99: 'nodejs_event_loop_delay_p99_seconds',
  eventLoopDelayMax: 'nodejs_event_loop_delay_max_seconds',
  gcPause: 'nodejs_gc_pause_seconds',
} as const;

// Fine steps below 100 ms: the decision path has an 85 ms P99 budget (docs/architecture.md, "Performance targets"), so a pause of
// 20 ms and one of 80 ms must land in different buckets.
const DEFAULT_GC_PAUSE_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1];

const GC_KINDS = new Map<number, string>([
  [constants.NODE_PERFORMANCE_GC_MINOR, 'minor'],
  [constants.NODE_PERFORMANCE_GC_MAJOR, 'major'],
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL, 'incremental'],
  [constants.NODE_PERFORMANCE_GC_WEAKCB, 'weakcb'],
]);

const NS_PER_S = 1e9;

/**
 * The GC kind named by the `detail` of a 'gc' performance entry ("minor", "major", "incremental",
 * "weakcb", else "unknown"). Node ≥ 16 puts the kind in `detail.kind` (DEP0152).
 */
export function gcKindOf(detail: unknown): string {
  const kind = (detail as { kind?: unknown } | null | undefined)?.kind;
  return (typeof kind === 'number' ? GC_KINDS.get(kind) : undefined) ?? 'unknown';
}

/**
 * Registers event-loop delay gauges (p50/p99/max of the last window, seconds) and a GC pause
 * histogram (seconds, by kind) on `registry`.
 *
 * The gauges describe a fixed window driven by a timer rather than "since the last scrape": with
 * two Prometheus replicas scraping, a scrape-reset monitor would give each of them half the data.
 */
export function createRuntimeMetrics(options: RuntimeMetricsOptions): RuntimeMetrics {
  const { registry } = options;
  const windowMs = options.eventLoopWindowMs ?? 10_000;
  const resolutionMs = options.eventLoopResolutionMs ?? 10;
  if (!(windowMs > 0)) throw new RangeError(`eventLoopWindowMs: must be > 0, got ${windowMs}`);
  if (!(resolutionMs >= 1)) throw new RangeError(`eventLoopResolutionMs: must be >= 1, got ${resolutionMs}`);

  const p50 = new Gauge({
    name: RUNTIME_METRIC_NAMES.eventLoopDelayP50,
    help: `Median event-loop delay over the last ${windowMs} ms window, seconds.`,
    registers: [registry],
  });
  const p99 = new Gauge({
    name: RUNTIME_METRIC_NAMES.eventLoopDelayP99,
    help: `99th percentile event-loop delay over the last ${windowMs} ms window, seconds.`,
    registers: [registry],
  });
  const max = new Gauge({
    name: RUNTIME_METRIC_NAMES.eventLoopDelayMax,
    help: `Longest event-loop delay over the last ${windowMs} ms window, seconds.`,
    registers: [registry],
  });
  const gcPause = new Histogram({
    name: RUNTIME_METRIC_NAMES.gcPause,
    help: 'Garbage-collection pauses by kind (minor, major, incremental, weakcb), seconds.',
    labelNames: ['kind'],
    buckets: [...(options.gcPauseBucketsS ?? DEFAULT_GC_PAUSE_BUCKETS_S)],
    registers: [registry],
  });

  const monitor = monitorEventLoopDelay({ resolution: resolutionMs });
  monitor.enable();

  const publishEventLoopWindow = (): void => {
    // An empty window (no sample yet) would publish NaN/huge sentinels; keep the previous values.
    if (monitor.count === 0) return;
    p50.set(monitor.percentile(50) / NS_PER_S);
    p99.set(monitor.percentile(99) / NS_PER_S);
    max.set(monitor.max / NS_PER_S);
    monitor.reset();
  };
  const timer = setInterval(publishEventLoopWindow, windowMs);
  // Metrics must never keep a process alive that is otherwise done.
  timer.unref();

  // Several GCs can be delivered in one callback; every entry is observed, not just the first.
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcPause.observe({ kind: gcKindOf((entry as { detail?: unknown }).detail) }, entry.duration / 1000);
  });
  observer.observe({ entryTypes: ['gc'] });

  let closed = false;
  return {
    publishEventLoopWindow,
    close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      monitor.disable();
      observer.disconnect();
    },
  };
}
