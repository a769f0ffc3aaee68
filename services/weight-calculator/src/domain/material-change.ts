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
 * - its weight moves by more than `materialChangeRatio` of the larger of the two weights.
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
}

/** The defaults documented on {@link MaterialChangeOptions}. */
export const DEFAULT_MATERIAL_CHANGE_OPTIONS: Readonly<MaterialChangeOptions> = Object.freeze({
  materialChangeRatio: 0.01,
});

/** A weight and health, as last published or as just computed. */
export interface WeightAndHealth {
  weight: number;
  health: Health;
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
  };
  requireNumber('materialChangeRatio', resolved.materialChangeRatio, 0, 1 - Number.EPSILON);
  const ratio = resolved.materialChangeRatio;

  return {
    options: Object.freeze(resolved),
    isMaterial(published, next) {
      if (published === undefined || published.health !== next.health) return true;
      const before = published.weight;
      const after = next.weight;
      if (before === after) return false;
      if (before <= 0 || after <= 0) return true;
      return Math.abs(after - before) > ratio * Math.max(before, after);
    },
  };
}
