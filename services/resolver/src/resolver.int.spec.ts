import { createEtcdClient, type EtcdClient } from '@cdn-sched/etcd';
import { createGeoIpProvider, type GeoIpProvider } from '@cdn-sched/geoip';
import { serviceDefinitions, Tier } from '@cdn-sched/proto';
import { startEtcd, startGrpcServer, startServiceProcess, waitFor, type EtcdProcess, type ServiceProcess, type TestGrpcServer } from '@cdn-sched/testing';
import { createChannel, createClient, Status, type Channel } from 'nice-grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createResolveCore, createResolverService, createRoutingState, resolverServiceDefinition, type RoutingState } from './index.js';

const node = (id: string, extra: Record<string, unknown>) =>
  JSON.stringify({ id, address: `192.0.2.${id.length}`, port: 443, country: 'CN', capacity: 1000, state: 'active', pools: ['music'], ...extra });
const nodes: Record<string, Record<string, unknown>> = {
  'gd-ct-1': { region: 'CN-GD', isp: 'ct', address: '192.0.2.11' },
  'gd-ct-2': { region: 'CN-GD', isp: 'ct', address: '192.0.2.12' },
  'gd-cu-1': { region: 'CN-GD', isp: 'cu', address: '192.0.2.13' },
  'bj-cu-1': { region: 'CN-BJ', isp: 'cu', address: '192.0.2.14' },
  'us-1': { country: 'US', address: '198.51.100.1' },
};
const domain = JSON.stringify({ domain: 'music.demo.example', pool: 'music', answers: 1, ttl: 60, strategy: 'weighted', fallback: ['isp+region', 'region', 'country', 'any'] });

describe('resolver with a real config-watcher and weight-calculator', () => {
  let etcd: EtcdProcess;
  let etcdClient: EtcdClient;
  let configWatcher: ServiceProcess;
  let weightCalc: ServiceProcess;
  let geo: GeoIpProvider;
  let state: RoutingState;
  let server: TestGrpcServer;
  let channel: Channel;

  beforeAll(async () => {
    etcd = await startEtcd();
    etcdClient = createEtcdClient({ endpoints: [etcd.endpoint] });
    for (const [id, extra] of Object.entries(nodes)) await etcdClient.put(`/cdn/nodes/${id}`, node(id, extra));
    await etcdClient.put('/cdn/domains/music.demo.example', domain);
    configWatcher = await startServiceProcess({ service: 'config-watcher', env: { ETCD_ENDPOINTS: etcd.endpoint, GRPC_PORT: '0', METRICS_PORT: '0', PROGRESS_INTERVAL_MS: '200' } });
    const configTarget = String((await configWatcher.waitForLog('config-watcher listening'))['grpc']);
    weightCalc = await startServiceProcess({ service: 'weight-calculator', env: { ETCD_ENDPOINTS: etcd.endpoint, CONFIG_WATCHER: configTarget, GRPC_PORT: '0', METRICS_PORT: '0' } });
    const weightTarget = String((await weightCalc.waitForLog('weight-calculator listening'))['grpc']);
    geo = await createGeoIpProvider();
    state = createRoutingState({ consumerId: 'test-resolver', configTarget, weightTargets: [weightTarget], maxStalenessMs: 1500 });
    const core = createResolveCore({ table: () => state.table, geo: () => geo.database, stale: () => state.degraded(), seed: 1 });
    server = await startGrpcServer((s) => s.add(resolverServiceDefinition, createResolverService({ core, state, instanceId: 'test', maxBatch: 100 })));
    channel = createChannel(server.address);
    await state.ready();
    // etcd, two service processes and the IP database: seconds alone, over a minute on a loaded machine.
  }, 180_000);
  afterAll(async () => {
    channel?.close();
    await server?.close();
    await state?.close();
    geo?.close();
    await weightCalc?.stop();
    await configWatcher?.stop();
    etcdClient?.close();
    await etcd?.stop();
  });

  it('answers 1.0.8.1 (Guangdong Telecom) from the isp+region tier, with versions', async () => {
    const client = createClient(serviceDefinitions.resolver, channel);
    await waitFor(() => state.table && state.table.weightsVersion > 0n, { timeoutMs: 10_000, message: 'weights arrived' });
    const res = await client.resolve({ queryId: 7n, clientIp: '1.0.8.1', domain: 'music.demo.example' });
    expect(res.location).toMatchObject({ country: 'CN', region: 'CN-GD', isp: 'ct' });
    expect(res.tier).toBe(Tier.ISP_REGION);
    expect(['gd-ct-1', 'gd-ct-2']).toContain(res.answers[0]!.nodeId);
    expect(res.configVersion).toBeGreaterThan(0n);
    expect(res.weightsVersion).toBeGreaterThan(0n);
    expect(res.degraded).toBe(false);
    expect(res.ecsScope).toBeGreaterThan(0);
    // An overseas client falls back as the policy says (country tier: US).
    const us = await client.resolve({ queryId: 8n, clientIp: '8.8.8.8', domain: 'music.demo.example' });
    expect(us.answers[0]!.nodeId).toBe('us-1');
    expect(us.tier).toBe(Tier.COUNTRY);
    // ECS wins over the client address.
    const ecs = await client.resolve({ queryId: 9n, clientIp: '8.8.8.8', ecsSubnet: '1.0.8.0/24', domain: 'music.demo.example' });
    expect(ecs.location?.region).toBe('CN-GD');
  });

  it('rejects bad input with INVALID_ARGUMENT / NOT_FOUND and clear messages', async () => {
    const client = createClient(serviceDefinitions.resolver, channel);
    await expect(client.resolve({ clientIp: '1.2.3', domain: 'music.demo.example' })).rejects.toMatchObject({
      code: Status.INVALID_ARGUMENT,
      details: expect.stringMatching(/client_ip: '1.2.3' is not an IPv4 or IPv6 address/),
    });
    await expect(client.resolve({ ecsSubnet: '1.2.3.0/40', domain: 'music.demo.example' })).rejects.toMatchObject({ code: Status.INVALID_ARGUMENT, details: expect.stringMatching(/prefix length 40/) });
    await expect(client.resolve({ clientIp: '1.2.3.4', domain: 'nope.example' })).rejects.toMatchObject({ code: Status.NOT_FOUND, details: expect.stringMatching(/^unknown-domain: domain 'nope.example' has no routing policy/) });
    await expect(client.resolve({ clientIp: '1.2.3.4', domain: 'music.demo.example', answers: 40 })).rejects.toMatchObject({ code: Status.INVALID_ARGUMENT, details: expect.stringMatching(/answers/) });
  });

  it('a bad item in a stream fails that item only; the stream goes on; an oversized batch is RESOURCE_EXHAUSTED', async () => {
    const client = createClient(serviceDefinitions.resolver, channel);
    async function* batches() {
      yield {
        queries: [
          { queryId: 1n, clientIp: '1.0.8.1', domain: 'music.demo.example' },
          { queryId: 2n, clientIp: 'bad', domain: 'music.demo.example' },
          { queryId: 3n, clientIp: '1.0.8.1', domain: 'x.example' },
        ],
      };
      yield { queries: [{ queryId: 4n, clientIp: '8.8.8.8', domain: 'music.demo.example' }] };
    }
    const got = [];
    for await (const b of client.resolveStream(batches())) got.push(b.decisions.map((d) => [d.queryId, d.result.case, d.result.case === 'error' ? d.result.value.code : 0]));
    expect(got).toEqual([
      [
        [1n, 'response', 0],
        [2n, 'error', Status.INVALID_ARGUMENT],
        [3n, 'error', Status.NOT_FOUND],
      ],
      [[4n, 'response', 0]],
    ]);
    async function* big() {
      yield { queries: Array.from({ length: 101 }, (_, i) => ({ queryId: BigInt(i), clientIp: '1.0.8.1', domain: 'music.demo.example' })) };
    }
    const drain = async (): Promise<void> => {
      for await (const b of client.resolveStream(big())) void b;
    };
    await expect(drain()).rejects.toMatchObject({ code: Status.RESOURCE_EXHAUSTED, details: expect.stringMatching(/^batch-too-large: batch of 101 queries is over the limit of 100/) });
  });

  it('answers each of four concurrent streams its own queries, batch after batch (one set of decode objects serves them all)', async () => {
    const client = createClient(serviceDefinitions.resolver, channel);
    // Stream s asks for clients of one place: 1.0.8.1 is Guangdong Telecom (gd-ct-*), 8.8.8.8 is
    // the US (us-1). Ids say stream, batch and position, so a query answered from another stream's
    // batch, or a field left over from one, shows.
    const clients = ['1.0.8.1', '8.8.8.8', '1.0.8.1', '8.8.8.8'];
    const run = async (s: number): Promise<void> => {
      async function* batches() {
        for (let b = 0; b < 10; b++) {
          yield { queries: Array.from({ length: 5 + 9 * ((s + b) % 4) }, (_, i) => ({ queryId: BigInt(s * 1_000_000 + b * 1000 + i + 1), clientIp: clients[s]!, domain: 'music.demo.example', compact: (b + i) % 2 === 0 })) };
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
      let b = 0;
      for await (const reply of client.resolveStream(batches())) {
        const expected = Array.from({ length: 5 + 9 * ((s + b) % 4) }, (_, i) => BigInt(s * 1_000_000 + b * 1000 + i + 1));
        expect(reply.decisions.map((d) => d.queryId)).toEqual(expected);
        for (const [i, d] of reply.decisions.entries()) {
          expect(d.result.case).toBe('response');
          if (d.result.case !== 'response') continue;
          const r = d.result.value;
          expect(r.queryId).toBe(expected[i]);
          expect(r.answers.map((a) => a.nodeId)[0]).toMatch(s % 2 === 0 ? /^gd-ct-/ : /^us-1$/);
          // Compact answers leave out the location; full ones carry the client's country.
          expect(r.location?.country ?? '').toBe((b + i) % 2 === 0 ? '' : s % 2 === 0 ? 'CN' : 'US');
        }
        b++;
      }
      expect(b).toBe(10);
    };
    await Promise.all([0, 1, 2, 3].map(run));
  });

  it('stops answering a drained node after each of 20 drains, and answers it again after each undrain', async () => {
    const client = createClient(serviceDefinitions.resolver, channel);
    const answered = async (id: string): Promise<boolean> => {
      let seen = false;
      const one = async function* () {
        yield { queries: Array.from({ length: 20 }, (_, i) => ({ queryId: BigInt(i + 1), clientIp: '1.0.8.1', domain: 'music.demo.example' })) };
      };
      for await (const b of client.resolveStream(one())) {
        seen ||= b.decisions.some((d) => d.result.case === 'response' && d.result.value.answers.some((a) => a.nodeId === id));
      }
      return seen;
    };
    const delays: number[] = [];
    // Behaviour, with a deadline a loaded machine meets: the 100 ms p99 target is measured by
    // `npm run bench -- drain` (tools/bench.mjs), not asserted here.
    for (let trial = 0; trial < 20; trial++) {
      const id = trial % 2 === 0 ? 'gd-ct-1' : 'gd-ct-2';
      await waitFor(() => answered(id), { timeoutMs: 10_000, message: `${id} answered before the drain` });
      const t0 = performance.now();
      await etcdClient.put(`/cdn/nodes/${id}`, node(id, { ...nodes[id], state: 'drain' }));
      while (await answered(id)) {
        if (performance.now() - t0 > 10_000) throw new Error(`${id} still answered 10 s after the drain`);
      }
      delays.push(performance.now() - t0);
      await etcdClient.put(`/cdn/nodes/${id}`, node(id, nodes[id]!));
    }
    delays.sort((a, b) => a - b);
    console.log(`drain -> gone from answers: median ${delays[10]!.toFixed(1)} ms, max ${delays.at(-1)!.toFixed(1)} ms (20 trials)`);
    expect(delays).toHaveLength(20);
  });

  it('keeps answering, marked degraded, when the config-watcher is killed', async () => {
    const client = createClient(serviceDefinitions.resolver, channel);
    await configWatcher.kill();
    // Wait for the config view itself to go stale: the weight view may go stale first (the
    // weight-calculator relays that it lost the same config-watcher), and `degraded()` is true then.
    await waitFor(() => state.config.state.stale, { timeoutMs: 10_000, message: 'config view stale after the config-watcher died' });
    const res = await client.resolve({ queryId: 1n, clientIp: '1.0.8.1', domain: 'music.demo.example' });
    expect(res.answers).toHaveLength(1);
    expect(res.degraded).toBe(true);
    // A stream batch reads the staleness once for all its decisions: every one is marked.
    const batch = async function* () {
      yield { queries: Array.from({ length: 6 }, (_, i) => ({ queryId: BigInt(i + 1), clientIp: '1.0.8.1', domain: 'music.demo.example', compact: i % 2 === 0 })) };
    };
    const degraded: boolean[] = [];
    for await (const b of client.resolveStream(batch())) {
      for (const d of b.decisions) degraded.push(d.result.case === 'response' && d.result.value.degraded);
    }
    expect(degraded).toEqual([true, true, true, true, true, true]);
    expect(state.degraded()).toBe(true);
    const reasons = state.reasons();
    expect(reasons.filter((r) => r.startsWith('config-watcher '))).toEqual([expect.stringMatching(/^config-watcher 127\.0\.0\.1:\d+ unreachable for \d+ s .*answering from last-known-good state$/)]);
    // Any other reason names its own upstream.
    for (const r of reasons) expect(r).toMatch(/^(config-watcher|weight-calculator) /);
  });
});
