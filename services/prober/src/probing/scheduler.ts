import { ProbeErrorClass, type ProbeResult } from '@cdn-sched/proto';
import { describeError, probeClassName, type ProbeClassName } from './classify.js';
import { DueHeap, type DueItem } from './due-heap.js';
import { probeFailure } from './probe-result.js';
import { createProbeRunner, type ProbeChannel, type ProbeRunner, type ProbeRunnerOptions } from './probe-runner.js';
import { createProbeStats, type ProbeStatsSnapshot } from './probe-stats.js';
import {
  effectiveProbe,
  isProbed,
  sameEndpoint,
  type EffectiveProbe,
  type ProbeDefaults,
  type ProbeKind,
  type ProbeTarget,
} from './probe-target.js';

/** Options of {@link createProbeScheduler}. */
export interface ProbeSchedulerOptions {
  /** Interval, timeout, path and kind where a node's document leaves them unset. */
  defaults?: ProbeDefaults;
  /**
   * Probes in flight at most, across all nodes. Defaults to 512: 10 k nodes every 5 s is 2 k probes/s,
   * and 512 in flight covers a mean probe time of 250 ms; beyond that probes queue (see `queued`).
   */
  maxConcurrency?: number;
  /** Each interval is drawn uniformly in interval × [1 − r, 1 + r]. Defaults to 0.1. */
  jitterRatio?: number;
  /**
   * New nodes are probed at once, their first probes spread uniformly over this window (capped by
   * their interval) so 10 k new nodes do not fire in one tick, ms. Defaults to 1000.
   */
  firstProbeSpreadMs?: number;
  /** Uniform random source in [0, 1). Defaults to `Math.random`. */
  random?: () => number;
  /** Wall clock for `started_at_ms`, Unix ms. Defaults to `Date.now`. */
  now?: () => number;
  /** Monotonic clock for the schedule, ms. Defaults to `performance.now`. */
  monotonic?: () => number;
  /** Runs the probes. Defaults to a network runner built from `pool`, closed by `close()`. */
  runner?: ProbeRunner;
  /** Options of the default runner's HTTP pools. */
  pool?: ProbeRunnerOptions;
  /** Receives each completed probe of a node still scheduled (results of cancelled probes are dropped). */
  onResult: (result: ProbeResult, target: ProbeTarget) => void;
}

/** One scheduled node, as ProbeStatus shows it. */
export interface TargetStatus {
  nodeId: string;
  type: ProbeKind;
  intervalMs: number;
  /** Class of the last result (`up`, `timeout`, ...); empty before the first. */
  lastResult: ProbeClassName | '';
  lastRttMs: number;
  /** Start of the last probe, Unix ms; 0 before the first. */
  lastProbeAtMs: number;
}

/** Scheduler statistics: probe results plus the state of the schedule and the pools. */
export interface SchedulerStats extends ProbeStatsSnapshot {
  targets: number;
  inFlight: number;
  /** Probes due but waiting for a concurrency slot. */
  queued: number;
  openSockets: number;
  pools: number;
}

/** Probes a changing set of nodes on a jittered schedule. */
export interface ProbeScheduler {
  /** Makes `targets` the whole set: adds, updates, and removes what is not in it. */
  setTargets(targets: Iterable<ProbeTarget>): void;
  /** Adds or updates one node (a node in maintenance is removed). */
  upsert(target: ProbeTarget): void;
  /** Stops probing a node at once: timer entry dropped, probe in flight aborted, pool released. */
  remove(nodeId: string): void;
  stats(): SchedulerStats;
  targets(): TargetStatus[];
  /** Stops everything and releases every timer and socket. Idempotent. */
  close(): Promise<void>;
}

type Phase = 'scheduled' | 'queued' | 'running' | 'removed';

interface Entry extends DueItem {
  target: ProbeTarget;
  probe: EffectiveProbe;
  readonly channel: ProbeChannel;
  phase: Phase;
  /** Due time of the probe queued, running or last started; NaN before the first. */
  lastDueAt: number;
  controller: AbortController | null;
  lastResult: ProbeClassName | '';
  lastRttMs: number;
  lastProbeAtMs: number;
}

/**
 * Creates a scheduler. One min-heap holds every node's next due time and one timer is armed for the
 * earliest; due nodes go through a FIFO into at most `maxConcurrency` probes in flight. Each node
 * has at most one probe in flight; the next is due one jittered interval after the previous one was
 * due (fixed rate, so queueing delays do not accumulate), or at once if that is already past.
 */
export function createProbeScheduler(options: ProbeSchedulerOptions): ProbeScheduler {
  const defaults = options.defaults ?? {};
  const maxConcurrency = Math.max(1, options.maxConcurrency ?? 512);
  const jitterRatio = Math.min(0.99, Math.max(0, options.jitterRatio ?? 0.1));
  const firstProbeSpreadMs = Math.max(0, options.firstProbeSpreadMs ?? 1000);
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  const monotonic = options.monotonic ?? (() => performance.now());
  const ownsRunner = options.runner === undefined;
  const runner = options.runner ?? createProbeRunner(options.pool);
  const stats = createProbeStats({ now: monotonic });
  const entries = new Map<string, Entry>();
  const heap = new DueHeap<Entry>();
  let ready: Entry[] = [];
  let readyHead = 0;
  let inFlight = 0;
  let queued = 0;
  let timer: NodeJS.Timeout | null = null;
  let armedAt = Infinity;
  let closed = false;
  let onDrained: (() => void) | null = null;
  let closing: Promise<void> | undefined;

  const jittered = (intervalMs: number): number => intervalMs * (1 + jitterRatio * (2 * random() - 1));

  const arm = (): void => {
    if (closed) return;
    const top = heap.peek();
    if (timer && top && armedAt <= top.dueAt) return;
    if (timer) clearTimeout(timer);
    timer = null;
    armedAt = Infinity;
    if (!top) return;
    armedAt = top.dueAt;
    timer = setTimeout(tick, Math.max(0, top.dueAt - monotonic()));
  };

  function tick(): void {
    timer = null;
    armedAt = Infinity;
    const t = monotonic();
    for (let top = heap.peek(); top && top.dueAt <= t; top = heap.peek()) {
      heap.pop();
      top.phase = 'queued';
      queued++;
      ready.push(top);
    }
    pump();
    arm();
  }

  const pump = (): void => {
    while (inFlight < maxConcurrency && readyHead < ready.length) {
      const entry = ready[readyHead++]!;
      if (entry.phase !== 'queued') continue;
      queued--;
      start(entry);
    }
    if (readyHead === ready.length) {
      ready = [];
      readyHead = 0;
    } else if (readyHead > 1024 && readyHead * 2 > ready.length) {
      ready = ready.slice(readyHead);
      readyHead = 0;
    }
  };

  const start = (entry: Entry): void => {
    entry.phase = 'running';
    entry.lastDueAt = entry.dueAt;
    inFlight++;
    const controller = new AbortController();
    entry.controller = controller;
    const startedAtMs = now();
    const run = { nodeId: entry.target.nodeId, timeoutMs: entry.probe.timeoutMs, signal: controller.signal, startedAtMs };
    entry.channel.run(run).then(
      (result) => complete(entry, controller, result),
      (error: unknown) =>
        complete(entry, controller, probeFailure(run.nodeId, startedAtMs, ProbeErrorClass.OTHER, describeError(error), { connectMs: 0, ttfbMs: 0, totalMs: 0 })),
    );
  };

  const complete = (entry: Entry, controller: AbortController, result: ProbeResult): void => {
    inFlight--;
    if (entry.controller === controller) entry.controller = null;
    const live = !closed && entry.phase === 'running' && !controller.signal.aborted;
    if (live) {
      stats.record(result);
      entry.lastResult = probeClassName(result.errorClass);
      entry.lastRttMs = result.totalMs;
      entry.lastProbeAtMs = Number(result.startedAtMs);
      entry.phase = 'scheduled';
      heap.update(entry, Math.max(monotonic(), entry.lastDueAt + jittered(entry.probe.intervalMs)));
    }
    if (closed) {
      if (inFlight === 0) onDrained?.();
      return;
    }
    pump();
    arm();
    if (live) options.onResult(result, entry.target);
  };

  const add = (target: ProbeTarget, probe: EffectiveProbe): void => {
    const entry: Entry = {
      target,
      probe,
      channel: runner.attach(probe),
      phase: 'scheduled',
      lastDueAt: NaN,
      controller: null,
      lastResult: '',
      lastRttMs: 0,
      lastProbeAtMs: 0,
      dueAt: 0,
      heapIndex: -1,
    };
    entries.set(target.nodeId, entry);
    heap.update(entry, monotonic() + random() * Math.min(probe.intervalMs, firstProbeSpreadMs));
    arm();
  };

  const remove = (nodeId: string): void => {
    const entry = entries.get(nodeId);
    if (!entry) return;
    entries.delete(nodeId);
    if (entry.phase === 'queued') queued--;
    entry.phase = 'removed'; // a queued entry is skipped by pump()
    heap.remove(entry);
    entry.controller?.abort();
    entry.channel.detach();
    arm();
  };

  const upsert = (target: ProbeTarget): void => {
    if (closed) return;
    if (!isProbed(target.state)) return remove(target.nodeId);
    const probe = effectiveProbe(target, defaults);
    const entry = entries.get(target.nodeId);
    if (!entry) return add(target, probe);
    if (!sameEndpoint(entry.probe, probe)) {
      // A new endpoint is a new target: the old probe is cancelled and the new one runs at once.
      remove(target.nodeId);
      return add(target, probe);
    }
    const intervalChanged = entry.probe.intervalMs !== probe.intervalMs;
    entry.target = target;
    entry.probe = probe;
    if (intervalChanged && entry.phase === 'scheduled' && !Number.isNaN(entry.lastDueAt)) {
      heap.update(entry, Math.max(monotonic(), entry.lastDueAt + jittered(probe.intervalMs)));
      arm();
    }
  };

  return {
    setTargets(targets) {
      const seen = new Set<string>();
      for (const target of targets) {
        seen.add(target.nodeId);
        upsert(target);
      }
      for (const nodeId of [...entries.keys()]) if (!seen.has(nodeId)) remove(nodeId);
    },
    upsert,
    remove,
    stats: () => ({
      ...stats.snapshot(),
      targets: entries.size,
      inFlight,
      queued,
      openSockets: runner.openSockets(),
      pools: runner.pools(),
    }),
    targets: () =>
      [...entries.values()].map((e) => ({
        nodeId: e.target.nodeId,
        type: e.probe.type,
        intervalMs: e.probe.intervalMs,
        lastResult: e.lastResult,
        lastRttMs: e.lastRttMs,
        lastProbeAtMs: e.lastProbeAtMs,
      })),
    close() {
      closing ??= (async () => {
        closed = true;
        for (const nodeId of [...entries.keys()]) remove(nodeId);
        if (timer) clearTimeout(timer);
        timer = null;
        heap.clear();
        ready = [];
        readyHead = 0;
        queued = 0;
        if (inFlight > 0) await new Promise<void>((resolve) => (onDrained = resolve));
        if (ownsRunner) await runner.close();
      })();
      return closing;
    },
  };
}
