import { waitFor } from '@cdn-sched/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMesh, type Mesh } from '../support/mesh.js';
import type { MeshService, StopSignal } from '../support/mesh-service.js';
import { startReplay, type Replay } from '../support/replay.js';
import { formatSummary } from '../support/stats.js';
import { REPLAY_QUERIES } from '../support/topology.js';

/**
 * Every service restarted in turn under a steady replay. The replay talks to two resolvers and
 * fails over between them (re-sending what was in flight), as a DNS front-end with two resolvers
 * does: restarting "the" resolver between replay phases would only prove that a stopped resolver
 * answers nothing, while two resolvers show what users see — no failed resolve — and also exercise
 * a resolver coming back into a mesh that kept running without it.
 */
describe('restarting each service under a steady replay (2 resolvers, failover between them)', () => {
  let mesh: Mesh;
  let replay: Replay | undefined;

  beforeAll(async () => {
    mesh = await startMesh({ probers: 2, weightCalculators: 1, resolvers: 2 });
  });
  afterAll(async () => {
    await replay?.stop();
    await mesh?.close();
  });

  /** Every service that consumes `upstream`'s stream reports it connected at `version` or later. */
  const consumersResumed = async (upstream: 'config-watcher' | 'weight-calculator', version: number, consumers: readonly MeshService[]): Promise<number> => {
    const t0 = performance.now();
    await waitFor(
      async () => {
        for (const c of consumers) {
          const s = (await c.status()).streams.find((x) => x.name === upstream);
          if (!s?.connected || Number(s.version) < version) return false;
        }
        return true;
      },
      { timeoutMs: 20_000, intervalMs: 50, message: `consumers of ${upstream} resumed at version ≥ ${version}` },
    );
    return performance.now() - t0;
  };

  /** Waits until the weight-calculator has both probers' report streams; says why not on timeout. */
  const bothProbersReport = async (wc: MeshService, timeoutMs: number): Promise<void> => {
    try {
      await waitFor(async () => (await wc.status()).gauges['reporters'] === 2, { timeoutMs, intervalMs: 50, message: `both probers reporting to ${wc.name}` });
    } catch (error) {
      const why = await Promise.all(
        mesh.probers.map(async (p) => {
          const s = await p.status();
          return `${p.name}: ${s.breakers.map((b) => `${b.name} ${b.state} opens ${b.opens} failures ${b.failures}`).join(', ')}; reasons ${s.reasons.join('; ')}`;
        }),
      );
      throw new Error(`${(error as Error).message}\n${why.join('\n')}`);
    }
  };

  const restart = async (service: MeshService, signal: StopSignal): Promise<string> => {
    const { stopMs, startMs } = await service.restart(signal);
    return `${service.name} ${signal}: down in ${stopMs.toFixed(0)} ms, ready ${startMs.toFixed(0)} ms after the spawn`;
  };

  it('answers every query, with no failed resolve, while each service restarts', async () => {
    replay = startReplay({ targets: mesh.resolvers.map((r) => r.address), connect: mesh.connect, queries: REPLAY_QUERIES, batchSize: 20, intervalMs: 50 });
    // One line per figure, as it is measured (so a failure still shows how far it got).
    const say = (line: string): void => console.log(line);
    await new Promise((r) => setTimeout(r, 1000));

    // config-watcher: every consumer reconnects and takes a change made after the restart.
    say(await restart(mesh.configWatcher, 'SIGTERM'));
    const revision = await mesh.putNode('sh-ct-1', { capacity: 2100 });
    const cwResume = await consumersResumed('config-watcher', revision, [...mesh.weightCalculators, ...mesh.probers, ...mesh.resolvers]);
    say(`  config consumers at revision ${revision} ${cwResume.toFixed(0)} ms after it was ready`);

    // prober: its report stream to the weight-calculator comes back.
    say(await restart(mesh.probers[0]!, 'SIGTERM'));
    const proberT0 = performance.now();
    await bothProbersReport(mesh.weightCalculators[0]!, 10_000);
    say(`  reporting again ${(performance.now() - proberT0).toFixed(0)} ms after it was ready`);

    // weight-calculator, crashed: probers resume their reports, resolvers their weight streams.
    const wc = mesh.weightCalculators[0]!;
    say(await restart(wc, 'SIGKILL'));
    const reportT0 = performance.now();
    // The probers' report breakers opened while it was gone; they close again after their reset timeout.
    await bothProbersReport(wc, 20_000);
    say(`  both probers reporting to it ${(performance.now() - reportT0).toFixed(0)} ms after it was ready`);
    const wcVersion = Number((await wc.status()).version);
    const wcResume = await consumersResumed('weight-calculator', wcVersion, mesh.resolvers);
    say(`  resolvers on the new weight stream ${wcResume.toFixed(0)} ms after it was ready`);
    const healthyMs = await mesh.waitHealthy();
    say(`  every edge UP again on the new weight-calculator ${healthyMs.toFixed(0)} ms later`);

    // Each resolver in turn: the replay fails over to the other one.
    for (const r of mesh.resolvers) {
      say(await restart(r, 'SIGTERM'));
      await r.waitReady({ healthy: true });
    }
    await new Promise((r) => setTimeout(r, 1000));

    const report = await replay.stop();
    replay = undefined;
    say(
      `replay: ${report.decisions} decisions at ${report.decisionsPerS.toFixed(0)}/s, ${report.failures.length} failed, ${report.unanswered} unanswered, ` +
        `${report.degraded} degraded, ${report.failovers.length} failovers, ${report.resentBatches} batches re-sent; batch latency ${formatSummary(report.latencyMs)}`,
    );
    for (const f of report.failovers) say(`  failover ${f.from} -> ${f.to} (${f.error}; ${f.resent} batches re-sent)`);
    if (report.degradedReasons.length) say(`  degraded: ${report.degradedReasons.join(' | ')}`);

    expect(report.failures.slice(0, 5)).toEqual([]);
    expect(report.unanswered).toBe(0);
    // Both resolver restarts moved the replay to the other resolver.
    expect(report.failovers.length).toBeGreaterThanOrEqual(2);
    expect(report.decisions).toBeGreaterThan(1000);
  });
});
