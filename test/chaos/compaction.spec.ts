import { Tier } from '@cdn-sched/proto';
import { waitFor } from '@cdn-sched/testing';
import { Status } from 'nice-grpc';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startMesh, type Mesh } from '../support/mesh.js';
import { probeStatus, type MeshService } from '../support/mesh-service.js';
import { startReplay, type Replay } from '../support/replay.js';
import { CLIENTS, DOMAINS, LIVE, MUSIC } from '../support/topology.js';

/** Music only: the live domain is deleted and restored on the way, music answers throughout. */
const MUSIC_QUERIES = Object.values(CLIENTS).map((c) => ({ clientIp: c.ip, domain: MUSIC }));

/**
 * etcd compacts the history a watcher would resume from, while the config-watcher cannot see it:
 * resuming the watch at the old revision is refused (etcd's ErrCompacted), and only a fresh list
 * tells what changed — including deletions, which a list shows only by their absence.
 */
describe('chaos: etcd compaction while the config-watcher is away', () => {
  let mesh: Mesh;
  let replay: Replay | undefined;

  // A mesh per test: neither depends on what the other one changed, stopped or compacted.
  beforeEach(async () => {
    mesh = await startMesh({ etcdProxy: true, probers: 2, weightCalculators: 1, resolvers: 1 });
    replay = startReplay({ targets: [mesh.resolvers[0]!.address], queries: MUSIC_QUERIES, batchSize: 20, intervalMs: 50 });
  });
  afterEach(async () => {
    await replay?.stop();
    replay = undefined;
    await mesh?.close();
  });

  /** Every config consumer's stream is connected at `revision` or later; resolves with the wait. */
  const consumersAt = async (revision: number): Promise<number> => {
    const t0 = performance.now();
    const consumers: MeshService[] = [...mesh.weightCalculators, ...mesh.probers, ...mesh.resolvers];
    await waitFor(
      async () => {
        for (const c of consumers) {
          const s = (await c.status()).streams.find((x) => x.name === 'config-watcher');
          if (!s?.connected || Number(s.version) < revision) return false;
        }
        return true;
      },
      { timeoutMs: 20_000, intervalMs: 50, message: `every config consumer at revision ≥ ${revision}` },
    );
    return performance.now() - t0;
  };

  /** Several revisions of churn, so the compaction removes history a resume would need. */
  const churn = async (): Promise<void> => {
    for (let i = 0; i < 5; i++) await mesh.putNode('us-1', { capacity: 3000 + i });
  };

  /** How many probers have `nodeId` assigned. */
  const assignedTo = async (nodeId: string): Promise<number> => {
    const all = await Promise.all(mesh.probers.map(probeStatus));
    return all.filter((s) => s.nodes.some((n) => n.nodeId === nodeId)).length;
  };

  it('a restarted config-watcher lists afresh and every consumer converges (stopped, docs changed and deleted, history compacted)', async () => {
    const resolver = mesh.resolverClient();
    expect(await assignedTo('jp-1')).toBe(2);
    await mesh.configWatcher.stop('SIGTERM');

    await mesh.putNode('gd-cu-1', { state: 'drain' });
    await mesh.etcdClient.delete(`${mesh.prefix}domains/${LIVE}`);
    await mesh.etcdClient.delete(`${mesh.prefix}nodes/jp-1`);
    await churn();
    const revision = await mesh.etcdClient.revision();
    await mesh.etcdClient.compact(revision);

    const startMs = await mesh.configWatcher.start();
    const convergeMs = await consumersAt(revision);

    const gdCu = await resolver.resolve({ clientIp: CLIENTS.gdCu.ip, domain: MUSIC });
    expect(gdCu.tier).toBe(Tier.REGION);
    expect(gdCu.answers[0]!.nodeId).not.toBe('gd-cu-1');
    const jp = await resolver.resolve({ clientIp: CLIENTS.jp.ip, domain: MUSIC });
    expect(jp.tier).toBe(Tier.ANY);
    expect(jp.answers[0]!.nodeId).not.toBe('jp-1');
    await expect(resolver.resolve({ clientIp: CLIENTS.jp.ip, domain: LIVE })).rejects.toMatchObject({ code: Status.NOT_FOUND });
    // The deletion reached the probers (no longer probed) and the weight stream (no longer weighed).
    await waitFor(async () => (await assignedTo('jp-1')) === 0, { timeoutMs: 5000, message: 'jp-1 no longer probed' });
    const weights = mesh.watchWeights();
    await weights.ready(AbortSignal.timeout(5000));
    await waitFor(() => !weights.entries.has('weight/jp-1'), { timeoutMs: 5000, message: 'jp-1 gone from the weight stream' });
    console.log(`compaction during a config-watcher outage: restarted in ${startMs.toFixed(0)} ms, every consumer at revision ${revision} ${convergeMs.toFixed(0)} ms later`);
  });

  it('a config-watcher cut off from etcd relists when its watch resumes past the compaction', async () => {
    const resolver = mesh.resolverClient();
    const proxy = mesh.proxy!;
    // Where the cut starts from: gd-cu-1 drained and the live domain deleted, seen by every consumer.
    await mesh.etcdClient.delete(`${mesh.prefix}domains/${LIVE}`);
    await consumersAt(await mesh.putNode('gd-cu-1', { state: 'drain' }));
    await proxy.setMode('refuse');
    await mesh.putNode('gd-cu-1');
    await mesh.putDomain(DOMAINS.find((d) => d.domain === LIVE)!);
    await mesh.etcdClient.delete(`${mesh.prefix}nodes/bj-ct-1`);
    await churn();
    const revision = await mesh.etcdClient.revision();
    await mesh.etcdClient.compact(revision);
    // Before the network is back nothing has moved: the resolver still answers the old state.
    expect((await resolver.resolve({ clientIp: CLIENTS.bjCt.ip, domain: MUSIC })).answers[0]!.nodeId).toBe('bj-ct-1');

    const backAt = performance.now();
    await proxy.setMode('pass');
    const convergeMs = await consumersAt(revision);
    const totalMs = performance.now() - backAt;

    const bj = await resolver.resolve({ clientIp: CLIENTS.bjCt.ip, domain: MUSIC });
    expect(bj).toMatchObject({ tier: Tier.REGION, answers: [{ nodeId: 'bj-cu-1' }] });
    expect((await resolver.resolve({ clientIp: CLIENTS.jp.ip, domain: LIVE })).answers).toHaveLength(1);
    // An undrained node serves again once the weight-calculator has weighed it (its weight was 0
    // while drained): one weight tick after the config change, not at once.
    const undrainedAt = performance.now();
    await waitFor(
      async () => {
        const r = await resolver.resolve({ clientIp: CLIENTS.gdCu.ip, domain: MUSIC });
        return r.tier === Tier.ISP_REGION && r.answers[0]?.nodeId === 'gd-cu-1';
      },
      { timeoutMs: 5000, intervalMs: 20, message: 'gd-cu-1 answered again after its undrain' },
    );
    const undrainMs = performance.now() - undrainedAt;
    const compactionLogged = mesh.configWatcher.process.logs.some((l) => /compact/i.test(JSON.stringify(l)));

    const report = await replay!.stop();
    replay = undefined;
    console.log(
      `compaction while cut off from etcd: every consumer at revision ${revision} ${totalMs.toFixed(0)} ms after etcd was reachable again (${convergeMs.toFixed(0)} ms of it waiting); ` +
        `undrained gd-cu-1 answered ${undrainMs.toFixed(0)} ms after that; config-watcher logged the compaction: ${compactionLogged}; replay over both: ${report.decisions} decisions, ${report.failures.length} failed, ${report.degraded} degraded`,
    );
    expect(compactionLogged).toBe(true);
    expect(report.failures).toEqual([]);
    expect(report.unanswered).toBe(0);
  });
});
