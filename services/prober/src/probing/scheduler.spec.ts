import { NodeState, ProbeErrorClass, type ProbeResult } from '@cdn-sched/proto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { probeFailure, probeSuccess } from './probe-result.js';
import type { ProbeRunner } from './probe-runner.js';
import type { EffectiveProbe, ProbeTarget } from './probe-target.js';
import { createProbeScheduler, type ProbeScheduler, type ProbeSchedulerOptions } from './scheduler.js';
import { createSeededUniform } from '@cdn-sched/testing';

interface Run {
  nodeId: string;
  at: number;
  port: number;
  signal: AbortSignal;
}

/** A runner whose probes take `durationMs` (fake timers) and answer `outcome`; it records everything. */
function fakeRunner(durationMs = 5) {
  const runs: Run[] = [];
  const attached: EffectiveProbe[] = [];
  let detached = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const outcome = new Map<string, ProbeErrorClass>();
  const runner: ProbeRunner = {
    attach(probe) {
      attached.push(probe);
      let live = true;
      return {
        run: ({ nodeId, signal, startedAtMs }) =>
          new Promise<ProbeResult>((resolve) => {
            runs.push({ nodeId, at: Date.now(), port: probe.port, signal });
            maxInFlight = Math.max(maxInFlight, ++inFlight);
            const done = (result: ProbeResult): void => {
              inFlight--;
              resolve(result);
            };
            const timings = { connectMs: 0, ttfbMs: durationMs, totalMs: durationMs };
            const timer = setTimeout(() => {
              const cls = outcome.get(nodeId) ?? ProbeErrorClass.UNSPECIFIED;
              done(cls === ProbeErrorClass.UNSPECIFIED ? probeSuccess(nodeId, startedAtMs, timings, 200) : probeFailure(nodeId, startedAtMs, cls, 'x', timings));
            }, durationMs);
            signal.addEventListener('abort', () => {
              clearTimeout(timer);
              done(probeFailure(nodeId, startedAtMs, ProbeErrorClass.OTHER, 'cancelled', timings));
            });
          }),
        detach() {
          if (live) detached++;
          live = false;
        },
      };
    },
    openSockets: () => 0,
    pools: () => 0,
    close: async () => {},
  };
  return {
    runner,
    runs,
    attached,
    outcome,
    detached: () => detached,
    maxInFlight: () => maxInFlight,
    runsOf: (nodeId: string) => runs.filter((r) => r.nodeId === nodeId),
  };
}

const target = (i: number, extra: Partial<ProbeTarget> = {}): ProbeTarget => ({
  nodeId: `n${i}`,
  address: '10.0.0.1',
  port: 8000 + i,
  state: NodeState.ACTIVE,
  ...extra,
});

describe('createProbeScheduler', () => {
  let scheduler: ProbeScheduler | undefined;
  const results: ProbeResult[] = [];
  const make = (options: Partial<ProbeSchedulerOptions> & { runner: ProbeRunner }): ProbeScheduler => {
    scheduler = createProbeScheduler({
      defaults: { intervalMs: 1000, timeoutMs: 500 },
      random: createSeededUniform(42),
      monotonic: () => Date.now(),
      onResult: (r) => results.push(r),
      ...options,
    });
    return scheduler;
  };

  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
    results.length = 0;
  });
  afterEach(async () => {
    await scheduler?.close();
    scheduler = undefined;
    vi.useRealTimers();
  });

  it('probes new nodes at once, their first probes spread over the window', async () => {
    const fake = fakeRunner();
    const s = make({ runner: fake.runner, defaults: { intervalMs: 5000 }, firstProbeSpreadMs: 1000 });
    s.setTargets(Array.from({ length: 1000 }, (_, i) => target(i)));
    await vi.advanceTimersByTimeAsync(1000);
    expect(fake.runs).toHaveLength(1000);
    expect(new Set(fake.runs.map((r) => r.nodeId)).size).toBe(1000);
    const buckets = new Array<number>(10).fill(0);
    for (const run of fake.runs) buckets[Math.min(9, Math.floor((run.at - 1_000_000) / 100))]!++;
    for (const count of buckets) {
      expect(count).toBeGreaterThan(60);
      expect(count).toBeLessThan(140);
    }
  });

  it('then probes each node every interval ± jitter', async () => {
    const fake = fakeRunner();
    const s = make({ runner: fake.runner, defaults: { intervalMs: 1000 }, jitterRatio: 0.2 });
    s.upsert(target(1));
    await vi.advanceTimersByTimeAsync(30_000);
    const starts = fake.runs.map((r) => r.at);
    const gaps = starts.slice(1).map((t, i) => t - starts[i]!);
    expect(gaps.length).toBeGreaterThanOrEqual(24);
    for (const gap of gaps) {
      expect(gap).toBeGreaterThanOrEqual(800);
      expect(gap).toBeLessThanOrEqual(1200);
    }
    expect(Math.max(...gaps) - Math.min(...gaps)).toBeGreaterThan(100);
    expect(results).toHaveLength(fake.runs.length);
  });

  it('never runs more than maxConcurrency probes at once, queueing the rest', async () => {
    const fake = fakeRunner(50);
    const s = make({ runner: fake.runner, maxConcurrency: 8, firstProbeSpreadMs: 0, defaults: { intervalMs: 60_000 } });
    s.setTargets(Array.from({ length: 100 }, (_, i) => target(i)));
    await vi.advanceTimersByTimeAsync(1);
    expect(s.stats()).toMatchObject({ inFlight: 8, queued: 92, targets: 100 });
    await vi.advanceTimersByTimeAsync(700);
    expect(fake.runs).toHaveLength(100);
    expect(fake.maxInFlight()).toBe(8);
    expect(s.stats()).toMatchObject({ inFlight: 0, queued: 0 });
  });

  it('stops a removed node at once: probe aborted, resources released, no result', async () => {
    const fake = fakeRunner(10_000);
    const s = make({ runner: fake.runner });
    s.upsert(target(1));
    await vi.advanceTimersByTimeAsync(1000);
    expect(fake.runs).toHaveLength(1);
    s.remove('n1');
    expect(fake.runs[0]!.signal.aborted).toBe(true);
    expect(fake.detached()).toBe(1);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(fake.runs).toHaveLength(1);
    expect(results).toHaveLength(0);
    expect(s.stats()).toMatchObject({ targets: 0, inFlight: 0 });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('stops a node put in maintenance and keeps probing a draining one', async () => {
    const fake = fakeRunner();
    const s = make({ runner: fake.runner });
    s.setTargets([target(1), target(2)]);
    await vi.advanceTimersByTimeAsync(1000);
    s.setTargets([target(1, { state: NodeState.MAINTENANCE }), target(2, { state: NodeState.DRAIN })]);
    const before1 = fake.runsOf('n1').length;
    const before2 = fake.runsOf('n2').length;
    await vi.advanceTimersByTimeAsync(5000);
    expect(fake.runsOf('n1')).toHaveLength(before1);
    expect(fake.runsOf('n2').length - before2).toBeGreaterThanOrEqual(4);
    expect(fake.detached()).toBe(1);
    // Back from maintenance: a new target, probed at once.
    s.upsert(target(1));
    await vi.advanceTimersByTimeAsync(1000);
    expect(fake.runsOf('n1')).toHaveLength(before1 + 1);
  });

  it('reschedules on an interval change, without waiting for the old interval', async () => {
    const fake = fakeRunner();
    const s = make({ runner: fake.runner, jitterRatio: 0.1 });
    s.upsert(target(1, { probe: { intervalMs: 10_000 } }));
    await vi.advanceTimersByTimeAsync(1000);
    const first = fake.runs[0]!.at;
    s.upsert(target(1, { probe: { intervalMs: 200 } }));
    await vi.advanceTimersByTimeAsync(1000);
    const starts = fake.runs.map((r) => r.at);
    expect(starts.length).toBeGreaterThanOrEqual(5);
    // Due 200 ± 10% after the first probe was due, i.e. now, since more than that has passed.
    expect(starts[1]! - first).toBeLessThanOrEqual(1000);
    for (let i = 2; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeLessThanOrEqual(220);
    s.upsert(target(1, { probe: { intervalMs: 60_000 } }));
    const count = fake.runs.length;
    await vi.advanceTimersByTimeAsync(30_000);
    expect(fake.runs).toHaveLength(count);
    expect(fake.attached).toHaveLength(1); // same endpoint: same channel
  });

  it('moves a node whose endpoint changes: old channel released, new one probed at once', async () => {
    const fake = fakeRunner();
    const s = make({ runner: fake.runner, defaults: { intervalMs: 60_000 } });
    s.upsert(target(1));
    await vi.advanceTimersByTimeAsync(1000);
    s.upsert(target(1, { port: 9999 }));
    expect(fake.detached()).toBe(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(fake.runs.map((r) => r.port)).toEqual([8001, 9999]);
    s.upsert(target(1, { port: 9999, probe: { path: '/other' } }));
    expect(fake.attached.map((p) => p.path)).toEqual(['/health', '/health', '/other']);
  });

  it('keeps statistics by class and the last result of each node', async () => {
    const fake = fakeRunner(20);
    fake.outcome.set('n2', ProbeErrorClass.REFUSED);
    const s = make({ runner: fake.runner });
    s.setTargets([target(1), target(2, { probe: { type: 2 } })]);
    await vi.advanceTimersByTimeAsync(10_500);
    const stats = s.stats();
    // 10.5 s at 1 s ± 10%: 10 or 11 probes each.
    expect(stats.resultsByClass.up).toBeGreaterThanOrEqual(10);
    expect(stats.resultsByClass.up).toBeLessThanOrEqual(11);
    expect(stats.resultsByClass.refused).toBeGreaterThanOrEqual(10);
    expect(stats.resultsByClass.refused).toBeLessThanOrEqual(11);
    expect(stats.total).toBe(stats.resultsByClass.up + stats.resultsByClass.refused);
    expect(stats.resultsByClass.timeout).toBe(0);
    expect(stats.probesPerS).toBeGreaterThan(1.6);
    expect(stats.probesPerS).toBeLessThan(2.4);
    expect(stats.rttP50Ms).toBe(20);
    const byNode = Object.fromEntries(s.targets().map((t) => [t.nodeId, t]));
    expect(byNode.n1).toMatchObject({ type: 'http', intervalMs: 1000, lastResult: 'up', lastRttMs: 20 });
    expect(byNode.n2).toMatchObject({ type: 'tcp', lastResult: 'refused' });
    expect(byNode.n1!.lastProbeAtMs).toBeGreaterThan(1_000_000);
  });

  it('close() aborts probes in flight and leaves no timer', async () => {
    const fake = fakeRunner(10_000);
    const s = make({ runner: fake.runner });
    s.setTargets(Array.from({ length: 10 }, (_, i) => target(i)));
    await vi.advanceTimersByTimeAsync(1000);
    expect(s.stats().inFlight).toBe(10);
    await s.close();
    expect(fake.runs.every((r) => r.signal.aborted)).toBe(true);
    expect(fake.detached()).toBe(10);
    expect(vi.getTimerCount()).toBe(0);
    s.upsert(target(1));
    expect(s.stats().targets).toBe(0);
    expect(results).toHaveLength(0);
  });
});
