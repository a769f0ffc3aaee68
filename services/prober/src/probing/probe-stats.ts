import type { ProbeResult } from '@cdn-sched/proto';
import { PROBE_CLASS_NAMES, type ProbeClassName } from './classify.js';

/** Options of {@link createProbeStats}. */
export interface ProbeStatsOptions {
  /** Monotonic clock, ms. Defaults to `performance.now`. */
  now?: () => number;
  /** Window of the probe rate, seconds. Defaults to 10. */
  rateWindowS?: number;
  /** Successful probes kept for the RTT percentiles (a ring buffer). Defaults to 4096. */
  rttSamples?: number;
}

/** A snapshot of the probe statistics. */
export interface ProbeStatsSnapshot {
  /** Probes completed per second over the rate window. */
  probesPerS: number;
  /** Results by class since start (`up`, `timeout`, ...); classes never seen are 0. */
  resultsByClass: Record<ProbeClassName, number>;
  /** Total time of the last `rttSamples` successful probes, ms; 0 before the first. */
  rttP50Ms: number;
  rttP99Ms: number;
  total: number;
}

/** Rolling statistics of probe results. */
export interface ProbeStats {
  record(result: ProbeResult): void;
  snapshot(): ProbeStatsSnapshot;
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

/**
 * Probe statistics: a per-second ring of counts for the rate, counters by class, and a ring buffer of
 * recent round-trip times. Recording is O(1) and allocation-free (it runs 2k times a second); the
 * percentiles are computed when a snapshot is asked for (a status call), by sorting a copy.
 */
export function createProbeStats(options: ProbeStatsOptions = {}): ProbeStats {
  const now = options.now ?? (() => performance.now());
  const windowS = Math.max(1, options.rateWindowS ?? 10);
  // One bucket more than the window: the current, partial second.
  const counts = new Float64Array(windowS + 1);
  const stamps = new Float64Array(windowS + 1).fill(-1);
  const byClass = new Float64Array(PROBE_CLASS_NAMES.length);
  const rtts = new Float64Array(Math.max(1, options.rttSamples ?? 4096));
  const startedAt = now();
  let rttCount = 0;
  let total = 0;

  return {
    record(result) {
      const second = Math.floor(now() / 1000);
      const i = second % counts.length;
      if (stamps[i] !== second) {
        stamps[i] = second;
        counts[i] = 0;
      }
      counts[i]!++;
      total++;
      byClass[result.errorClass < byClass.length ? result.errorClass : byClass.length - 1]!++;
      if (result.ok) rtts[rttCount++ % rtts.length] = result.totalMs;
    },
    snapshot() {
      const t = now();
      const second = Math.floor(t / 1000);
      let recent = 0;
      for (let i = 0; i < counts.length; i++) {
        if (stamps[i]! > second - counts.length && stamps[i]! <= second) recent += counts[i]!;
      }
      // The buckets span the last `windowS` whole seconds plus the current partial one (less right
      // after the start): divide by exactly that span.
      const spanS = Math.min(windowS + (t / 1000 - second), (t - startedAt) / 1000);
      const sorted = rtts.slice(0, Math.min(rttCount, rtts.length)).sort();
      const resultsByClass = Object.fromEntries(PROBE_CLASS_NAMES.map((name, i) => [name, byClass[i]!])) as Record<ProbeClassName, number>;
      return {
        probesPerS: spanS > 0 ? recent / spanS : 0,
        resultsByClass,
        rttP50Ms: percentile(sorted, 0.5),
        rttP99Ms: percentile(sorted, 0.99),
        total,
      };
    },
  };
}
