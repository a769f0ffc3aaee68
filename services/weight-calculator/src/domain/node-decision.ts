import { Health, NodeState } from '@cdn-sched/proto';
import { requireNumber } from './option-checks.js';
import type { SlowStart } from './slow-start.js';

/**
 * What a node gets, given the probers' quorum and the operator's state: the health it is reported
 * with, whether it serves at all (its *mode*), and the share of its target weight it serves with.
 *
 * Modes:
 * - `absent`   — MAINTENANCE: removed from the weight table (resolvers do not even see it);
 * - `excluded` — DRAIN, or DOWN by quorum (or held DOWN): weight 0, still listed, still probed;
 * - `cold`     — no quorum and nothing recent to hold on to (cold start): health UNKNOWN, share
 *                `coldStartShare`;
 * - `up`       — UP by quorum (or held UP): share ramps by slow start to 1.
 *
 * Cold start (a brand-new node, or a node nobody has probed for longer than `unknownHoldMs`) is
 * answered at a reduced share rather than excluded or served in full:
 * - excluding it would turn a routine event into an outage — after a weight-calculator restart or a
 *   prober fleet outage every node is UNKNOWN, and a pool with all nodes excluded answers nothing
 *   (or falls back to its all-down policy) although the edges are fine;
 * - full share would send a full share of users to a node nobody has checked, e.g. one added with
 *   a wrong address; at a quarter share the damage is bounded, and the first successful probe
 *   (one interval later) turns it UP and slow start continues the ramp from that quarter.
 *
 * Hold: when the quorum has no decision (too few fresh probers), the last decision (UP or DOWN)
 * stays in force for `unknownHoldMs` while the node is reported UNKNOWN. A prober restart or a
 * short network blip between probers and the weight-calculator must not move traffic; a long one
 * means we no longer know, and the node falls to cold start — including a node that was DOWN,
 * which then gets its cold-start share again until a prober sees it.
 */
export interface NodeDecisionOptions {
  /**
   * How long the last UP/DOWN decision stays in force when no quorum is available, milliseconds.
   * Defaults to 30 000: twice the default prober freshness TTL, covering a prober restart and a
   * re-assignment of its nodes to other probers.
   */
  unknownHoldMs: number;
  /**
   * Share of its capacity-based target weight a node gets at cold start, in (0, 1]. Defaults to
   * 0.25 (cautious but not excluded; see the file comment).
   */
  coldStartShare: number;
}

/** The defaults documented on {@link NodeDecisionOptions}. */
export const DEFAULT_NODE_DECISION_OPTIONS: Readonly<NodeDecisionOptions> = Object.freeze({
  unknownHoldMs: 30_000,
  coldStartShare: 0.25,
});

/** How a node serves; see the file comment. */
export type ServingMode = 'absent' | 'excluded' | 'cold' | 'up';

/**
 * The decision state of one node: its memory (last decision, ramp) and the outcome of the latest
 * {@link NodeDecider.decide} call. Owned and mutated by the decider, one record per node, so a tick
 * over 10 k nodes allocates nothing here.
 */
export interface NodeDecisionRecord {
  /** Last health a quorum decided (UP or DOWN); UNKNOWN before the first decision. */
  decidedHealth: Health;
  /** When `decidedHealth` was last confirmed by a quorum, milliseconds. */
  decidedAtMs: number;
  /** Health to report: the quorum's, or UNKNOWN while held or cold. */
  health: Health;
  /** How the node serves now. */
  mode: ServingMode;
  /** Share of the target weight, 0..1 (0 unless `cold` or `up`). */
  share: number;
  /** Whether the current mode comes from a held decision rather than a live quorum. */
  held: boolean;
  /** When the current slow-start ramp began, milliseconds. */
  rampStartMs: number;
  /** Share at the start of the current ramp. */
  rampFromShare: number;
}

/** The per-node decision rule. */
export interface NodeDecider {
  /** The resolved options. */
  readonly options: Readonly<NodeDecisionOptions>;
  /** A record for a node that has never been decided (mode `absent` until the first call). */
  createRecord(): NodeDecisionRecord;
  /** Updates `record` from the quorum's health and the node's administrative state at `nowMs`. */
  decide(record: NodeDecisionRecord, quorumHealth: Health, state: NodeState, nowMs: number): void;
}

/** Creates the decision rule; throws a `RangeError` naming a bad option. */
export function createNodeDecider(slowStart: SlowStart, options: Partial<NodeDecisionOptions> = {}): NodeDecider {
  const resolved: NodeDecisionOptions = {
    unknownHoldMs: options.unknownHoldMs ?? DEFAULT_NODE_DECISION_OPTIONS.unknownHoldMs,
    coldStartShare: options.coldStartShare ?? DEFAULT_NODE_DECISION_OPTIONS.coldStartShare,
  };
  requireNumber('unknownHoldMs', resolved.unknownHoldMs, 0, Number.MAX_SAFE_INTEGER);
  requireNumber('coldStartShare', resolved.coldStartShare, Number.MIN_VALUE, 1);
  const { unknownHoldMs, coldStartShare } = resolved;
  const minShare = slowStart.options.slowStartMinShare;

  return {
    options: Object.freeze(resolved),
    createRecord: () => ({
      decidedHealth: Health.UNKNOWN,
      decidedAtMs: 0,
      health: Health.UNKNOWN,
      mode: 'absent',
      share: 0,
      held: false,
      rampStartMs: 0,
      rampFromShare: 0,
    }),
    decide(record, quorumHealth, state, nowMs) {
      const previousMode = record.mode;
      let basis: Health;
      if (quorumHealth === Health.UP || quorumHealth === Health.DOWN) {
        record.decidedHealth = quorumHealth;
        record.decidedAtMs = nowMs;
        record.health = quorumHealth;
        record.held = false;
        basis = quorumHealth;
      } else {
        const holding = record.decidedHealth !== Health.UNKNOWN && nowMs - record.decidedAtMs <= unknownHoldMs;
        record.health = Health.UNKNOWN;
        record.held = holding;
        basis = holding ? record.decidedHealth : Health.UNKNOWN;
      }

      if (state === NodeState.MAINTENANCE) {
        record.mode = 'absent';
        record.share = 0;
      } else if (state !== NodeState.ACTIVE || basis === Health.DOWN) {
        record.mode = 'excluded';
        record.share = 0;
      } else if (basis === Health.UNKNOWN) {
        record.mode = 'cold';
        record.share = coldStartShare;
      } else {
        if (previousMode !== 'up') {
          record.rampStartMs = nowMs;
          record.rampFromShare = previousMode === 'cold' ? coldStartShare : minShare;
        }
        record.mode = 'up';
        record.share = slowStart.share(record.rampFromShare, nowMs - record.rampStartMs);
      }
    },
  };
}
