import { Health } from '@cdn-sched/proto';

/**
 * The node-level RTT and loss terms, combined from the per-prober statistics (probe-stats.ts).
 *
 * Which probers' numbers count: those that agree with the node's decided health. When one prober
 * of three sees an UP node failing, the node stays UP by quorum (quorum.ts); averaging that
 * prober's loss and RTT in would still cut the node's weight for what is the prober's own network
 * path. So an UP node's terms come from the fresh probers that say UP, and only if none has a
 * number do they fall back to every fresh prober, then to every prober the table remembers
 * (a node held UP while its probers are silent keeps its last known terms). The combination is
 * the mean: with the two or three probers a node normally has, a median would not be more robust.
 *
 * The accumulator is reused across nodes (one `Float64Array`), so a tick allocates nothing here.
 */
export interface ProbeTerms {
  /** Clears the sums for the next node. */
  reset(): void;
  /**
   * Adds one prober's numbers: `rttEwmaMs` NaN when it has no successful probe, `lossRate`
   * negative when it has none to give.
   */
  add(fresh: boolean, health: Health, rttEwmaMs: number, lossRate: number): void;
  /** The RTT term for a node whose decided health is `decided`; -1 when nothing was measured. */
  rttEwmaMs(decided: Health): number;
  /** The loss term for a node whose decided health is `decided`; 0 when nothing was measured. */
  lossRate(decided: Health): number;
}

// Per category, four sums: RTT total, RTT count, loss total, loss count.
const FRESH_UP = 0;
const FRESH_DOWN = 1;
const FRESH_OTHER = 2;
const STALE = 3;
const RTT = 0;
const LOSS = 2;

/** Creates an empty accumulator. */
export function createProbeTerms(): ProbeTerms {
  const sums = new Float64Array(16);

  const category = (fresh: boolean, health: Health): number =>
    !fresh ? STALE : health === Health.UP ? FRESH_UP : health === Health.DOWN ? FRESH_DOWN : FRESH_OTHER;

  const preferredCategory = (decided: Health): number =>
    decided === Health.UP ? FRESH_UP : decided === Health.DOWN ? FRESH_DOWN : -1;

  // Mean over `first..last` categories of the quantity at `offset`; NaN when there is no sample.
  const meanOver = (offset: number, first: number, last: number): number => {
    let total = 0;
    let count = 0;
    for (let c = first; c <= last; c++) {
      total += sums[c * 4 + offset];
      count += sums[c * 4 + offset + 1];
    }
    return count > 0 ? total / count : NaN;
  };

  const combined = (offset: number, decided: Health): number => {
    const preferred = preferredCategory(decided);
    let value = preferred >= 0 ? meanOver(offset, preferred, preferred) : NaN;
    if (Number.isNaN(value)) value = meanOver(offset, FRESH_UP, FRESH_OTHER);
    if (Number.isNaN(value)) value = meanOver(offset, FRESH_UP, STALE);
    return value;
  };

  return {
    reset: () => sums.fill(0),
    add(fresh, health, rttEwmaMs, lossRate) {
      const base = category(fresh, health) * 4;
      if (!Number.isNaN(rttEwmaMs)) {
        sums[base + RTT] += rttEwmaMs;
        sums[base + RTT + 1] += 1;
      }
      if (lossRate >= 0) {
        sums[base + LOSS] += lossRate;
        sums[base + LOSS + 1] += 1;
      }
    },
    rttEwmaMs(decided) {
      const value = combined(RTT, decided);
      return Number.isNaN(value) ? -1 : value;
    },
    lossRate(decided) {
      const value = combined(LOSS, decided);
      return Number.isNaN(value) ? 0 : value;
    },
  };
}
