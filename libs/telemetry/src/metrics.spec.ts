import { register as globalRegistry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics, type Metrics } from './metrics.js';
import { RUNTIME_METRIC_NAMES } from './runtime-metrics.js';

const open: Metrics[] = [];
function metricsFor(service: string, instanceId: string, processMetrics?: boolean): Metrics {
  const metrics = createMetrics({ service, instanceId, processMetrics, eventLoopWindowMs: 60_000 });
  open.push(metrics);
  return metrics;
}
afterEach(() => {
  for (const metrics of open.splice(0)) metrics.close();
});

describe('createMetrics', () => {
  it('uses its own registry, never prom-client global one', () => {
    const metrics = metricsFor('resolver', 'r1');
    expect(metrics.registry).not.toBe(globalRegistry);
    metrics.counter({ name: 'only_here_total', help: 'h' });
    expect(globalRegistry.getSingleMetric('only_here_total')).toBeUndefined();
  });

  it('labels every series with service and instance_id', async () => {
    const metrics = metricsFor('resolver', 'r1');
    metrics.counter({ name: 'decisions_total', help: 'Decisions.' }).inc(3);
    const text = await metrics.registry.metrics();
    expect(text).toContain('decisions_total{service="resolver",instance_id="r1"} 3');
    expect(text).toMatch(/process_cpu_user_seconds_total\{service="resolver",instance_id="r1"\} [0-9.e-]+/);
  });

  it('serves process, event-loop delay and GC pause metrics, and not prom-client lag/GC duplicates', async () => {
    const text = await metricsFor('prober', 'p1').registry.metrics();
    for (const name of [
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_heap_size_used_bytes',
      'nodejs_version_info',
      RUNTIME_METRIC_NAMES.eventLoopDelayP50,
      RUNTIME_METRIC_NAMES.eventLoopDelayP99,
      RUNTIME_METRIC_NAMES.eventLoopDelayMax,
      RUNTIME_METRIC_NAMES.gcPause,
    ]) {
      expect(text, name).toContain(`# TYPE ${name} `);
    }
    expect(text).toContain(`# TYPE ${RUNTIME_METRIC_NAMES.gcPause} histogram`);
    expect(text).not.toContain('nodejs_eventloop_lag_');
    expect(text).not.toContain('nodejs_gc_duration_seconds');
  });

  it('shares the process metrics between two services of one process, each with its own labels', async () => {
    const a = metricsFor('a', 'a1');
    const b = metricsFor('b', 'b1');
    expect(await a.registry.metrics()).toMatch(/process_start_time_seconds\{service="a",instance_id="a1"\}/);
    expect(await b.registry.metrics()).toMatch(/process_start_time_seconds\{service="b",instance_id="b1"\}/);
    a.counter({ name: 'same_name_total', help: 'h' });
    expect(() => b.counter({ name: 'same_name_total', help: 'h' })).not.toThrow();
  });

  it('leaves process metrics out when processMetrics is false, keeping the runtime ones', async () => {
    const text = await metricsFor('x', 'x1', false).registry.metrics();
    expect(text).not.toContain('process_cpu_user_seconds_total');
    expect(text).toContain(RUNTIME_METRIC_NAMES.eventLoopDelayMax);
  });

  it('creates counters, gauges and histograms on its registry', async () => {
    const metrics = metricsFor('w', 'w1');
    metrics.counter({ name: 'probes_total', help: 'Probes.', labelNames: ['result'] }).inc({ result: 'ok' }, 2);
    metrics.gauge({ name: 'nodes', help: 'Nodes.' }).set(7);
    metrics.histogram({ name: 'probe_seconds', help: 'Probe time.', buckets: [0.1, 1] }).observe(0.5);
    const text = await metrics.registry.metrics();
    expect(text).toContain('probes_total{result="ok",service="w",instance_id="w1"} 2');
    expect(text).toContain('nodes{service="w",instance_id="w1"} 7');
    expect(text).toContain('probe_seconds_bucket{le="0.1",service="w",instance_id="w1"} 0');
    expect(text).toContain('probe_seconds_bucket{le="1",service="w",instance_id="w1"} 1');
  });

  it('refuses a metric name registered twice on one registry', () => {
    const metrics = metricsFor('w', 'w1');
    metrics.gauge({ name: 'dup', help: 'h' });
    expect(() => metrics.counter({ name: 'dup', help: 'h' })).toThrow(/already been registered/);
  });

  it('closes idempotently', () => {
    const metrics = createMetrics({ service: 's', instanceId: 'i' });
    metrics.close();
    expect(() => metrics.close()).not.toThrow();
  });
});
