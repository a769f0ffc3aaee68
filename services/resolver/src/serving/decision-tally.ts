import { Status } from 'nice-grpc';
import { tierName } from '@cdn-sched/location';
import { ReasonCode } from '../decision/index.js';
import type { Decided } from './resolve-core.js';

/** Decisions counted by outcome, tier and reason, for the `cdn_resolver_decisions_total` counter. */
export interface DecisionCount {
  /** "ok", "degraded" (answered from below-threshold, best-effort or stale state) or "error". */
  outcome: 'ok' | 'degraded' | 'error';
  /** Tier the answers came from ("isp+region" … "any"), "none" for errors. */
  tier: string;
  /** Why that tier ("tier", "spill", "below_threshold", "outside_chain", "all_down"), or the error code ("not_found"). */
  reason: string;
  /** Decisions since the tally was created. */
  count: number;
}

/** Counts decisions on the hot path without allocating; read by the metrics collector. */
export interface DecisionTally {
  /** Counts one decision as `decided` describes it (call before the next decision reuses it). */
  count(decided: Decided): void;
  /** Every non-zero count since creation. */
  entries(): DecisionCount[];
}

const REASONS: Readonly<Record<number, string>> = {
  [ReasonCode.NONE]: 'none',
  [ReasonCode.TIER]: 'tier',
  [ReasonCode.SPILL]: 'spill',
  [ReasonCode.BELOW_THRESHOLD]: 'below_threshold',
  [ReasonCode.OUTSIDE_CHAIN]: 'outside_chain',
  [ReasonCode.ALL_DOWN]: 'all_down',
  [ReasonCode.UNAVAILABLE]: 'unavailable',
  [ReasonCode.NOT_FOUND]: 'not_found',
};
const TIER_SLOTS = 8;
const REASON_SLOTS = 8;
const CODE_SLOTS = 17;

/**
 * Creates a tally: a fixed array indexed by (degraded, tier, reason) for answers and one by gRPC
 * status code for errors, so counting costs one increment per decision (the resolver makes up to
 * a million a second; a labelled prom-client `inc` per decision would cost more than deciding).
 */
export function createDecisionTally(): DecisionTally {
  const answers = new Float64Array(2 * TIER_SLOTS * REASON_SLOTS);
  const errors = new Float64Array(CODE_SLOTS);
  return {
    count(decided) {
      if (!decided.ok) {
        errors[decided.code < CODE_SLOTS ? decided.code : Status.UNKNOWN]!++;
        return;
      }
      const r = decided.result;
      const degraded = decided.degraded ? 1 : 0;
      answers[(degraded * TIER_SLOTS + (r.tier & (TIER_SLOTS - 1))) * REASON_SLOTS + (r.reason & (REASON_SLOTS - 1))]!++;
    },
    entries() {
      const out: DecisionCount[] = [];
      for (let i = 0; i < answers.length; i++) {
        const count = answers[i]!;
        if (count === 0) continue;
        const reason = i % REASON_SLOTS;
        const tier = Math.floor(i / REASON_SLOTS) % TIER_SLOTS;
        const degraded = i >= TIER_SLOTS * REASON_SLOTS;
        out.push({ outcome: degraded ? 'degraded' : 'ok', tier: tierName(tier), reason: REASONS[reason] ?? 'none', count });
      }
      for (let code = 0; code < CODE_SLOTS; code++) {
        const count = errors[code]!;
        if (count > 0) out.push({ outcome: 'error', tier: 'none', reason: (Status[code] ?? 'UNKNOWN').toLowerCase(), count });
      }
      return out;
    },
  };
}
