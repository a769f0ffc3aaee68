import { BrokenCircuitError, type IPolicy } from 'cockatiel';
import { GRPCUnavailableError } from 'etcd3';
import { describe, expect, it } from 'vitest';
import { createMemberBreakers, isLeaderlessAnswer, type MemberBreakers } from './member-breakers.js';

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
  /** Probe answers per member, set by the test; every probe asked is recorded. */
  const probes = (): { serving: Map<string, boolean>; asked: string[]; breakers: MemberBreakers } => {
    const serving = new Map<string, boolean>();
    const asked: string[] = [];
    const breakers = createMemberBreakers({
      probeIntervalMs: 5,
      probe: async (member) => {
        asked.push(member);
        return serving.get(member) ?? false;
      },
    });
    return { serving, asked, breakers };
  };
  const until = async (condition: () => Promise<boolean>, what: string): Promise<void> => {
    const by = Date.now() + 10_000;
    while (!(await condition())) {
      if (Date.now() > by) throw new Error(`not within 10 s: ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };

  it('skips a member after 3 consecutive failures while another member is usable', async () => {
    const { breakers } = probes();
    const [a, b] = [breakers.host('a'), breakers.host('b')];
    for (let i = 0; i < 3; i++) await fail(a);
    expect(await attempt(a)).toEqual({ ran: false, outcome: 'skipped' });
    expect(await attempt(b)).toEqual({ ran: true, outcome: 'answered' });
    breakers.close();
  });

  it('does not count leaderless answers: an election does not open the survivors', async () => {
    const { breakers } = probes();
    const [a, b] = [breakers.host('a'), breakers.host('b')];
    for (let i = 0; i < 3; i++) await fail(b);
    for (let i = 0; i < 10; i++) await fail(a, '14 UNAVAILABLE: etcdserver: request timed out, possibly due to previous leader failure');
    expect(await attempt(a)).toEqual({ ran: true, outcome: 'answered' });
    expect(await attempt(b)).toEqual({ ran: false, outcome: 'skipped' });
    breakers.close();
  });

  it('a success in between resets the count', async () => {
    const { breakers } = probes();
    const a = breakers.host('a');
    await fail(a);
    await fail(a);
    expect(await attempt(a)).toEqual({ ran: true, outcome: 'answered' });
    await fail(a);
    await fail(a);
    expect(await attempt(a)).toEqual({ ran: true, outcome: 'answered' });
    breakers.close();
  });

  it('an open member gets no call until its probe finds it serving, then closes at once (no timed half-open)', async () => {
    const { serving, asked, breakers } = probes();
    const members = [breakers.host('a'), breakers.host('b'), breakers.host('c')];
    for (const m of members) for (let i = 0; i < 3; i++) await fail(m);
    // Every breaker open (the survivors of a leader's death, which hung on forwarded puts): skipped,
    // and probed meanwhile; probes that say "not serving" (no leader yet, or frozen) keep them open.
    await until(async () => ['a', 'b', 'c'].every((m) => asked.filter((x) => x === m).length >= 3), 'three probes of each member');
    for (const m of members) expect(await attempt(m)).toEqual({ ran: false, outcome: 'skipped' });
    // A leader is elected: b and c say so; a (frozen) still answers nothing.
    serving.set('b', true).set('c', true);
    await until(async () => (await attempt(members[1]!)).ran && (await attempt(members[2]!)).ran, 'b and c closed');
    expect(await attempt(members[0]!)).toEqual({ ran: false, outcome: 'skipped' });
    // A closed member is probed no more; the frozen one still is.
    const bProbes = asked.filter((m) => m === 'b').length;
    const aProbes = asked.filter((m) => m === 'a').length;
    await until(async () => asked.filter((m) => m === 'a').length >= aProbes + 3, 'a probed again');
    expect(asked.filter((m) => m === 'b').length).toBe(bProbes);
    // It opens again after 3 more failures (the count starts over).
    await fail(members[1]!);
    await fail(members[1]!);
    expect(await attempt(members[1]!)).toEqual({ ran: true, outcome: 'answered' });
    breakers.close();
  });

  it('close stops every probe', async () => {
    const { asked, breakers } = probes();
    const a = breakers.host('a');
    for (let i = 0; i < 3; i++) await fail(a);
    await until(async () => asked.length >= 2, 'probing');
    breakers.close();
    await new Promise((r) => setTimeout(r, 20));
    const n = asked.length;
    await new Promise((r) => setTimeout(r, 50));
    expect(asked.length).toBe(n);
  });
});
