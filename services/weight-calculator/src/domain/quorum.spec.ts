import { describe, expect, it } from 'vitest';
import { Health } from '@cdn-sched/proto';
import { createQuorum, createVoteTally, resetVoteTally } from './quorum.js';
import type { Quorum } from './quorum.js';

const NOW = 1_000_000;

/** Decides over [health, lastReceivedAtMs] pairs. */
function decide(quorum: Quorum, votes: Array<[Health, number]>): { health: Health; up: number; down: number; abstaining: number } {
  const tally = createVoteTally();
  for (const [health, at] of votes) quorum.add(tally, health, at, NOW);
  return { health: quorum.decide(tally), ...tally };
}

describe('createQuorum', () => {
  const quorum = createQuorum();

  it('documents its defaults (freshness 15 s, one voter suffices)', () => {
    expect(quorum.options).toEqual({ freshnessTtlMs: 15_000, minProbers: 1 });
  });

  it('keeps a node UP when 1 of 3 probers sees it DOWN', () => {
    expect(decide(quorum, [[Health.DOWN, NOW], [Health.UP, NOW], [Health.UP, NOW]]).health).toBe(Health.UP);
  });

  it('takes a node DOWN when 2 of 3 probers see it DOWN', () => {
    expect(decide(quorum, [[Health.DOWN, NOW], [Health.DOWN, NOW], [Health.UP, NOW]]).health).toBe(Health.DOWN);
    expect(decide(quorum, [[Health.DOWN, NOW], [Health.DOWN, NOW], [Health.DOWN, NOW]]).health).toBe(Health.DOWN);
  });

  it('needs both of two probers for DOWN (strict majority)', () => {
    expect(decide(quorum, [[Health.DOWN, NOW], [Health.UP, NOW]]).health).toBe(Health.UP);
    expect(decide(quorum, [[Health.DOWN, NOW], [Health.DOWN, NOW]]).health).toBe(Health.DOWN);
  });

  it('trusts a single voter with the default minProbers', () => {
    expect(decide(quorum, [[Health.DOWN, NOW]]).health).toBe(Health.DOWN);
    expect(decide(quorum, [[Health.UP, NOW]]).health).toBe(Health.UP);
  });

  it('does not let a stale prober vote', () => {
    const stale = NOW - 15_000;
    const outcome = decide(quorum, [[Health.DOWN, stale], [Health.DOWN, stale], [Health.UP, NOW]]);
    expect(outcome).toEqual({ health: Health.UP, up: 1, down: 0, abstaining: 0 });
    expect(decide(quorum, [[Health.DOWN, NOW - 14_999], [Health.UP, NOW - 20_000]]).health).toBe(Health.DOWN);
  });

  it('is UNKNOWN when nobody reports', () => {
    expect(decide(quorum, []).health).toBe(Health.UNKNOWN);
    expect(decide(quorum, [[Health.UP, NOW - 60_000]]).health).toBe(Health.UNKNOWN);
  });

  it('lets probers still UNKNOWN abstain: they report but do not vote', () => {
    const outcome = decide(quorum, [[Health.UNKNOWN, NOW], [Health.UNKNOWN, NOW], [Health.DOWN, NOW]]);
    expect(outcome).toEqual({ health: Health.DOWN, up: 0, down: 1, abstaining: 2 });
    expect(decide(quorum, [[Health.UNKNOWN, NOW]]).health).toBe(Health.UNKNOWN);
  });

  it('is UNKNOWN with fewer voters than minProbers', () => {
    const two = createQuorum({ minProbers: 2 });
    expect(decide(two, [[Health.DOWN, NOW]]).health).toBe(Health.UNKNOWN);
    expect(decide(two, [[Health.DOWN, NOW], [Health.UNKNOWN, NOW]]).health).toBe(Health.UNKNOWN);
    expect(decide(two, [[Health.DOWN, NOW], [Health.DOWN, NOW]]).health).toBe(Health.DOWN);
    expect(decide(two, [[Health.DOWN, NOW], [Health.UP, NOW]]).health).toBe(Health.UP);
  });

  it('decides every split of up to 7 voters by strict majority', () => {
    for (let voters = 1; voters <= 7; voters++) {
      for (let down = 0; down <= voters; down++) {
        const votes: Array<[Health, number]> = [];
        for (let i = 0; i < voters; i++) votes.push([i < down ? Health.DOWN : Health.UP, NOW]);
        expect(decide(quorum, votes).health).toBe(down * 2 > voters ? Health.DOWN : Health.UP);
      }
    }
  });

  it('resets a tally for reuse', () => {
    const tally = createVoteTally();
    quorum.add(tally, Health.DOWN, NOW, NOW);
    resetVoteTally(tally);
    expect(tally).toEqual({ up: 0, down: 0, abstaining: 0 });
    expect(quorum.decide(tally)).toBe(Health.UNKNOWN);
  });

  it('rejects bad options', () => {
    expect(() => createQuorum({ freshnessTtlMs: 0 })).toThrow(/freshnessTtlMs/);
    expect(() => createQuorum({ minProbers: 0 })).toThrow(/minProbers/);
    expect(() => createQuorum({ minProbers: 1.5 })).toThrow(/minProbers/);
  });
});
