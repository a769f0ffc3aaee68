import { BrokenCircuitError, type IPolicy } from 'cockatiel';
import { GRPCUnavailableError } from 'etcd3';
import { describe, expect, it } from 'vitest';
import { createMemberBreakers, isLeaderlessAnswer } from './member-breakers.js';

describe('isLeaderlessAnswer (errors that must not open a member breaker)', () => {
  it('recognises what a live member answers during an election', () => {
    for (const message of [
      '14 UNAVAILABLE: etcdserver: no leader',
      '14 UNAVAILABLE: etcdserver: request timed out',
      '14 UNAVAILABLE: etcdserver: request timed out, possibly due to previous leader failure',
      '14 UNAVAILABLE: etcdserver: leader changed',
    ]) {
      expect(isLeaderlessAnswer(new Error(message)), message).toBe(true);
    }
  });

  it('leaves failures of the member itself to the breaker', () => {
    for (const message of ['14 UNAVAILABLE: read ECONNRESET', '14 UNAVAILABLE: No connection established', '4 DEADLINE_EXCEEDED: Deadline exceeded']) {
      expect(isLeaderlessAnswer(new Error(message)), message).toBe(false);
    }
  });
});

describe('createMemberBreakers (etcd3 per-member fault handling)', () => {
  const fail = async (member: IPolicy, message = '14 UNAVAILABLE: read ECONNRESET'): Promise<void> => {
    await expect(member.execute(() => Promise.reject(new GRPCUnavailableError(message)))).rejects.toBeInstanceOf(GRPCUnavailableError);
  };
  /** Runs a call through `member`: what it returned, or the name of the error, and whether the call ran. */
  const attempt = async (member: IPolicy): Promise<{ ran: boolean; outcome: string }> => {
    let ran = false;
    const outcome = await member.execute(() => ((ran = true), 'answered')).catch((error: Error) => (error instanceof BrokenCircuitError ? 'skipped' : error.name));
    return { ran, outcome };
  };

  it('skips a member after 3 consecutive failures while another member is usable', async () => {
    const host = createMemberBreakers({ halfOpenAfterMs: 60_000 });
    const [a, b] = [host(), host()];
    for (let i = 0; i < 3; i++) await fail(a);
    expect(await attempt(a)).toEqual({ ran: false, outcome: 'skipped' });
    expect(await attempt(b)).toEqual({ ran: true, outcome: 'answered' });
  });

  it('does not count leaderless answers: an election does not open the survivors', async () => {
    const host = createMemberBreakers({ halfOpenAfterMs: 60_000 });
    const [a, b] = [host(), host()];
    for (let i = 0; i < 3; i++) await fail(b);
    for (let i = 0; i < 10; i++) await fail(a, '14 UNAVAILABLE: etcdserver: request timed out, possibly due to previous leader failure');
    expect(await attempt(a)).toEqual({ ran: true, outcome: 'answered' });
    expect(await attempt(b)).toEqual({ ran: false, outcome: 'skipped' });
  });

  it('with every breaker open, every member is skipped until one half-opens (the known gap, see createMemberBreakers)', async () => {
    const host = createMemberBreakers({ halfOpenAfterMs: 60_000 });
    const members = [host(), host(), host()];
    for (const m of members) for (let i = 0; i < 3; i++) await fail(m);
    for (const m of members) expect(await attempt(m)).toEqual({ ran: false, outcome: 'skipped' });
  });

  it('a half-open member gets its own trial call first', async () => {
    const host = createMemberBreakers({ halfOpenAfterMs: 20 });
    const [a, b] = [host(), host()];
    for (const m of [a, b]) for (let i = 0; i < 3; i++) await fail(m);
    await new Promise((r) => setTimeout(r, 60));
    // a's trial call succeeds through its breaker, which closes it; b's trial call fails, which
    // opens b again for another half-open period.
    expect(await attempt(a)).toEqual({ ran: true, outcome: 'answered' });
    await fail(b);
    expect(await attempt(b)).toEqual({ ran: false, outcome: 'skipped' });
    expect(await attempt(a)).toEqual({ ran: true, outcome: 'answered' });
  });
});
