import { constants } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRuntimeMetrics, gcKindOf, RUNTIME_METRIC_NAMES, type RuntimeMetrics } from './runtime-metrics.js';

// A real, synchronous pause of the event loop without burning CPU (Atomics.wait sleeps the thread).
function blockEventLoop(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// `gc()` without starting the worker with --expose-gc: the flag applies to contexts created after.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** A histogram's value rows carry `metricName` (`<name>_count`, ...), which prom-client's types omit. */
type Row = { value: number; labels: Record<string, string | number>; metricName?: string };
async function rows(registry: Registry, name: string): Promise<Row[]> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`no metric ${name}`);
  return (await metric.get()).values as Row[];
}

async function value(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const values = await rows(registry, name);
  const match = values.find((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want));
  return match?.value ?? Number.NaN;
}

let runtime: RuntimeMetrics | undefined;
afterEach(() => runtime?.close());

describe('event-loop delay gauges', () => {
  it('publish p50, p99 and max of the window in seconds, and a stall shows in max and p99', async () => {
    const registry = new Registry();
    runtime = createRuntimeMetrics({ registry, eventLoopWindowMs: 60_000, eventLoopResolutionMs: 5 });
    await sleep(30);
    blockEventLoop(150);
    await sleep(20);
    runtime.publishEventLoopWindow();
    const max = await value(registry, RUNTIME_METRIC_NAMES.eventLoopDelayMax);
    const p50 = await value(registry, RUNTIME_METRIC_NAMES.eventLoopDelayP50);
    const p99 = await value(registry, RUNTIME_METRIC_NAMES.eventLoopDelayP99);
    expect(max).toBeGreaterThanOrEqual(0.14);
    expect(max).toBeLessThan(5);
    expect(p99).toBeLessThanOrEqual(max);
    expect(p50).toBeLessThanOrEqual(p99);
    expect(p50).toBeGreaterThan(0);
  });

  it('starts a new window after publishing: the stall is not reported twice', async () => {
    const registry = new Registry();
    runtime = createRuntimeMetrics({ registry, eventLoopWindowMs: 60_000, eventLoopResolutionMs: 5 });
    await sleep(10);
    blockEventLoop(800);
    await sleep(20);
    runtime.publishEventLoopWindow();
    expect(await value(registry, RUNTIME_METRIC_NAMES.eventLoopDelayMax)).toBeGreaterThanOrEqual(0.79);
    await sleep(60);
    runtime.publishEventLoopWindow();
    // Margin for a busy shared machine: anything well under the 800 ms stall proves the reset.
    expect(await value(registry, RUNTIME_METRIC_NAMES.eventLoopDelayMax)).toBeLessThan(0.5);
  });

  it('publishes on its own every eventLoopWindowMs', async () => {
    const registry = new Registry();
    runtime = createRuntimeMetrics({ registry, eventLoopWindowMs: 40, eventLoopResolutionMs: 5 });
    expect(await value(registry, RUNTIME_METRIC_NAMES.eventLoopDelayP50)).toBe(0);
    await vi.waitFor(async () => expect(await value(registry, RUNTIME_METRIC_NAMES.eventLoopDelayP50)).toBeGreaterThan(0), {
      timeout: 2_000,
      interval: 20,
    });
  });

  it('stops publishing after close()', async () => {
    const registry = new Registry();
    runtime = createRuntimeMetrics({ registry, eventLoopWindowMs: 20, eventLoopResolutionMs: 5 });
    runtime.close();
    blockEventLoop(60);
    await sleep(80);
    expect(await value(registry, RUNTIME_METRIC_NAMES.eventLoopDelayMax)).toBe(0);
  });

  it('rejects a window or resolution that cannot work', () => {
    expect(() => createRuntimeMetrics({ registry: new Registry(), eventLoopWindowMs: 0 })).toThrow('eventLoopWindowMs: must be > 0, got 0');
    expect(() => createRuntimeMetrics({ registry: new Registry(), eventLoopResolutionMs: 0.5 })).toThrow(
      'eventLoopResolutionMs: must be >= 1, got 0.5',
    );
  });
});

describe('GC pause histogram', () => {
  it('observes a forced major collection under kind="major", in seconds', async () => {
    const registry = new Registry();
    runtime = createRuntimeMetrics({ registry, eventLoopWindowMs: 60_000 });
    collectGarbage();
    await vi.waitFor(async () => {
      const values = await rows(registry, RUNTIME_METRIC_NAMES.gcPause);
      const count = values.find((v) => v.metricName === `${RUNTIME_METRIC_NAMES.gcPause}_count` && v.labels.kind === 'major');
      const sum = values.find((v) => v.metricName === `${RUNTIME_METRIC_NAMES.gcPause}_sum` && v.labels.kind === 'major');
      expect(count?.value).toBeGreaterThanOrEqual(1);
      // Seconds, not milliseconds: a full GC of a small test heap is well under a second.
      expect(sum?.value).toBeGreaterThan(0);
      expect(sum?.value).toBeLessThan(1);
    }, { timeout: 2_000, interval: 10 });
  });

  it('stops observing after close()', async () => {
    const registry = new Registry();
    runtime = createRuntimeMetrics({ registry, eventLoopWindowMs: 60_000 });
    runtime.close();
    collectGarbage();
    await sleep(50);
    const values = await rows(registry, RUNTIME_METRIC_NAMES.gcPause);
    expect(values.filter((v) => v.metricName?.endsWith('_count'))).toEqual([]);
  });

  it('names the GC kinds of perf_hooks', () => {
    expect(gcKindOf({ kind: constants.NODE_PERFORMANCE_GC_MAJOR })).toBe('major');
    expect(gcKindOf({ kind: constants.NODE_PERFORMANCE_GC_MINOR })).toBe('minor');
    expect(gcKindOf({ kind: constants.NODE_PERFORMANCE_GC_INCREMENTAL })).toBe('incremental');
    expect(gcKindOf({ kind: constants.NODE_PERFORMANCE_GC_WEAKCB })).toBe('weakcb');
    expect(gcKindOf({ kind: 12345 })).toBe('unknown');
    expect(gcKindOf(null)).toBe('unknown');
    expect(gcKindOf(undefined)).toBe('unknown');
  });
});
