import { waitFor } from '@cdn-sched/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAnswerWatch, type AnswerWatch } from '../support/answer-watch.js';
import { dig } from '../support/dig.js';
import { startRehearsal, type Rehearsal, type RehearsalService } from '../support/rehearsal.js';
import { startReplay, type Replay, type ReplayReport } from '../support/replay.js';
import { formatSummary } from '../support/stats.js';
import { CLIENTS, MUSIC, REPLAY_QUERIES } from '../support/topology.js';

/**
 * The multi-host rehearsal: the production topology (three etcd members with TLS on hosts of their
 * own, services with the prod overlay's settings and mutual TLS spread over three hosts; see
 * test/support/rehearsal.ts) built from Linux network namespaces, then put through the faults a
 * real deployment meets: latency and loss between hosts (`tc netem`), an etcd member cut off from
 * its peers, a service host cut off and healed, a resolver host crashing. A replay sends decisions
 * throughout (400/s over ResolveStream, failing over between the two resolvers as a DNS front-end
 * does) and the dns-gateway is asked over real DNS after each fault.
 *
 * Needs root (namespaces, links); `deploy/rehearsal.sh` runs it by hand.
 */

const isRoot = process.getuid?.() === 0;

/** Breaker opens per service (from Status), for the services that are up. */
async function breakerOpens(services: readonly RehearsalService[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const s of services) {
    if (s.kind === 'dns-gateway' || !s.running) continue;
    const st = await s.status();
    for (const b of st.breakers) out.set(`${s.name}/${b.name}`, Number(b.opens));
  }
  return out;
}

function describeReport(what: string, r: ReplayReport): string {
  return (
    `${what}: ${r.decisions} decisions (${r.decisionsPerS.toFixed(0)}/s), ${r.failures.length} failed, ${r.unanswered} unanswered, ${r.degraded} degraded, ` +
    `${r.failovers.length} failovers, ${r.resentBatches} batches resent; batch latency ${formatSummary(r.latencyMs)}` +
    (r.degraded > 0 ? `; degraded because: ${[...new Set(r.degradedReasons)].slice(0, 3).join(' | ')}` : '')
  );
}

async function digAnswers(gateway: RehearsalService, times: number): Promise<{ answered: number; statuses: string[] }> {
  const [host, port] = [gateway.host.address, Number(gateway.address.split(':')[1])];
  const statuses: string[] = [];
  let answered = 0;
  for (let i = 0; i < times; i++) {
    // A different client subnet each time, so the gateway's answer cache does not answer for the resolvers.
    const r = await dig(host, port, MUSIC, [`+subnet=${CLIENTS.gdCt.ip.split('.').slice(0, 3).join('.')}.${i % 250}/32`]);
    statuses.push(r.status);
    if (r.status === 'NOERROR' && r.answers.some((a) => a.type === 'A')) answered++;
  }
  return { answered, statuses };
}

describe.skipIf(!isRoot)('chaos: multi-host rehearsal (network namespaces, etcd cluster with TLS, mutual TLS)', () => {
  let r: Rehearsal;
  let replay: Replay | undefined;
  const watches: AnswerWatch[] = [];
  const figures: string[] = [];

  beforeAll(async () => {
    const t0 = Date.now();
    r = await startRehearsal();
    // Every edge up on both resolvers before the faults start: a full answer for a Guangdong client.
    for (const name of ['resolver-1', 'resolver-2']) await r.service(name).waitReady({ healthy: true, timeoutMs: 60_000 });
    figures.push(`start: ${r.services.length} services on ${r.network.hosts.length} hosts ready in ${Date.now() - t0} ms`);
    // Resolver-2 first: it is on the host that is cut off and then crashes, so the replay's failover is exercised.
    replay = startReplay({ targets: [r.service('resolver-2').address, r.service('resolver-1').address], queries: REPLAY_QUERIES, batchSize: 20, intervalMs: 50, connect: (t) => r.channel(t) });
  });

  afterAll(async () => {
    await Promise.all(watches.map((w) => w.close()));
    await replay?.stop();
    await r?.close();
    console.log(`multi-host rehearsal figures:\n  ${figures.join('\n  ')}`);
  });

  const watchOn = (resolver: string): AnswerWatch => {
    const w = startAnswerWatch({ target: r.service(resolver).address, query: { clientIp: CLIENTS.gdCt.ip, domain: MUSIC, answers: 3 }, connect: (t) => r.channel(t), gapMs: 20 });
    watches.push(w);
    return w;
  };

  it('runs with mutual TLS across hosts: one weight-calculator leads, both resolvers answer, the dns-gateway answers over DNS', async () => {
    // Exactly one leader, once the first campaign is over (ready does not wait for it).
    const leaders = async (): Promise<number[]> => Promise.all(r.services.filter((s) => s.kind === 'weight-calculator').map(async (s) => (await s.status()).gauges['leader'] ?? 0));
    await waitFor(async () => (await leaders()).includes(1), { timeoutMs: 30_000, intervalMs: 200, message: 'a weight-calculator leader' });
    expect((await leaders()).sort()).toEqual([0, 1]);
    // Both probers report to both replicas (the prober expands the dns:/// name to every address).
    for (const name of ['weight-calculator-1', 'weight-calculator-2']) {
      await waitFor(async () => (await r.service(name).status()).gauges['reporters'] === 2, { timeoutMs: 20_000, intervalMs: 200, message: `both probers reporting to ${name}` });
    }
    for (const name of ['resolver-1', 'resolver-2']) {
      const s = await r.service(name).status();
      expect(s.reasons).toEqual([]);
      expect(s.streams.every((x) => x.connected)).toBe(true);
    }
    const d = await digAnswers(r.service('dns-gateway-1'), 5);
    expect(d.answered).toBe(5);
    await waitFor(() => (replay!.report().decisions ?? 0) > 200, { timeoutMs: 20_000, intervalMs: 100, message: 'replay answered' });
    const report = replay!.report();
    expect(report.failures).toEqual([]);
  });

  it('keeps deciding under 100 ms ± 20 ms latency and 1 % loss on a service host; no breaker opens', async (ctx) => {
    if (!r.network.netemSupported) {
      figures.push('netem: SKIPPED, this kernel has no netem queueing discipline (CONFIG_NET_SCH_NETEM)');
      ctx.skip();
    }
    const before = await breakerOpens(r.services);
    const from = Date.now();
    await r.network.netem('h2', ['delay', '100ms', '20ms', 'loss', '1%']);
    try {
      await new Promise((res) => setTimeout(res, 15_000));
      const during = replay!.report(from);
      figures.push(describeReport('netem on h2 (15 s)', during));
      expect(during.failures).toEqual([]);
      expect(during.degraded).toBe(0);
      const after = await breakerOpens(r.services);
      const opened = [...after].filter(([k, v]) => v > (before.get(k) ?? 0)).map(([k]) => k);
      expect(opened).toEqual([]);
    } finally {
      await r.network.clearNetem('h2');
    }
  });

  it('moves require-leader watches off an etcd member cut from its peers; a drain issued meanwhile takes effect', async () => {
    // The member most watches are on: cutting it must move them.
    const counts = await Promise.all(r.etcd.members.map((m) => m.metric('etcd_debugging_mvcc_watch_stream_total')));
    const victimIndex = counts.indexOf(Math.max(...counts.map((c) => c ?? 0)));
    const victim = r.etcd.members[victimIndex]!;
    const victimHost = `e${victimIndex + 1}`;
    const streamsBefore = counts[victimIndex]!;
    expect(streamsBefore).toBeGreaterThan(0);
    const watch = watchOn('resolver-1');
    await watch.waitFor((a) => a.nodeIds.has('gd-ct-2'), { afterMs: Date.now(), timeoutMs: 10_000, message: 'gd-ct-2 answered before the partition' });

    const from = Date.now();
    await r.network.cut(victimHost, 'peer');
    try {
      // etcd cancels require-leader streams once the member has had no leader for a few election timeouts.
      await waitFor(async () => (await victim.metric('etcd_debugging_mvcc_watch_stream_total')) === 0, {
        timeoutMs: 30_000,
        intervalMs: 200,
        message: `watch streams gone from ${victim.name}`,
      });
      const movedMs = Date.now() - from;
      // A drain written through the members that still have a quorum.
      const quorum = r.etcdClientOf(r.etcd.members.filter((m) => m !== victim).map((m) => m.endpoint));
      const drainedAt = Date.now();
      await r.putNode('gd-ct-2', { state: 'drain' }, quorum);
      const gone = await watch.waitFor((a) => !a.nodeIds.has('gd-ct-2'), { afterMs: drainedAt, timeoutMs: 15_000, message: 'gd-ct-2 drained during the etcd partition' });
      figures.push(`etcd member ${victim.name} cut from its peers: its ${streamsBefore} watch streams ended after ${movedMs} ms; a drain issued then left the answers ${gone.atMs - drainedAt} ms later`);
    } finally {
      await r.network.heal(victimHost, 'peer');
    }
    // It catches up: its revision reaches the leader's.
    await waitFor(
      async () => {
        const revs = await Promise.all(r.etcd.members.map((m) => m.metric('etcd_debugging_mvcc_current_revision')));
        return revs.every((x) => x !== undefined && x === revs[0]);
      },
      { timeoutMs: 30_000, intervalMs: 200, message: 'every etcd member at the same revision after the heal' },
    );
    await r.putNode('gd-ct-2');
    await watch.waitFor((a) => a.nodeIds.has('gd-ct-2'), { afterMs: Date.now(), timeoutMs: 15_000, message: 'gd-ct-2 back after the undrain' });
    const during = replay!.report(from);
    figures.push(describeReport('etcd member partition', during));
    expect(during.failures).toEqual([]);
    expect(during.degraded).toBe(0);
  });

  it('cuts a service host off (link down): decisions continue on the other host, a drain takes effect, all converges after the heal', async () => {
    const watch = watchOn('resolver-1');
    await watch.waitFor((a) => a.nodeIds.has('gd-ct-3'), { afterMs: Date.now(), timeoutMs: 10_000, message: 'gd-ct-3 answered before the cut' });
    const from = Date.now();
    await r.network.cut('h2');
    let healedAt = 0;
    try {
      const drainedAt = Date.now();
      await r.putNode('gd-ct-3', { state: 'drain' });
      const gone = await watch.waitFor((a) => !a.nodeIds.has('gd-ct-3'), { afterMs: drainedAt, timeoutMs: 15_000, message: 'gd-ct-3 drained while h2 is cut off' });
      // The dns-gateway (h1) balances over both resolvers: with resolver-2 unreachable it still answers.
      const d = await digAnswers(r.service('dns-gateway-1'), 5);
      figures.push(`h2 cut off: a drain left resolver-1's answers ${gone.atMs - drainedAt} ms after it was written; dns-gateway answered ${d.answered}/5 (${d.statuses.join(',')})`);
      expect(d.answered).toBe(5);
      // Long enough for the cut-off prober's membership lease (MEMBER_TTL_S) to expire.
      const ttlS = Number(r.prodEnv['prober']?.['MEMBER_TTL_S'] ?? 5);
      await new Promise((res) => setTimeout(res, ttlS * 1000 + 1000));
    } finally {
      await r.network.heal('h2');
      healedAt = Date.now();
    }
    const during = replay!.report(from);
    // Converges: every service healthy, resolver-2 sees the drain, both resolvers at the config-watcher's version.
    for (const s of r.services) await s.waitReady({ healthy: s.kind !== 'dns-gateway', timeoutMs: 60_000 });
    const watch2 = watchOn('resolver-2');
    await watch2.waitFor((a) => !a.nodeIds.has('gd-ct-3'), { afterMs: healedAt, timeoutMs: 30_000, message: 'resolver-2 has the drain after the heal' });
    await waitFor(
      async () => {
        const versions = await Promise.all(['config-watcher-1', 'resolver-1', 'resolver-2'].map(async (n) => (await r.service(n).status()).version));
        return versions.every((v) => v === versions[0]);
      },
      { timeoutMs: 30_000, intervalMs: 200, message: 'resolvers at the config-watcher version' },
    );
    const convergedMs = Date.now() - healedAt;
    await r.putNode('gd-ct-3');
    figures.push(describeReport('h2 cut off', during));
    figures.push(`h2 healed: every service healthy and at one config version ${convergedMs} ms later`);
    expect(during.failures).toEqual([]);
    expect(during.unanswered).toBe(0);
  });

  it('loses a resolver host (SIGKILL of every service on h2): decisions and DNS answers continue on h1', async () => {
    const from = Date.now();
    await Promise.all(r.services.filter((s) => s.host.name === 'h2').map((s) => s.stop('SIGKILL')));
    const d = await digAnswers(r.service('dns-gateway-1'), 10);
    await new Promise((res) => setTimeout(res, 3000));
    const during = replay!.report(from);
    figures.push(`h2 crashed: dns-gateway answered ${d.answered}/10; ${describeReport('after the crash', during)}`);
    expect(d.answered).toBe(10);
    expect(during.failures).toEqual([]);
    const whole = await replay!.stop();
    replay = undefined;
    figures.push(describeReport('whole run', whole));
    expect(whole.failures).toEqual([]);
    expect(whole.unanswered).toBe(0);
    expect(whole.decisions).toBeGreaterThan(1000);
  });
});
