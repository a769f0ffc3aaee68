import { parseDocument, type DocumentParseResult } from '@cdn-sched/documents';
import { toText } from '@cdn-sched/etcd';
import { Tier } from '@cdn-sched/proto';
import { createConfigConsumer, type ConfigEntry, type StreamConsumer } from '@cdn-sched/stream';
import { waitFor } from '@cdn-sched/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMesh, type Mesh } from '../support/mesh.js';
import { startReplay, type Replay } from '../support/replay.js';
import { formatSummary } from '../support/stats.js';
import { CLIENTS, LIVE, MUSIC, REPLAY_QUERIES } from '../support/topology.js';

const OUTAGE_MS = 30_000;

/** The documents under the prefix as etcd has them, in the config stream's key form ("node/<id>"). */
async function etcdDocuments(mesh: Mesh): Promise<Map<string, string>> {
  const { kvs } = await mesh.etcdClient.list(mesh.prefix);
  const out = new Map<string, string>();
  for (const kv of kvs) {
    const r: DocumentParseResult = parseDocument(kv.key, toText(kv.value), { prefix: mesh.prefix });
    if (r.ok && r.kind === 'node') out.set(`node/${r.node.id}`, JSON.stringify(r.node, bigints));
    else if (r.ok && r.kind === 'domain') out.set(`domain/${r.domain.domain}`, JSON.stringify(r.domain, bigints));
  }
  return out;
}

/** The same view from a config stream consumer. */
function streamDocuments(consumer: StreamConsumer<ConfigEntry>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, e] of consumer.entries) {
    if (e.kind === 'node') out.set(key, JSON.stringify(e.node, bigints));
    else if (e.kind === 'domain') out.set(key, JSON.stringify(e.domain, bigints));
  }
  return out;
}

const bigints = (_k: string, v: unknown): unknown => (typeof v === 'bigint' ? v.toString() : v);

describe('chaos: etcd killed for 30 s, then restarted', () => {
  let mesh: Mesh;
  let replay: Replay | undefined;
  let config: StreamConsumer<ConfigEntry> | undefined;

  beforeAll(async () => {
    mesh = await startMesh({ probers: 2, weightCalculators: 1, resolvers: 1 });
  });
  afterAll(async () => {
    await replay?.stop();
    await config?.close();
    await mesh?.close();
  });

  it('answers throughout, says it is degraded while stale, and converges on what etcd holds afterwards', async () => {
    replay = startReplay({ targets: [mesh.resolvers[0]!.address], queries: REPLAY_QUERIES, batchSize: 20, intervalMs: 50 });
    const resolver = mesh.resolvers[0]!;
    await new Promise((r) => setTimeout(r, 1000));

    const killedAt = Date.now();
    await mesh.etcd.kill();
    // Sample what the resolver says about itself while etcd is gone.
    const samples: { atMs: number; degraded: boolean; reasons: string[] }[] = [];
    while (Date.now() - killedAt < OUTAGE_MS) {
      const s = await resolver.status();
      const answer = await mesh.resolverClient().resolve({ clientIp: CLIENTS.gdCt.ip, domain: MUSIC });
      samples.push({ atMs: Date.now() - killedAt, degraded: answer.degraded, reasons: s.reasons });
      await new Promise((r) => setTimeout(r, 1000));
    }
    const during = replay.report(killedAt);
    const cwDuring = await mesh.configWatcher.status();

    const restartAt = performance.now();
    await mesh.etcd.restart();
    await waitFor(async () => (await mesh.configWatcher.status()).gauges['etcd_healthy'] === 1, { timeoutMs: 30_000, intervalMs: 50, message: 'config-watcher back on etcd' });
    const cwBackMs = performance.now() - restartAt;

    // Changes made after the restart arrive everywhere.
    await mesh.putNode('bj-ct-1', { state: 'drain' });
    expect(await mesh.etcdClient.delete(`${mesh.prefix}nodes/sc-cm-1`)).toBe(1);
    const lastRevision = await mesh.putDomain({ domain: LIVE, pool: 'live', answers: 1, ttl: 25, strategy: 'weighted', fallback: ['isp+region', 'region', 'country'], allDown: 'best-effort' });
    const changedAt = performance.now();
    await waitFor(async () => Number((await resolver.status()).streams.find((s) => s.name === 'config-watcher')?.version ?? 0) >= lastRevision, {
      timeoutMs: 15_000,
      intervalMs: 50,
      message: `resolver at revision ${lastRevision}`,
    });
    const changesMs = performance.now() - changedAt;
    await resolver.waitReady({ healthy: true, timeoutMs: 15_000 });

    // Nothing lost: the config stream holds exactly what etcd holds.
    config = createConfigConsumer({ target: mesh.configWatcher.address, consumerId: 'chaos-outage' });
    await config.ready(AbortSignal.timeout(10_000));
    const inEtcd = await etcdDocuments(mesh);
    expect(streamDocuments(config)).toEqual(inEtcd);
    expect(inEtcd.has('node/sc-cm-1')).toBe(false);

    const client = mesh.resolverClient();
    const bj = await client.resolve({ clientIp: CLIENTS.bjCt.ip, domain: MUSIC });
    expect(bj).toMatchObject({ tier: Tier.REGION, answers: [{ nodeId: 'bj-cu-1' }], degraded: false });
    const sc = await client.resolve({ clientIp: CLIENTS.scCm.ip, domain: MUSIC });
    expect(sc.answers[0]!.nodeId).not.toBe('sc-cm-1');
    // No other China Mobile edge: the country tier.
    expect(sc.tier).toBe(Tier.COUNTRY);
    expect((await client.resolve({ clientIp: CLIENTS.jp.ip, domain: LIVE })).answers[0]!.ttlS).toBe(25);
    expect(bj.configVersion).toBeGreaterThanOrEqual(BigInt(lastRevision));

    // The weight-calculator leader is back too: persisted weights cover exactly the nodes left.
    const liveNodes = [...inEtcd.keys()].filter((k) => k.startsWith('node/')).map((k) => k.slice(5)).sort();
    await waitFor(
      async () => {
        const { kvs } = await mesh.etcdClient.list(`${mesh.prefix}weights/`);
        const ids = kvs.map((kv) => kv.key.slice(`${mesh.prefix}weights/`.length)).sort();
        return JSON.stringify(ids) === JSON.stringify(liveNodes);
      },
      { timeoutMs: 15_000, intervalMs: 100, message: `persisted weights of ${liveNodes.join(',')}` },
    );

    const report = await replay.stop();
    replay = undefined;
    const degradedSamples = samples.filter((s) => s.degraded);
    console.log(
      `etcd down ${OUTAGE_MS / 1000} s: replay ${during.decisions} decisions during the outage, ${during.failures.length} failed, ${during.degraded} degraded; ` +
        `batch latency ${formatSummary(during.latencyMs)}`,
    );
    console.log(
      `  resolver degraded in ${degradedSamples.length}/${samples.length} samples (first at ${degradedSamples[0]?.atMs ?? '-'} ms; reasons: ${samples.at(-1)?.reasons.join('; ') || 'none'}); ` +
        `config-watcher said: ${cwDuring.reasons.join('; ') || 'nothing'}`,
    );
    console.log(`  etcd back: config-watcher watching again in ${cwBackMs.toFixed(0)} ms; 3 changes at the resolver in ${changesMs.toFixed(0)} ms; whole run ${report.failures.length} failed, ${report.unanswered} unanswered`);

    expect(report.failures).toEqual([]);
    expect(report.unanswered).toBe(0);
    // Stale state is never silently trusted (docs/architecture.md, "Resilience"): the config-watcher knows its
    // snapshot is stale, and once that has lasted past its stale bound (5 s) plus the resolver's
    // (MAX_STALENESS_MS, 10 s), answers must say so.
    expect(cwDuring.reasons.join()).toMatch(/^etcd \S+ (unreachable|stale) for \d+ s .*; serving the last snapshot at revision \d+$/);
    const late = samples.filter((s) => s.atMs > 5_000 + 10_000 + 1_000);
    expect(late.length).toBeGreaterThan(5);
    expect(late.filter((s) => !s.degraded).map((s) => `${s.atMs} ms: not degraded`)).toEqual([]);
    expect(during.degraded).toBeGreaterThan(0);
  });
});
