import type { Node, NodeWeight, ProbeResult, TierCapacity } from '@cdn-sched/proto';
import { computeTierCapacities, sameTierCapacities } from './capacity.js';
import { createDamping } from './damping.js';
import type { DampingOptions } from './damping.js';
import { createHysteresis } from './health-state.js';
import type { HysteresisOptions } from './health-state.js';
import { createMaterialChange } from './material-change.js';
import type { MaterialChangeOptions } from './material-change.js';
import { createNodeDecider } from './node-decision.js';
import type { NodeDecisionOptions } from './node-decision.js';
import { createNodeEvaluator } from './node-evaluator.js';
import type { NodeEntry } from './node-evaluator.js';
import { NODE_ACCEPTED, validateNodeDocument } from './node-validation.js';
import type { NodeRejected, NodeUpdateOutcome } from './node-validation.js';
import { requireNumber } from './option-checks.js';
import { createProbeStats } from './probe-stats.js';
import type { ProbeStatsOptions } from './probe-stats.js';
import { INGEST_ACCEPTED, createProbeValidator, rejectOutOfOrder, rejectUnknownNode } from './probe-validation.js';
import type { IngestOutcome, ProbeValidationOptions } from './probe-validation.js';
import { createQuorum } from './quorum.js';
import type { QuorumOptions } from './quorum.js';
import { createSlotStore } from './slot-store.js';
import { createSlowStart } from './slow-start.js';
import type { SlowStartOptions } from './slow-start.js';
import { createWeightFormula } from './weight-formula.js';
import type { WeightFormulaOptions } from './weight-formula.js';

/**
 * The weight table: probe results and node documents in, versionable weights and capacities out.
 * It ties the pure parts together and owns their state; it has no I/O and no clock (every call
 * takes `nowMs`), so the gRPC/etcd wiring around it decides when to ingest and when to tick.
 *
 * - `ingest` is O(1) and allocates nothing on the accepted path: two hash lookups (node, prober —
 *   the latter cached for runs of results from one prober) and a handful of typed-array writes.
 * - `tick` is O(nodes + (node, prober) pairs): it re-decides every node (freshness, holds and slow
 *   start move with time even without new results) and returns only material changes.
 * - The tick after the result that crosses the fall threshold (and gives DOWN a majority) returns
 *   weight 0 for the node: DOWN is never damped. Ticking right after a `setNodes`/`upsertNode`
 *   likewise publishes a DRAIN at once.
 * - A result that changes a prober's health for a node (UP ↔ DOWN, or the first UP) marks the node;
 *   `tickTransitions` re-decides just the marked nodes, so the wiring can publish a node going DOWN
 *   right after the batch that decided it instead of at the next tick (up to a tick interval
 *   later: docs/architecture.md "Performance targets", probe result → answers).
 */
export interface WeightTableOptions
  extends Partial<HysteresisOptions>,
    Partial<QuorumOptions>,
    Partial<ProbeStatsOptions>,
    Partial<NodeDecisionOptions>,
    Partial<SlowStartOptions>,
    Partial<DampingOptions>,
    Partial<WeightFormulaOptions>,
    Partial<MaterialChangeOptions>,
    Partial<ProbeValidationOptions> {
  /**
   * A prober's state for a node is dropped after this long without a result from it, milliseconds
   * (≥ `freshnessTtlMs` and ≥ `unknownHoldMs`). Defaults to 300 000: probers that are replaced
   * (new ids after a redeploy) do not leave state behind for ever, while one that is merely
   * restarting keeps its history.
   */
  proberForgetMs?: number;
}

/** What one tick returns; shaped like `WeightDelta` so the wiring can version it directly. */
export interface WeightTick {
  /** Weights that changed materially since the last tick (first publications included). */
  changed: NodeWeight[];
  /** Nodes withdrawn since the last tick: removed, or put in MAINTENANCE. */
  removedNodeIds: string[];
  /** The whole capacity table; the same array as last tick's when unchanged. */
  capacities: readonly TierCapacity[];
  /** Whether `capacities` differs from the last tick's. */
  capacitiesChanged: boolean;
}

/** Everything published so far, for a full snapshot on the weight stream. */
export interface WeightTableSnapshot {
  /** The last published weight of every node in the table (not MAINTENANCE), in table order. */
  weights: NodeWeight[];
  capacities: readonly TierCapacity[];
}

/** The aggregate; see {@link createWeightTable}. */
export interface WeightTable {
  /** Applies one probe result from `proberId`, received at `nowMs`, or says why not. */
  ingest(proberId: string, result: ProbeResult, nowMs: number): IngestOutcome;
  /** Replaces the node set: absent nodes are removed; rejected documents keep their last version. */
  setNodes(nodes: readonly Node[]): NodeRejected[];
  /** Adds or updates one node. */
  upsertNode(node: Node): NodeUpdateOutcome;
  /** Removes a node and its probe state; returns whether it was present. */
  removeNode(nodeId: string): boolean;
  /** Re-decides every node at `nowMs`; returns what changed since the last tick. */
  tick(nowMs: number): WeightTick;
  /**
   * Re-decides only the nodes with a prober health transition since the last tick (full or this
   * kind) at `nowMs`; returns their material changes. Removed documents wait for the next full tick.
   */
  tickTransitions(nowMs: number): WeightTick;
  /** Nodes with a prober health transition not yet re-decided. */
  readonly pendingTransitions: number;
  /** The state published by the last tick. */
  snapshot(): WeightTableSnapshot;
  /** Nodes in the table (MAINTENANCE included). */
  readonly nodeCount: number;
  /** (node, prober) pairs with state. */
  readonly pairCount: number;
}

/** Creates an empty table; throws a `RangeError` naming a bad option. */
export function createWeightTable(options: WeightTableOptions = {}): WeightTable {
  const hysteresis = createHysteresis(options);
  const quorum = createQuorum(options);
  const stats = createProbeStats(options);
  const decider = createNodeDecider(createSlowStart(options), options);
  const validator = createProbeValidator(options);
  const forgetFloorMs = Math.max(quorum.options.freshnessTtlMs, decider.options.unknownHoldMs);
  const proberForgetMs = options.proberForgetMs ?? Math.max(300_000, forgetFloorMs);
  requireNumber('proberForgetMs', proberForgetMs, forgetFloorMs, Number.MAX_SAFE_INTEGER);
  const slots = createSlotStore();
  const evaluator = createNodeEvaluator({
    slots,
    hysteresis,
    quorum,
    stats,
    decider,
    formula: createWeightFormula(options),
    damping: createDamping(options),
    material: createMaterialChange(options),
    proberForgetMs,
  });

  const nodes = new Map<string, NodeEntry>();
  const probers = new Map<string, number>();
  const pendingRemovals = new Set<string>();
  // Nodes whose (node, prober) health changed since they were last evaluated (tickTransitions).
  const transitions = new Set<NodeEntry>();
  let capacities: readonly TierCapacity[] = [];
  let capacityDirty = false;
  let cachedProberId = '';
  let cachedProberIndex = -1;

  const proberIndexOf = (proberId: string): number => {
    if (proberId === cachedProberId) return cachedProberIndex;
    let index = probers.get(proberId);
    if (index === undefined) {
      index = probers.size;
      probers.set(proberId, index);
    }
    cachedProberId = proberId;
    cachedProberIndex = index;
    return index;
  };

  const slotOf = (entry: NodeEntry, prober: number): number => {
    const list = entry.slots;
    const owners = slots.prober;
    for (let i = 0; i < list.length; i++) if (owners[list[i]] === prober) return list[i];
    const slot = slots.allocate(prober, hysteresis.initial);
    list.push(slot);
    return slot;
  };

  /** The capacity table, recomputed when a node started or stopped serving since the last call. */
  const capacityUpdate = (): { capacities: readonly TierCapacity[]; capacitiesChanged: boolean } => {
    if (!capacityDirty) return { capacities, capacitiesChanged: false };
    capacityDirty = false;
    const fresh = computeTierCapacities(nodes.values());
    if (sameTierCapacities(capacities, fresh)) return { capacities, capacitiesChanged: false };
    capacities = fresh;
    return { capacities, capacitiesChanged: true };
  };

  const removeNode = (nodeId: string): boolean => {
    const entry = nodes.get(nodeId);
    if (entry === undefined) return false;
    transitions.delete(entry);
    for (const slot of entry.slots) slots.release(slot);
    if (entry.published !== undefined) pendingRemovals.add(nodeId);
    nodes.delete(nodeId);
    capacityDirty = true;
    return true;
  };

  const upsertNode = (node: Node): NodeUpdateOutcome => {
    const rejected = validateNodeDocument(node);
    if (rejected !== undefined) return rejected;
    const entry = nodes.get(node.id);
    if (entry !== undefined) entry.node = node;
    else nodes.set(node.id, evaluator.createEntry(node));
    capacityDirty = true;
    return NODE_ACCEPTED;
  };

  return {
    ingest(proberId, result, nowMs) {
      requireClock(nowMs);
      const startedAtMs = Number(result.startedAtMs);
      const rejected = validator.check(proberId, result, startedAtMs, nowMs);
      if (rejected !== undefined) return rejected;
      const entry = nodes.get(result.nodeId);
      if (entry === undefined) return rejectUnknownNode(result.nodeId);
      const slot = slotOf(entry, proberIndexOf(proberId));
      const lastMs = slots.lastStartedAtMs[slot];
      if (startedAtMs <= lastMs) return rejectOutOfOrder(result.nodeId, proberId, startedAtMs, lastMs);
      const ok = result.ok;
      const before = slots.hysteresis[slot];
      const after = hysteresis.step(before, ok);
      slots.hysteresis[slot] = after;
      if (hysteresis.health(after) !== hysteresis.health(before)) transitions.add(entry);
      slots.lossMask[slot] = stats.pushLoss(slots.lossMask[slot], ok);
      if (ok) slots.rttEwmaMs[slot] = stats.nextRttEwma(slots.rttEwmaMs[slot], result.totalMs);
      slots.lastStartedAtMs[slot] = startedAtMs;
      slots.lastReceivedAtMs[slot] = nowMs;
      if (ok && result.load >= 0) {
        entry.load = result.load;
        entry.loadAtMs = nowMs;
      }
      return INGEST_ACCEPTED;
    },
    setNodes(list) {
      const rejected: NodeRejected[] = [];
      const wanted = new Set<string>();
      for (const node of list) {
        wanted.add(node.id);
        const outcome = upsertNode(node);
        if (!outcome.accepted) rejected.push(outcome);
      }
      for (const id of [...nodes.keys()]) if (!wanted.has(id)) removeNode(id);
      return rejected;
    },
    upsertNode,
    removeNode,
    tick(nowMs) {
      requireClock(nowMs);
      transitions.clear();
      const changed: NodeWeight[] = [];
      const removed: string[] = [];
      for (const entry of nodes.values()) {
        if (evaluator.evaluate(entry, nowMs, changed, removed)) capacityDirty = true;
      }
      // A node removed and re-added before this tick was just published again: no removal then.
      for (const id of pendingRemovals) if (nodes.get(id)?.published === undefined) removed.push(id);
      pendingRemovals.clear();
      return { changed, removedNodeIds: removed, ...capacityUpdate() };
    },
    tickTransitions(nowMs) {
      requireClock(nowMs);
      const changed: NodeWeight[] = [];
      // Only a node whose document went to MAINTENANCE while a result was in flight lands here.
      const removed: string[] = [];
      for (const entry of transitions) {
        if (evaluator.evaluate(entry, nowMs, changed, removed)) capacityDirty = true;
      }
      transitions.clear();
      return { changed, removedNodeIds: removed, ...capacityUpdate() };
    },
    get pendingTransitions() {
      return transitions.size;
    },
    snapshot() {
      const weights: NodeWeight[] = [];
      for (const entry of nodes.values()) if (entry.published !== undefined) weights.push(entry.published);
      return { weights, capacities };
    },
    get nodeCount() {
      return nodes.size;
    },
    get pairCount() {
      return slots.liveCount;
    },
  };
}

function requireClock(nowMs: number): void {
  if (!Number.isFinite(nowMs) || nowMs < 0) throw new RangeError(`nowMs must be a finite time >= 0, got ${nowMs}`);
}
