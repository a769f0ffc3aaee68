import type { Health } from '@cdn-sched/proto';
import { requireNumber } from './option-checks.js';

/**
 * Which weight changes are worth publishing. Every published change becomes a delta on the weight
 * stream, a rebuild of candidate tables in every resolver, and (on the leader) an etcd write; an
 * RTT EWMA that wobbles by 0.3 % between ticks must not cause any of that. A change is material
 * when:
 * - the node has never been published;
 * - its health changes (operators and the resolver's degraded logic read it);
 * - its weight crosses zero (a node starts or stops serving), whatever the size;
 * - its weight moves by more than `materialChangeRatio` of the larger of the two weights, and, while
 *   the node is in a slow-start ramp, by more than `rampPublishStep` of its weight at full share.
 *
 * Small changes accumulate: the comparison is against the last *published* weight, so a weight
 * that drifts by 0.5 % per tick is published on the third tick, never lost.
 */
export interface MaterialChangeOptions {
  /**
   * Relative weight change below which nothing is published, in [0, 1). Defaults to 0.01 (1 %):
   * below the resolution of a weighted random pick over a few nodes that anyone would notice.
   */
  materialChangeRatio: number;
  /**
   * While a node ramps (slow start, share < 1), a weight change is published only when it also
   * moves by more than this fraction of the node's weight at full share, in [0, 1). Defaults to
   * 0.05: a 60 s ramp from 10 % is published in about 18 steps instead of ~230 (1 % of a weight
   * that starts at a tenth of its target is a change every 100 ms tick). After a whole-fleet
   * restart every node ramps at once, and the 1 % rule alone made 10 k nodes a stream of ~23 k
   * changes a second that every resolver decodes and applies. Consumers see a ramping node's
   * weight at most this fraction of its full weight behind (3.3 s of a 60 s ramp); the end of the
   * ramp (share 1) is judged by `materialChangeRatio` alone, so the full weight is always
   * published. 0 turns the step off.
   */
  rampPublishStep: number;
}

/** The defaults documented on {@link MaterialChangeOptions}. */
export const DEFAULT_MATERIAL_CHANGE_OPTIONS: Readonly<MaterialChangeOptions> = Object.freeze({
  materialChangeRatio: 0.01,
  rampPublishStep: 0.05,
});

/** A weight and health, as last published or as just computed. */
export interface WeightAndHealth {
  weight: number;
  health: Health;
  /** Slow-start share the weight was computed with; absent or 1 when the node is not ramping. */
  ramp?: number;
  /** The node's weight at full share (what the ramp is heading for); read only while ramping. */
  fullWeight?: number;
}

/** The publication filter. */
export interface MaterialChange {
  /** The resolved options. */
  readonly options: Readonly<MaterialChangeOptions>;
  /** Whether `next` differs materially from `published` (undefined = never published). Pure. */
  isMaterial(published: WeightAndHealth | undefined, next: WeightAndHealth): boolean;
}

/** Creates the filter; throws a `RangeError` naming a bad option. */
export function createMaterialChange(options: Partial<MaterialChangeOptions> = {}): MaterialChange {
  const resolved: MaterialChangeOptions = {
    materialChangeRatio: options.materialChangeRatio ?? DEFAULT_MATERIAL_CHANGE_OPTIONS.materialChangeRatio,
    rampPublishStep: options.rampPublishStep ?? DEFAULT_MATERIAL_CHANGE_OPTIONS.rampPublishStep,
  };
  requireNumber('materialChangeRatio', resolved.materialChangeRatio, 0, 1 - Number.EPSILON);
  requireNumber('rampPublishStep', resolved.rampPublishStep, 0, 1 - Number.EPSILON);
  const ratio = resolved.materialChangeRatio;
  const rampStep = resolved.rampPublishStep;

  return {
    options: Object.freeze(resolved),
    isMaterial(published, next) {
      if (published === undefined || published.health !== next.health) return true;
      const before = published.weight;
      const after = next.weight;
      if (before === after) return false;
      if (before <= 0 || after <= 0) return true;
      const moved = Math.abs(after - before);
      if (!(moved > ratio * Math.max(before, after))) return false;
      const ramp = next.ramp ?? 1;
      return !(ramp < 1 && rampStep > 0 && next.fullWeight !== undefined && moved <= rampStep * next.fullWeight);
    },
  };
}
