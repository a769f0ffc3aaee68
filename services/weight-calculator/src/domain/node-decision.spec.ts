import { describe, expect, it } from 'vitest';
import { Health, NodeState } from '@cdn-sched/proto';
import { createNodeDecider } from './node-decision.js';
import type { NodeDecisionRecord } from './node-decision.js';
import { createSlowStart } from './slow-start.js';

const decider = createNodeDecider(createSlowStart());
const T0 = 1_000_000;

function pick(r: NodeDecisionRecord): Pick<NodeDecisionRecord, 'health' | 'mode' | 'held'> & { share: number } {
  return { health: r.health, mode: r.mode, held: r.held, share: Math.round(r.share * 1e9) / 1e9 };
}

describe('createNodeDecider', () => {
  it('documents its defaults (hold 30 s, cold-start share 0.25)', () => {
    expect(decider.options).toEqual({ unknownHoldMs: 30_000, coldStartShare: 0.25 });
  });

  it('answers a node with no results at its cold-start share, health UNKNOWN', () => {
    const r = decider.createRecord();
    decider.decide(r, Health.UNKNOWN, NodeState.ACTIVE, T0);
    expect(pick(r)).toEqual({ health: Health.UNKNOWN, mode: 'cold', held: false, share: 0.25 });
  });

  it('continues the slow-start ramp from the cold-start share when the node turns UP', () => {
    const r = decider.createRecord();
    decider.decide(r, Health.UNKNOWN, NodeState.ACTIVE, T0);
    decider.decide(r, Health.UP, NodeState.ACTIVE, T0 + 5_000);
    expect(pick(r)).toEqual({ health: Health.UP, mode: 'up', held: false, share: 0.25 });
    decider.decide(r, Health.UP, NodeState.ACTIVE, T0 + 35_000);
    expect(r.share).toBeCloseTo(0.625, 9);
    decider.decide(r, Health.UP, NodeState.ACTIVE, T0 + 65_000);
    expect(r.share).toBe(1);
  });

  it('slow-starts from the minimum share after DOWN', () => {
    const r = decider.createRecord();
    decider.decide(r, Health.UP, NodeState.ACTIVE, T0);
    decider.decide(r, Health.DOWN, NodeState.ACTIVE, T0 + 100_000);
    expect(pick(r)).toEqual({ health: Health.DOWN, mode: 'excluded', held: false, share: 0 });
    decider.decide(r, Health.UP, NodeState.ACTIVE, T0 + 110_000);
    expect(pick(r)).toEqual({ health: Health.UP, mode: 'up', held: false, share: 0.1 });
    decider.decide(r, Health.UP, NodeState.ACTIVE, T0 + 140_000);
    expect(r.share).toBeCloseTo(0.55, 9);
  });

  it('holds an UP decision through a short loss of quorum without restarting the ramp', () => {
    const r = decider.createRecord();
    decider.decide(r, Health.UP, NodeState.ACTIVE, T0);
    decider.decide(r, Health.UP, NodeState.ACTIVE, T0 + 120_000);
    decider.decide(r, Health.UNKNOWN, NodeState.ACTIVE, T0 + 140_000);
    expect(pick(r)).toEqual({ health: Health.UNKNOWN, mode: 'up', held: true, share: 1 });
    decider.decide(r, Health.UNKNOWN, NodeState.ACTIVE, T0 + 150_000);
    expect(r.mode).toBe('up');
    decider.decide(r, Health.UNKNOWN, NodeState.ACTIVE, T0 + 150_001);
    expect(pick(r)).toEqual({ health: Health.UNKNOWN, mode: 'cold', held: false, share: 0.25 });
  });

  it('holds a DOWN decision, then falls to cold start', () => {
    const r = decider.createRecord();
    decider.decide(r, Health.DOWN, NodeState.ACTIVE, T0);
    decider.decide(r, Health.UNKNOWN, NodeState.ACTIVE, T0 + 29_000);
    expect(pick(r)).toEqual({ health: Health.UNKNOWN, mode: 'excluded', held: true, share: 0 });
    decider.decide(r, Health.UNKNOWN, NodeState.ACTIVE, T0 + 31_000);
    expect(pick(r)).toEqual({ health: Health.UNKNOWN, mode: 'cold', held: false, share: 0.25 });
  });

  it('excludes a DRAIN node while still reporting its health', () => {
    const r = decider.createRecord();
    decider.decide(r, Health.UP, NodeState.DRAIN, T0);
    expect(pick(r)).toEqual({ health: Health.UP, mode: 'excluded', held: false, share: 0 });
    decider.decide(r, Health.UNKNOWN, NodeState.DRAIN, T0 + 60_000);
    expect(r.mode).toBe('excluded');
  });

  it('slow-starts a node coming back from DRAIN', () => {
    const r = decider.createRecord();
    decider.decide(r, Health.UP, NodeState.ACTIVE, T0);
    decider.decide(r, Health.UP, NodeState.ACTIVE, T0 + 100_000);
    expect(r.share).toBe(1);
    decider.decide(r, Health.UP, NodeState.DRAIN, T0 + 101_000);
    decider.decide(r, Health.UP, NodeState.ACTIVE, T0 + 102_000);
    expect(r.share).toBeCloseTo(0.1, 9);
  });

  it('takes a MAINTENANCE node out of the table, whatever its health', () => {
    const r = decider.createRecord();
    for (const health of [Health.UP, Health.DOWN, Health.UNKNOWN]) {
      decider.decide(r, health, NodeState.MAINTENANCE, T0);
      expect(r.mode).toBe('absent');
      expect(r.share).toBe(0);
    }
    decider.decide(r, Health.UP, NodeState.ACTIVE, T0 + 1);
    expect(pick(r)).toEqual({ health: Health.UP, mode: 'up', held: false, share: 0.1 });
  });

  it('rejects bad options', () => {
    const slowStart = createSlowStart();
    expect(() => createNodeDecider(slowStart, { coldStartShare: 0 })).toThrow(/coldStartShare/);
    expect(() => createNodeDecider(slowStart, { coldStartShare: 1.1 })).toThrow(/coldStartShare/);
    expect(() => createNodeDecider(slowStart, { unknownHoldMs: -1 })).toThrow(/unknownHoldMs/);
  });
});
