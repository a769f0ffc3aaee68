import { create } from '@bufbuild/protobuf';
import { Health, NodeWeightSchema } from '@cdn-sched/proto';
import type { Node, NodeWeight } from '@cdn-sched/proto';
import type { Damping } from './damping.js';
import type { Hysteresis } from './health-state.js';
import type { MaterialChange, WeightAndHealth } from './material-change.js';
import type { NodeDecider, NodeDecisionRecord } from './node-decision.js';
import type { ProbeStats } from './probe-stats.js';
import { createProbeTerms } from './probe-terms.js';
import { createVoteTally, resetVoteTally } from './quorum.js';
import type { Quorum } from './quorum.js';
import type { SlotStore } from './slot-store.js';
import type { WeightFormula, WeightInputs } from './weight-formula.js';

/**
 * One node's pass of a tick, in order: collect its probers' votes and terms (dropping probers
 * forgotten for good), decide health and mode (node-decision.ts), compute the target with the
 * formula and the slow-start share, damp it, and publish it if the change is material.
 *
 * A DOWN or DRAIN node gets target 0 and damping passes 0 straight through, so the tick after the
 * deciding result publishes weight 0 whatever the weight was before.
 */

/** The table's record of one node. */
export interface NodeEntry {
  readonly id: string;
  node: Node;
  /** Slots of this node's probers (a handful: the probers' replication factor). */
  readonly slots: number[];
  /** Last load reported by a successful probe, 0..1; -1 when none. */
  load: number;
  /** When `load` was received, milliseconds. */
  loadAtMs: number;
  readonly decision: NodeDecisionRecord;
  /** Current (damped) weight; 0 when not serving. */
  weight: number;
  /** When `weight` was computed; NaN before the first tick. */
  computedAtMs: number;
  /** ACTIVE with weight > 0 (feeds the capacity table). */
  serving: boolean;
  /** The last published weight; undefined before the first and while absent (MAINTENANCE). */
  published: NodeWeight | undefined;
}

/** The parts a node evaluation uses; all created once by the table. */
export interface NodeEvaluatorParts {
  slots: SlotStore;
  hysteresis: Hysteresis;
  quorum: Quorum;
  stats: ProbeStats;
  decider: NodeDecider;
  formula: WeightFormula;
  damping: Damping;
  material: MaterialChange;
  /** A prober's slot is released after this long without a result, milliseconds. */
  proberForgetMs: number;
}

/** Evaluates nodes one at a time, reusing its scratch state (no allocation unless publishing). */
export interface NodeEvaluator {
  /** A record for a node document never seen before. */
  createEntry(node: Node): NodeEntry;
  /**
   * Re-decides `entry` at `nowMs`; pushes its new weight to `changed` when material, its id to
   * `removed` when it just left the published table. Returns whether `entry.serving` flipped.
   */
  evaluate(entry: NodeEntry, nowMs: number, changed: NodeWeight[], removed: string[]): boolean;
}

/** Creates an evaluator over the given parts. */
export function createNodeEvaluator(parts: NodeEvaluatorParts): NodeEvaluator {
  const { slots, hysteresis, quorum, stats, decider, formula, damping, material, proberForgetMs } = parts;
  const tally = createVoteTally();
  const terms = createProbeTerms();
  const inputs: WeightInputs = { capacityRps: 0, rttEwmaMs: -1, lossRate: 0, load: -1 };
  const next: WeightAndHealth = { weight: 0, health: Health.UNKNOWN, ramp: 1, fullWeight: 0 };

  // Votes, release of forgotten probers and term sums, in one pass over the node's slots.
  const collectProbers = (entry: NodeEntry, nowMs: number): void => {
    resetVoteTally(tally);
    terms.reset();
    const list = entry.slots;
    for (let i = list.length - 1; i >= 0; i--) {
      const slot = list[i];
      const receivedAtMs = slots.lastReceivedAtMs[slot];
      if (nowMs - receivedAtMs >= proberForgetMs) {
        slots.release(slot);
        list[i] = list[list.length - 1];
        list.pop();
        continue;
      }
      const health = hysteresis.health(slots.hysteresis[slot]);
      const fresh = quorum.add(tally, health, receivedAtMs, nowMs);
      terms.add(fresh, health, slots.rttEwmaMs[slot], stats.lossRate(slots.lossMask[slot]));
    }
  };

  const setServing = (entry: NodeEntry, serving: boolean): boolean => {
    if (entry.serving === serving) return false;
    entry.serving = serving;
    return true;
  };

  const publish = (entry: NodeEntry, nowMs: number, target: number): NodeWeight =>
    create(NodeWeightSchema, {
      nodeId: entry.id,
      weight: entry.weight,
      health: entry.decision.health,
      terms: {
        capacityRps: inputs.capacityRps,
        rttEwmaMs: inputs.rttEwmaMs,
        lossRate: inputs.lossRate,
        load: inputs.load,
        ramp: entry.decision.share,
        targetWeight: target,
        probersUp: tally.up,
        probersTotal: tally.up + tally.down + tally.abstaining,
      },
      updatedAtMs: BigInt(Math.trunc(nowMs)),
    });

  return {
    createEntry: (node) => ({
      id: node.id,
      node,
      slots: [],
      load: -1,
      loadAtMs: 0,
      decision: decider.createRecord(),
      weight: 0,
      computedAtMs: NaN,
      serving: false,
      published: undefined,
    }),
    evaluate(entry, nowMs, changed, removed) {
      collectProbers(entry, nowMs);
      const decision = entry.decision;
      decider.decide(decision, quorum.decide(tally), entry.node.state, nowMs);
      if (decision.mode === 'absent') {
        if (entry.published !== undefined) removed.push(entry.id);
        entry.published = undefined;
        entry.weight = 0;
        entry.computedAtMs = nowMs;
        return setServing(entry, false);
      }
      // Terms follow the decision in force: a held decision keeps its probers' view.
      const basis = decision.held ? decision.decidedHealth : decision.health;
      inputs.capacityRps = entry.node.capacityRps;
      inputs.rttEwmaMs = terms.rttEwmaMs(basis);
      inputs.lossRate = terms.lossRate(basis);
      inputs.load = entry.load >= 0 && quorum.isFresh(entry.loadAtMs, nowMs) ? entry.load : -1;
      const full = decision.share > 0 ? formula.target(inputs) : 0;
      const target = full * decision.share;
      const elapsedMs = Number.isNaN(entry.computedAtMs) ? 0 : nowMs - entry.computedAtMs;
      entry.weight = damping.next(entry.weight, target, inputs.capacityRps, elapsedMs);
      entry.computedAtMs = nowMs;
      const flipped = setServing(entry, entry.weight > 0);

      next.weight = entry.weight;
      next.health = decision.health;
      // A ramp is an `up` node below full share; a cold node's share is a fixed estimate, not a ramp.
      next.ramp = decision.mode === 'up' ? decision.share : 1;
      next.fullWeight = full;
      if (material.isMaterial(entry.published, next)) {
        entry.published = publish(entry, nowMs, target);
        changed.push(entry.published);
      }
      return flipped;
    },
  };
}
