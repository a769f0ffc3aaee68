import { createEtcdClient, type EtcdClient } from '@cdn-sched/etcd';
import { serviceDefinitions, type WatchResponse } from '@cdn-sched/proto';
import { createConfigConsumer, type ConfigEntry, type StreamConsumer } from '@cdn-sched/stream';
import { activeHandleCount, startEtcd, startGrpcServer, startTcpProxy, waitFor, type EtcdProcess, type TcpProxy, type TestGrpcServer } from '@cdn-sched/testing';
import { createChannel, createClient } from 'nice-grpc';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createConfigWatcher, type ConfigWatcher } from './index.js';

const node = (id: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ id, address: '127.0.0.1', port: 8080, country: 'CN', region: 'CN-GD', isp: 'ct', capacity: 1000, state: 'active', pools: ['music'], ...extra });
const domain = (fqdn: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ domain: fqdn, pool: 'music', answers: 2, ttl: 30, strategy: 'weighted', fallback: ['isp+region', 'region', 'any'], ...extra });

interface Harness {
  prefix: string;
  watcher: ConfigWatcher;
  server: TestGrpcServer;
  client: EtcdClient;
  consumer(): StreamConsumer<ConfigEntry>;
  close(): Promise<void>;
}

let etcd: EtcdProcess;
let direct: EtcdClient;
let n = 0;

async function harness(options: { endpoint?: string; heartbeatIntervalMs?: number; staleAfterMs?: number } = {}): Promise<Harness> {
  const prefix = `/cdn${++n}/`;
  const client = createEtcdClient({ endpoints: [options.endpoint ?? etcd.endpoint] });
  const watcher = createConfigWatcher({
    client,
    instanceId: `cw-${n}`,
    prefix,
    progressIntervalMs: 100,
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? 200,
    staleAfterMs: options.staleAfterMs ?? 1500,
    watchIdleTimeoutMs: 1000,
  });
  const server = await startGrpcServer((s) => s.add(serviceDefinitions.configWatcher, watcher.service));
  const consumers: StreamConsumer<ConfigEntry>[] = [];
  return {
    prefix,
    watcher,
    server,
    client,
    consumer() {
      const c = createConfigConsumer({ target: server.address, consumerId: 'test', backoff: { baseMs: 20, maxMs: 200 } });
      consumers.push(c);
      return c;
    },
    async close() {
      for (const c of consumers) await c.close();
      await server.close();
      await watcher.close();
      client.close();
    },
  };
}

/** What etcd holds, as the entries a consumer should have (valid documents only). */
async function nodeIdsInEtcd(prefix: string): Promise<string[]> {
  const { kvs } = await direct.list(`${prefix}nodes/`);
  return kvs.map((kv) => kv.key.slice(`${prefix}nodes/`.length)).sort();
}
const nodeIds = (c: StreamConsumer<ConfigEntry>): string[] =>
  [...c.entries.values()].flatMap((e) => (e.kind === 'node' ? [e.node.id] : [])).sort();

describe('config-watcher (real etcd, real gRPC)', () => {
  const cleanups: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    etcd = await startEtcd();
    direct = createEtcdClient({ endpoints: [etcd.endpoint] });
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  afterAll(async () => {
    direct.close();
    await etcd.stop();
  });

  it('streams puts, updates and deletes of nodes and domains in order, with revisions', async () => {
    const h = await harness();
    cleanups.push(() => h.close());
    await direct.put(`${h.prefix}nodes/n1`, node('n1'));
    // The watcher may have listed before the put: wait until n1 is in its store, so the client's
    // first message (a snapshot) must contain it.
    await waitFor(() => h.watcher.store.entries.has('node/n1'), { message: 'n1 in the store' });
    const channel = createChannel(h.server.address);
    const raw = createClient(serviceDefinitions.configWatcher, channel);
    const ac = new AbortController();
    const received: WatchResponse[] = [];
    const reading = (async () => {
      try {
        for await (const m of raw.watch({ consumerId: 'raw' }, { signal: ac.signal })) if (m.kind.case !== 'progress') received.push(m);
      } catch {
        // aborted
      }
    })();
    await waitFor(() => received.length === 1, { message: 'snapshot' });
    const r1 = await direct.put(`${h.prefix}domains/music.example`, domain('music.example'));
    const r2 = await direct.put(`${h.prefix}nodes/n1`, node('n1', { state: 'drain' }));
    // The delete's own revision: asking etcd for its current revision afterwards raced with the
    // config-watcher's heartbeat put (every second, not a document), which on a busy machine could
    // land in between and name a revision no delta carries.
    const r3 = Number((await direct.etcd.kv.deleteRange({ key: Buffer.from(`${h.prefix}nodes/n1`) })).header.revision);
    const versionOf = (m: WatchResponse): number => (m.kind.case === 'delta' || m.kind.case === 'snapshot' ? Number(m.kind.value.version) : 0);
    await waitFor(() => received.length > 0 && versionOf(received.at(-1)!) === r3, { message: 'deltas up to the delete' });
    ac.abort();
    await reading;
    channel.close();
    const [snap, ...rest] = received;
    expect(snap!.kind.case).toBe('snapshot');
    expect(snap!.kind.case === 'snapshot' && snap!.kind.value.nodes.map((x) => x.id)).toEqual(['n1']);
    expect(snap!.kind.case === 'snapshot' && snap!.kind.value.reason).toBe('first connect');
    // Deltas form a chain (each starts where the previous ended) at the revisions of the puts. A
    // client that reads slower than etcd changes gets them merged (level-triggered, like delta xDS),
    // so there are between 1 and 3 of them; with 3 each carries exactly its own change.
    const deltas = rest.map((d) => (d.kind.case === 'delta' ? d.kind.value : undefined));
    expect(deltas.every(Boolean)).toBe(true);
    let from = versionOf(snap!);
    for (const d of deltas) {
      expect(Number(d!.fromVersion)).toBe(from);
      expect([r1, r2, r3]).toContain(Number(d!.version));
      from = Number(d!.version);
    }
    expect(from).toBe(r3);
    const upsertedDomains = deltas.flatMap((d) => d!.upsertedDomains.map((x) => x.domain));
    expect(upsertedDomains).toEqual(['music.example']);
    expect(deltas.at(-1)!.removedNodeIds).toEqual(['n1']);
    if (deltas.length === 3) {
      expect(deltas.map((d) => Number(d!.version))).toEqual([r1, r2, r3]);
      expect(deltas[1]!.upsertedNodes[0]!.state).toBe(2);
    }
  });

  it('resumes a client with exactly the missed deltas; a too-old version gets a snapshot', async () => {
    const h = await harness();
    cleanups.push(() => h.close());
    await direct.put(`${h.prefix}nodes/a`, node('a'));
    await waitFor(() => h.watcher.store.entries.has('node/a'), { message: 'a in the store' });
    const channel = createChannel(h.server.address);
    const raw = createClient(serviceDefinitions.configWatcher, channel);
    const first = async (version: number): Promise<WatchResponse> => {
      const ac = new AbortController();
      const it = raw.watch({ consumerId: 'r', epoch: h.watcher.store.epoch, version: BigInt(version) }, { signal: ac.signal })[Symbol.asyncIterator]();
      const next = await it.next();
      ac.abort();
      await it.return?.().catch(() => undefined);
      if (next.done) throw new Error('no message');
      return next.value;
    };
    const v0 = h.watcher.store.version;
    await direct.put(`${h.prefix}nodes/b`, node('b'));
    await direct.put(`${h.prefix}nodes/a`, node('a', { capacity: 5 }));
    await waitFor(() => h.watcher.store.version > v0 + 1, { message: 'store caught up' });
    const resumed = await first(v0);
    expect(resumed.kind.case).toBe('delta');
    if (resumed.kind.case === 'delta') {
      expect(Number(resumed.kind.value.fromVersion)).toBe(v0);
      expect(resumed.kind.value.upsertedNodes.map((x) => [x.id, x.capacityRps])).toEqual([['b', 1000], ['a', 5]]);
    }
    const old = await first(1);
    expect(old.kind.case).toBe('snapshot');
    if (old.kind.case === 'snapshot') expect(old.kind.value.reason).toMatch(/no longer in the history/);
    channel.close();
  });

  it('rejects malformed documents with a reason, keeps the last good value and stays alive', async () => {
    const h = await harness();
    cleanups.push(() => h.close());
    await direct.put(`${h.prefix}nodes/n1`, node('n1', { capacity: 100 }));
    await h.watcher.ready();
    const c = h.consumer();
    await c.ready();
    const bad: [string, string, RegExp][] = [
      ['n1', '{"id": "n1", "address":', /JSON/i],
      ['n1', node('n1', { capacity: 'lots' }), /capacity/],
      ['n1', node('n1', { state: 'down' }), /state/],
      ['n1', node('n2'), /n2.*n1|match/],
      ['n1', node('n1', { junk: 'x'.repeat(70_000) }), /limit|bytes|junk/],
    ];
    for (const [id, value, reason] of bad) {
      await direct.put(`${h.prefix}nodes/${id}`, value);
      await waitFor(() => c.entries.get(`rejected/${h.prefix}nodes/${id}`), { message: `rejection of ${value.slice(0, 40)}` });
      const entry = c.entries.get(`rejected/${h.prefix}nodes/${id}`)!;
      expect(entry.kind === 'rejected' && entry.rejected.reason).toMatch(reason);
      const kept = c.entries.get('node/n1');
      expect(kept?.kind === 'node' && kept.node.capacityRps).toBe(100);
      // Wait for the next rejection to be a new one.
      await direct.put(`${h.prefix}nodes/${id}`, node('n1', { capacity: 100 }));
      await waitFor(() => !c.entries.has(`rejected/${h.prefix}nodes/${id}`), { message: 'rejection cleared' });
    }
    await direct.delete(`${h.prefix}nodes/n1`);
    await waitFor(() => !c.entries.has('node/n1'), { message: 'delete is a delete' });
    expect(h.watcher.readiness().ready).toBe(true);
  });

  it('loses nothing and applies nothing twice when etcd is killed and restarted mid-stream', async () => {
    const h = await harness();
    cleanups.push(() => h.close());
    await h.watcher.ready();
    const c = h.consumer();
    await c.ready();
    const versions: number[] = [];
    for (let i = 0; i < 20; i++) await direct.put(`${h.prefix}nodes/k${i}`, node(`k${i}`));
    await waitFor(() => nodeIds(c).length === 20, { message: '20 nodes' });
    await etcd.kill();
    await waitFor(() => !h.watcher.upstream().healthy, { timeoutMs: 10_000, message: 'etcd seen as down' });
    // Still serving the last snapshot, and saying so.
    expect(nodeIds(c)).toHaveLength(20);
    expect(h.watcher.readiness().reasons).toEqual([expect.stringMatching(/^etcd \S+ (unreachable|stale) for \d+ s .*; serving the last snapshot at revision \d+$/)]);
    await etcd.restart();
    for (let i = 0; i < 10; i++) await direct.delete(`${h.prefix}nodes/k${i}`);
    for (let i = 20; i < 25; i++) await direct.put(`${h.prefix}nodes/k${i}`, node(`k${i}`));
    const expected = await nodeIdsInEtcd(h.prefix);
    await waitFor(() => JSON.stringify(nodeIds(c)) === JSON.stringify(expected), { timeoutMs: 15_000, message: 'converged with etcd' });
    versions.push(c.state.version);
    expect(c.state.version).toBe(h.watcher.store.version);
    await waitFor(() => h.watcher.upstream().healthy, { timeoutMs: 10_000, message: 'healthy again' });
  });

  it('relists and converges when history was compacted while it was cut off from etcd', async () => {
    const proxy: TcpProxy = await startTcpProxy({ targetPort: etcd.clientPort });
    const h = await harness({ endpoint: proxy.endpoint });
    cleanups.push(async () => {
      await h.close();
      await proxy.close();
    });
    await direct.put(`${h.prefix}nodes/x`, node('x'));
    await direct.put(`${h.prefix}nodes/y`, node('y'));
    await h.watcher.ready();
    const c = h.consumer();
    await c.ready();
    await proxy.setMode('refuse');
    await direct.delete(`${h.prefix}nodes/x`);
    await direct.put(`${h.prefix}nodes/z`, node('z'));
    const rev = await direct.put(`${h.prefix}nodes/y`, node('y', { capacity: 7 }));
    await direct.compact(rev);
    await proxy.setMode('pass');
    await waitFor(() => JSON.stringify(nodeIds(c)) === JSON.stringify(['y', 'z']), { timeoutMs: 15_000, message: 'converged after compaction' });
    const y = c.entries.get('node/y');
    expect(y?.kind === 'node' && y.node.capacityRps).toBe(7);
    expect(c.state.version).toBeGreaterThanOrEqual(rev);
  });

  it('keeps the breaker closed with 150 ms of injected latency, opens it when etcd refuses, and recovers', async () => {
    const proxy = await startTcpProxy({ targetPort: etcd.clientPort, latencyMs: 150 });
    const h = await harness({ endpoint: proxy.endpoint, heartbeatIntervalMs: 100, staleAfterMs: 3000 });
    cleanups.push(async () => {
      await h.close();
      await proxy.close();
    });
    await h.watcher.ready();
    const c = h.consumer();
    await c.ready();
    await waitFor(() => h.watcher.latency.window.count(Date.now()) >= 5, { timeoutMs: 10_000, message: 'latency samples' });
    expect(h.watcher.latency.p50()).toBeGreaterThanOrEqual(250);
    for (let i = 0; i < 5; i++) await direct.put(`${h.prefix}nodes/s${i}`, node(`s${i}`));
    await waitFor(() => nodeIds(c).length === 5, { timeoutMs: 10_000, message: 'updates through the slow proxy' });
    expect(h.watcher.breakers.map((b) => b.status().state)).toEqual(['closed', 'closed']);
    expect(h.watcher.breakers.every((b) => b.status().opens === 0)).toBe(true);
    expect(c.state.watchLatencyP99Ms).toBeGreaterThanOrEqual(250);

    await proxy.setMode('refuse');
    await waitFor(() => h.watcher.breakers.some((b) => b.status().state === 'open'), { timeoutMs: 15_000, message: 'breaker opens on refused connections' });
    expect(nodeIds(c)).toHaveLength(5);
    expect(h.watcher.readiness().ready).toBe(true);
    await proxy.setMode('pass');
    proxy.setLatency(0);
    await direct.put(`${h.prefix}nodes/after`, node('after'));
    await waitFor(() => nodeIds(c).includes('after'), { timeoutMs: 20_000, message: 'recovered' });
    await waitFor(() => h.watcher.breakers.every((b) => b.status().state === 'closed'), { timeoutMs: 40_000, message: 'breakers closed again' });
  }, 90_000);

  it('sends a 10 k-node snapshot to a new client in under a second, and leaks nothing over 1,000 client cycles', async () => {
    const h = await harness();
    cleanups.push(() => h.close());
    await h.watcher.ready();
    const txnSize = 100;
    for (let i = 0; i < 10_000; i += txnSize) {
      await Promise.all(Array.from({ length: txnSize }, (_, j) => direct.put(`${h.prefix}nodes/n${i + j}`, node(`n${i + j}`))));
    }
    await waitFor(() => h.watcher.store.entries.size === 10_000, { timeoutMs: 20_000, message: '10 k nodes in the store' });
    const t0 = performance.now();
    const c = h.consumer();
    await c.ready();
    const elapsed = performance.now() - t0;
    expect(c.entries.size).toBe(10_000);
    // How fast is the benchmark's business (`npm run bench -- config-watcher`); here: it arrives whole.
    expect(elapsed).toBeLessThan(15_000);
    console.log(`10k-node snapshot to a new client: ${elapsed.toFixed(0)} ms`);

    const channel = createChannel(h.server.address);
    const raw = createClient(serviceDefinitions.configWatcher, channel);
    const small = await harness();
    cleanups.push(() => small.close());
    await small.watcher.ready();
    const smallChannel = createChannel(small.server.address);
    const smallClient = createClient(serviceDefinitions.configWatcher, smallChannel);
    const cycle = async (): Promise<void> => {
      const ac = new AbortController();
      try {
        for await (const _ of smallClient.watch({ consumerId: 'cycle' }, { signal: ac.signal })) ac.abort();
      } catch {
        // aborted by us
      }
    };
    for (let i = 0; i < 50; i++) await cycle();
    await new Promise((r) => setTimeout(r, 200));
    const before = activeHandleCount();
    for (let i = 0; i < 1000; i++) await cycle();
    await waitFor(() => small.watcher.consumers === 0, { message: 'streams closed on the server' });
    await new Promise((r) => setTimeout(r, 200));
    expect(activeHandleCount()).toBeLessThanOrEqual(before + 2);
    smallChannel.close();
    channel.close();
    void raw;
  }, 120_000);
});
