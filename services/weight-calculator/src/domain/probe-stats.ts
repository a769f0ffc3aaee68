import { requireInteger, requireNumber } from './option-checks.js';
import { popcount } from './popcount.js';

/**
 * The two soft signals a probe stream gives about a healthy node, per (node, prober): round-trip
 * time (an EWMA of successful probes' total time) and loss rate (failures over a recent window).
 * They shape the weight of an UP node; they never decide UP or DOWN (that is the hysteresis's job).
 *
 * Both are kept per prober because probers sit at different vantage points: mixing a 20 ms and an
 * 80 ms prober into one EWMA would make it a saw-tooth driven by which prober reported last.
 */
export interface ProbeStatsOptions {
  /**
   * Number of most recent probes the loss rate is computed over (1–30). Defaults to 20: at the
   * default 5 s interval, the last 100 s — long enough that one lost probe moves the rate by only
   * 5 %, short enough that a lossy period is forgotten within two minutes.
   */
  lossWindowSize: number;
  /**
   * Gain of the RTT EWMA, 0 < g ≤ 1: `ewma += g × (sample − ewma)`. Defaults to 0.25. TCP's SRTT
   * uses 1/8 (RFC 6298, section 2), but it gets a sample per round trip; a prober sends one every few
   * seconds, so a larger gain is needed to follow a node that turns slow within about four probes.
   */
  rttEwmaGain: number;
}

/** The defaults documented on {@link ProbeStatsOptions}. */
export const DEFAULT_PROBE_STATS_OPTIONS: Readonly<ProbeStatsOptions> = Object.freeze({
  lossWindowSize: 20,
  rttEwmaGain: 0.25,
});

/** The largest supported `lossWindowSize` (kept below 31 bits so masks stay small integers). */
export const MAX_LOSS_WINDOW = 30;

/** Pure functions over a loss window (a bit mask) and an RTT EWMA. */
export interface ProbeStats {
  /** The resolved options. */
  readonly options: Readonly<ProbeStatsOptions>;
  /** The loss mask after one more result; bit 0 is the newest probe, 1 = failed. */
  pushLoss(mask: number, ok: boolean): number;
  /**
   * Failures in the window / `lossWindowSize`. Until the window has filled, the probes not yet
   * made count as successes: a node is not punished for a short history (one failure out of the
   * first two probes is 5 %, not 50 %); its health is the hysteresis's business anyway.
   */
  lossRate(mask: number): number;
  /**
   * The EWMA after one more successful probe of `sampleMs`; a `previousMs` of NaN means "no sample
   * yet", and the first sample seeds the average (no bias toward 0).
   */
  nextRttEwma(previousMs: number, sampleMs: number): number;
}

/** Creates the probe statistics helpers; throws a `RangeError` naming a bad option. */
export function createProbeStats(options: Partial<ProbeStatsOptions> = {}): ProbeStats {
  const resolved: ProbeStatsOptions = {
    lossWindowSize: options.lossWindowSize ?? DEFAULT_PROBE_STATS_OPTIONS.lossWindowSize,
    rttEwmaGain: options.rttEwmaGain ?? DEFAULT_PROBE_STATS_OPTIONS.rttEwmaGain,
  };
  requireInteger('lossWindowSize', resolved.lossWindowSize, 1, MAX_LOSS_WINDOW);
  requireNumber('rttEwmaGain', resolved.rttEwmaGain, Number.MIN_VALUE, 1);
  const windowSize = resolved.lossWindowSize;
  const windowMask = 2 ** windowSize - 1;
  const gain = resolved.rttEwmaGain;

  return {
    options: Object.freeze(resolved),
    pushLoss: (mask, ok) => ((mask << 1) | (ok ? 0 : 1)) & windowMask,
    lossRate: (mask) => popcount(mask) / windowSize,
    nextRttEwma: (previousMs, sampleMs) =>
      Number.isNaN(previousMs) ? sampleMs : previousMs + gain * (sampleMs - previousMs),
  };
}
