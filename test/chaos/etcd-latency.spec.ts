import { Health } from '@cdn-sched/proto';
import { createWeightsConsumer, type StreamConsumer, type WeightEntry } from '@cdn-sched/stream';
import { waitFor } from '@cdn-sched/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMesh, type Mesh } from '../support/mesh.js';
import { startReplay, type Replay } from '../support/replay.js';
import { formatSummary } from '../support/stats.js';
import { CLIENTS, MUSIC, REPLAY_QUERIES } from '../support/topology.js';

/** One-way delay of every chunk between a service and etcd: 130 ms + [0, 40) ms, i.e. 150 ± 20 ms. */
const LATENCY_MS = 130;
const JITTER_MS = 40;
const OBSERVE_MS = 20_000;

/**
 * What to print when a change does not arrive: each service's view (version, readiness reasons, its
 * upstream streams) and the config-watcher's etcd watch state changes, from its log.
 */
async function diagnose(mesh: Mesh): Promise<string> {
  const lines: string[] = [];
  for (const s of mesh.services) {
    try {
      const st = await s.status();
      const streams = st.streams.map((x) => `${x.name}@${x.target} connected=${x.connected} version=${x.version} staleness=${x.stalenessMs}ms stale=${x.stale}`);
      lines.push(`${s.name}: version=${st.version} ready=${st.ready} reasons=${JSON.stringify(st.reasons)} ${streams.join('; ')}`);
    } catch (error) {
      lines.push(`${s.name}: no status (${(error as Error).message})`);
    }
  }
  const watchLog = mesh.configWatcher.process.logs.filter((l) => l['msg'] === 'etcd watch state').slice(-10);
  lines.push(`config-watcher etcd watch states: ${watchLog.map((l) => `${String(l['state'])}${l['error'] ? ` (${String(l['error'])})` : ''}`).join(' -> ') || 'none logged'}`);
  return lines.join('\n');
}

/**
 * The seed's classic failure: a fixed timeout meets 150 ms of injected etcd latency, breakers trip on
 * a healthy etcd and the fleet flaps. Here every service reaches etcd through one proxy that adds
 * 150 ± 20 ms in each direction (so ≈ 300 ms per round trip, more for calls that need several),
 * switched on while the mesh is running — the harsher case, since the breakers were tuned on
 * loopback latency a moment before.
 */
describe('chaos: 150 ms (± 20 ms) between every service and etcd', () => {
  let mesh: Mesh;
  let replay: Replay | undefined;
  let weights: StreamConsumer<WeightEntry> | undefined;

  beforeAll(async () => {
    mesh = await startMesh({ etcdProxy: true, probers: 2, weightCalculators: 1, resolvers: 1 });
  });
  afterAll(async () => {
    await replay?.stop();
    await weights?.close();
    await mesh?.close();
  });

  it('opens no breaker, keeps answering from memory and flaps no node', async () => {
    // Every weight update of a node that is not UP (or weighs nothing) is a flap: the edges are fine.
    const flaps: string[] = [];
    let observing = false;
    weights = createWeightsConsumer({
      target: mesh.weightCalculators[0]!.address,
      consumerId: 'chaos-latency',
      onApplied(update) {
        if (!observing) return;
        for (const c of update.changes) {
          if (c.value?.kind !== 'weight') continue;
          const w = c.value.weight;
          // us-2 is added during the test: its first weights (cold start) are not a flap.
          if (w.nodeId === 'us-2') continue;
          if (w.health !== Health.UP || w.weight <= 0) flaps.push(`${w.nodeId} ${Health[w.health]} weight ${w.weight}`);
        }
      },
    });
    await weights.ready(AbortSignal.timeout(10_000));

    mesh.proxy!.setLatency(LATENCY_MS, JITTER_MS);
    observing = true;
    const t0 = Date.now();
    replay = startReplay({ targets: [mesh.resolvers[0]!.address], queries: REPLAY_QUERIES, batchSize: 20, intervalMs: 50 });

    // Configuration still flows, at the pace of the slower etcd: a new node document (a second name
    // for us-1's edge) reaches the resolver, which answers it with the document's address and port.
    await new Promise((r) => setTimeout(r, 3000));
    const doc = mesh.nodeDocument('us-1', { id: 'us-2' });
    const changeAt = performance.now();
    const revision = await mesh.etcdClient.put(`${mesh.prefix}nodes/us-2`, JSON.stringify(doc));
    const resolver = mesh.resolverClient();
    try {
      await waitFor(
        async () => {
          const res = await resolver.resolve({ clientIp: CLIENTS.us.ip, domain: MUSIC, answers: 2 });
          return res.answers.some((a) => a.nodeId === 'us-2' && a.address === doc['address'] && a.port === doc['port']);
        },
        { timeoutMs: 10_000, intervalMs: 20, message: `us-2 (put at revision ${revision}) answered by the resolver` },
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${await diagnose(mesh)}`, { cause: error });
    }
    const changeMs = performance.now() - changeAt;

    await new Promise((r) => setTimeout(r, Math.max(0, OBSERVE_MS - (Date.now() - t0))));
    const report = await replay.stop();
    replay = undefined;
    observing = false;

    const statuses = await Promise.all(mesh.services.map(async (s) => ({ name: s.name, status: await s.status() })));
    const breakers = statuses.flatMap(({ name, status }) => status.breakers.map((b) => ({ name: `${name}/${b.name}`, state: b.state, opens: Number(b.opens), timeoutMs: b.timeoutMs })));
    const opened = breakers.filter((b) => b.opens > 0 || b.state !== 'closed');
    const cw = statuses.find((s) => s.name === 'config-watcher-1')!.status;
    // What an operator sees: `cdnctl status --json`, one line per service.
    const cli = await mesh.cdnctl(['status', '--json']);
    expect(cli.code, cli.stderr).toBe(0);
    const cliOpens = cli.json().flatMap((s) => (s['breakers'] as { opens: number }[]).map((b) => b.opens));

    console.log(
      `etcd +${LATENCY_MS}..${LATENCY_MS + JITTER_MS} ms each way for ${(OBSERVE_MS / 1000).toFixed(0)} s: replay ${report.decisions} decisions at ${report.decisionsPerS.toFixed(0)}/s, ` +
        `batch latency ${formatSummary(report.latencyMs)}; ${report.failures.length} failed, ${report.degraded} degraded`,
    );
    console.log(`  config-watcher watch latency p50/p99 ${cw.watchLatencyP50Ms.toFixed(0)}/${cw.watchLatencyP99Ms.toFixed(0)} ms; a new node document was answered by the resolver ${changeMs.toFixed(0)} ms after its put`);
    console.log(`  breakers: ${breakers.length} checked, ${opened.length} opened (${breakers.map((b) => `${b.name} timeout ${b.timeoutMs} ms`).join(', ')}); flaps ${flaps.length}`);

    expect(opened).toEqual([]);
    expect(cliOpens.length).toBeGreaterThanOrEqual(breakers.length);
    expect(cliOpens.every((n) => n === 0)).toBe(true);
    // Answers never wait on etcd. The seed's 85 ms P99 is a speed target for a quiet machine (printed
    // above); on a loaded one the bound only has to tell "from memory" from "stuck behind etcd".
    expect(report.latencyMs.p99).toBeLessThanOrEqual(1000);
    expect(report.failures).toEqual([]);
    expect(report.unanswered).toBe(0);
    expect(report.degraded).toBe(0);
    expect(flaps).toEqual([]);
    // The latency really was there: the config-watcher measured it.
    expect(cw.watchLatencyP99Ms).toBeGreaterThanOrEqual(2 * LATENCY_MS);
    for (const e of mesh.edges) {
      const w = weights.entries.get(`weight/${e.id}`);
      expect(w?.kind === 'weight' && w.weight.health, e.id).toBe(Health.UP);
    }
  });
});
