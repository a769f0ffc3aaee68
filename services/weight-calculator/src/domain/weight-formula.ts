import { requireNumber } from './option-checks.js';

/**
 * The weight formula of a serving node — the "target" that damping and slow start then shape:
 *
 *     target = capacityRps × max(minQualityFactor, latency × loss × headroom)
 *
 *     latency  = 1                               if rtt ≤ rttKneeMs or rtt unknown
 *              = (rttKneeMs / rtt) ^ rttExponent  otherwise
 *     loss     = 1                                                   if lossRate ≤ lossTolerance
 *              = (1 − (lossRate − lossTolerance) / (1 − lossTolerance)) ^ lossExponent
 *     headroom = 1                               if load ≤ loadKnee or load not reported
 *              = (1 − load) / (1 − loadKnee)      otherwise
 *
 * Why each term:
 * - capacityRps: the operator's statement of what the node can serve; weights are in the same
 *   unit (requests per second), so a resolver's weighted pick sends each node traffic in
 *   proportion to the capacity it is believed to have right now.
 * - latency: probes come from a few vantage points, not from the users, so small RTT differences
 *   are geography and must not steer traffic. Only an RTT above the knee — a health check that
 *   takes long means the edge queues requests or its uplink is congested — costs share, inversely
 *   proportional to the RTT (a node twice as slow above the knee gets half the share).
 * - loss: a lost probe is a user request that times out and is retried; the retry costs the user
 *   the timeout plus a second request, so the penalty grows faster than the loss rate itself
 *   (squared by default). Loss up to `lossTolerance` is free: one lost probe in the 20-probe window
 *   (5 %) is the noise of the Internet, and must not move traffic any more than it moves health.
 *   Above it, the excess is rescaled to 0..1, so 100 % loss still means a factor of 0.
 * - headroom: the edge's own load report (0..1 of its capacity). Below the knee there is room and
 *   no reason to shift traffic; above it share falls linearly to the floor at full load, before the
 *   node starts shedding or queueing.
 * - minQualityFactor: soft signals never take a node to 0. Zero is reserved for decisions (DOWN,
 *   DRAIN): if every node of a pool is slow, the pool must keep serving in proportion, and the
 *   capacity table must not call a slow-but-UP node "gone".
 */
export interface WeightFormulaOptions {
  /** RTT EWMA up to which latency does not reduce weight, milliseconds. Defaults to 200. */
  rttKneeMs: number;
  /** Exponent of the latency penalty above the knee (> 0). Defaults to 1. */
  rttExponent: number;
  /** Exponent k of the loss factor (≥ 0; 0 ignores loss). Defaults to 2. */
  lossExponent: number;
  /**
   * Loss rate that costs nothing, in [0, 1). Defaults to 0.05: one lost probe in the default
   * 20-probe loss window.
   */
  lossTolerance: number;
  /** Reported load (0..1) above which headroom reduces weight, in [0, 1). Defaults to 0.8. */
  loadKnee: number;
  /**
   * Floor of the product of the latency, loss and headroom factors, in (0, 1]. Defaults to 0.05: a
   * degraded but UP node keeps 5 % of its capacity share.
   */
  minQualityFactor: number;
}

/** The defaults documented on {@link WeightFormulaOptions}. */
export const DEFAULT_WEIGHT_FORMULA_OPTIONS: Readonly<WeightFormulaOptions> = Object.freeze({
  rttKneeMs: 200,
  rttExponent: 1,
  lossExponent: 2,
  lossTolerance: 0.05,
  loadKnee: 0.8,
  minQualityFactor: 0.05,
});

/** The inputs of one node's target weight. */
export interface WeightInputs {
  /** Capacity from the node document, requests per second (> 0). */
  capacityRps: number;
  /** RTT EWMA, milliseconds; negative when no successful probe has been measured. */
  rttEwmaMs: number;
  /** Loss rate of recent probes, 0..1. */
  lossRate: number;
  /** Load the edge reports, 0..1; negative when not reported. */
  load: number;
}

/** The formula, with its factors exposed for tests and for operators' explanations. */
export interface WeightFormula {
  /** The resolved options. */
  readonly options: Readonly<WeightFormulaOptions>;
  /** The target weight of a serving node (requests per second, > 0 when capacity is). Pure. */
  target(inputs: WeightInputs): number;
  /** Latency factor in (0, 1] for an RTT EWMA (negative = unknown → 1). */
  latencyFactor(rttEwmaMs: number): number;
  /** Loss factor in [0, 1] for a loss rate. */
  lossFactor(lossRate: number): number;
  /** Headroom factor in [0, 1] for a reported load (negative = not reported → 1). */
  headroomFactor(load: number): number;
}

/** Creates the formula; throws a `RangeError` naming a bad option. */
export function createWeightFormula(options: Partial<WeightFormulaOptions> = {}): WeightFormula {
  const o: WeightFormulaOptions = {
    rttKneeMs: options.rttKneeMs ?? DEFAULT_WEIGHT_FORMULA_OPTIONS.rttKneeMs,
    rttExponent: options.rttExponent ?? DEFAULT_WEIGHT_FORMULA_OPTIONS.rttExponent,
    lossExponent: options.lossExponent ?? DEFAULT_WEIGHT_FORMULA_OPTIONS.lossExponent,
    lossTolerance: options.lossTolerance ?? DEFAULT_WEIGHT_FORMULA_OPTIONS.lossTolerance,
    loadKnee: options.loadKnee ?? DEFAULT_WEIGHT_FORMULA_OPTIONS.loadKnee,
    minQualityFactor: options.minQualityFactor ?? DEFAULT_WEIGHT_FORMULA_OPTIONS.minQualityFactor,
  };
  requireNumber('rttKneeMs', o.rttKneeMs, Number.MIN_VALUE, 3_600_000);
  requireNumber('rttExponent', o.rttExponent, Number.MIN_VALUE, 10);
  requireNumber('lossExponent', o.lossExponent, 0, 10);
  requireNumber('lossTolerance', o.lossTolerance, 0, 1 - Number.EPSILON);
  requireNumber('loadKnee', o.loadKnee, 0, 1 - Number.EPSILON);
  requireNumber('minQualityFactor', o.minQualityFactor, Number.MIN_VALUE, 1);
  const { rttKneeMs, rttExponent, lossExponent, lossTolerance, loadKnee, minQualityFactor } = o;

  const latencyFactor = (rttEwmaMs: number): number =>
    rttEwmaMs <= rttKneeMs ? 1 : rttExponent === 1 ? rttKneeMs / rttEwmaMs : (rttKneeMs / rttEwmaMs) ** rttExponent;
  const lossFactor = (lossRate: number): number => {
    const kept = lossRate <= lossTolerance ? 1 : lossRate >= 1 ? 0 : 1 - (lossRate - lossTolerance) / (1 - lossTolerance);
    return lossExponent === 2 ? kept * kept : kept ** lossExponent;
  };
  const headroomFactor = (load: number): number =>
    load <= loadKnee ? 1 : load >= 1 ? 0 : (1 - load) / (1 - loadKnee);

  return {
    options: Object.freeze(o),
    latencyFactor,
    lossFactor,
    headroomFactor,
    target(inputs) {
      const quality = latencyFactor(inputs.rttEwmaMs) * lossFactor(inputs.lossRate) * headroomFactor(inputs.load);
      return inputs.capacityRps * (quality < minQualityFactor ? minQualityFactor : quality);
    },
  };
}
