import {
  collectDefaultMetrics,
  Counter,
  Gauge,
  Histogram,
  Registry,
  type CounterConfiguration,
  type GaugeConfiguration,
  type HistogramConfiguration,
} from 'prom-client';
import { createRuntimeMetrics } from './runtime-metrics.js';

/** Options of {@link createMetrics}. */
export interface MetricsOptions {
  /** Service name, the `service` label of every series ("resolver"). */
  service: string;
  /** Instance id, the `instance_id` label of every series. */
  instanceId: string;
  /** Include prom-client's process metrics (CPU, memory, fds, heap, handles). Defaults to true. */
  processMetrics?: boolean;
  /** Window of the event-loop delay gauges. Defaults to 10 000 ms. */
  eventLoopWindowMs?: number;
  /** Sampling resolution of the event-loop delay monitor. Defaults to 10 ms. */
  eventLoopResolutionMs?: number;
}

/** Configuration of a metric created through {@link Metrics}; it is always registered there. */
export type CounterOptions<L extends string> = Omit<CounterConfiguration<L>, 'registers'>;
/** See {@link CounterOptions}. */
export type GaugeOptions<L extends string> = Omit<GaugeConfiguration<L>, 'registers'>;
/** See {@link CounterOptions}. */
export type HistogramOptions<L extends string> = Omit<HistogramConfiguration<L>, 'registers'>;

/** The metrics of one service: its own registry, runtime metrics, and factories bound to it. */
export interface Metrics {
  /** The service's registry (never prom-client's global one), what `/metrics` serves. */
  readonly registry: Registry;
  /** Creates a counter on {@link registry}; a name registered twice throws. */
  counter<L extends string = string>(options: CounterOptions<L>): Counter<L>;
  /** Creates a gauge on {@link registry}. */
  gauge<L extends string = string>(options: GaugeOptions<L>): Gauge<L>;
  /** Creates a histogram on {@link registry}. */
  histogram<L extends string = string>(options: HistogramOptions<L>): Histogram<L>;
  /** Stops the event-loop monitor, its timer and the GC observer. Idempotent. */
  close(): void;
}

// prom-client's own event-loop lag and GC metrics are left out of a service registry: the runtime
// metrics of this package replace them (fixed windows, finer GC buckets, closable), and two
// answers to one question confuse dashboards. So are its `nodejs_active_{handles,requests,
// resources}_total`: gauges with a counter's suffix (`promtool check metrics` rejects them), and
// the same numbers as the `nodejs_active_*{type}` gauges summed.
const REPLACED_DEFAULT_METRIC = /^nodejs_(eventloop_lag_|gc_duration_seconds|active_(handles|requests|resources)_total$)/;

const PROCESS_REGISTRY = Symbol.for('@cdn-sched/telemetry.process-registry');

/**
 * prom-client's default metrics describe the process, and `collectDefaultMetrics()` starts an
 * event-loop monitor and a GC observer that can never be stopped. So they are collected once per
 * process, into a registry kept on `globalThis` (shared even if this module is loaded twice), and
 * every service registry registers the same metric objects.
 */
function processRegistry(): Registry {
  const holder = globalThis as { [PROCESS_REGISTRY]?: Registry };
  let registry = holder[PROCESS_REGISTRY];
  if (registry === undefined) {
    registry = new Registry();
    collectDefaultMetrics({ register: registry });
    holder[PROCESS_REGISTRY] = registry;
  }
  return registry;
}

/**
 * Creates the metrics of a service: a fresh registry labelled with `service` and `instance_id`
 * (not `instance`, which Prometheus sets on every scraped target and would rename to
 * `exported_instance`), process metrics, event-loop delay and GC pause metrics.
 */
export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service: options.service, instance_id: options.instanceId });
  if (options.processMetrics ?? true) {
    const shared = processRegistry();
    for (const { name } of shared.getMetricsAsArray()) {
      const metric = shared.getSingleMetric(name);
      if (metric !== undefined && !REPLACED_DEFAULT_METRIC.test(name)) registry.registerMetric(metric);
    }
  }
  const runtime = createRuntimeMetrics({
    registry,
    eventLoopWindowMs: options.eventLoopWindowMs,
    eventLoopResolutionMs: options.eventLoopResolutionMs,
  });
  return {
    registry,
    counter: (config) => new Counter({ ...config, registers: [registry] }),
    gauge: (config) => new Gauge({ ...config, registers: [registry] }),
    histogram: (config) => new Histogram({ ...config, registers: [registry] }),
    close: () => runtime.close(),
  };
}
