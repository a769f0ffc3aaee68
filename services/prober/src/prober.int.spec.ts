import { createEtcdClient, type EtcdClient } from '@cdn-sched/etcd';
import { ProbeErrorClass, serviceDefinitions, type ProbeResult } from '@cdn-sched/proto';
import {
  activeHandleCount,
  createFakeFleet,
  startEtcd,
  startGrpcServer,
  startServiceProcess,
  startTcpProxy,
  waitFor,
  type EtcdProcess,
  type FakeFleet,
  type ServiceProcess,
  type TestGrpcServer,
} from '@cdn-sched/testing';
import type { ServiceImplementation } from 'nice-grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProber } from './index.js';

/** A weight-calculator stand-in that records every result it is sent (a real gRPC server). */
function createSink() {
  const results: { proberId: string; at: number; result: ProbeResult }[] = [];
  const service: ServiceImplementation<typeof serviceDefinitions.weightCalculator> = {
    async *reportProbes(requests) {
      for await (const batch of requests) {
        for (const result of batch.results) results.push({ proberId: batch.proberId, at: Date.now(), result });
        yield { seq: batch.seq, accepted: batch.results.length };
      }
    },
    async *watchWeights() {},
    async status() {
      return {};
    },
  };
  return {
    results,
    service,
    since(t: number) {
      return results.filter((r) => r.at >= t);
    },
    /** node id -> prober ids that reported it since `t`. */
    coverage(t: number): Map<string, Set<string>> {
      const m = new Map<string, Set<string>>();
      for (const r of results) {
        if (r.at < t) continue;
        if (!m.has(r.result.nodeId)) m.set(r.result.nodeId, new Set());
        m.get(r.result.nodeId)!.add(r.proberId);
      }
      return m;
    },
  };
}

const nodeDoc = (fleet: FakeFleet, id: string, extra: Record<string, unknown> = {}) => {
  const n = fleet.node(id);
  return JSON.stringify({
    id,
    address: n.address,
    port: n.port,
    country: 'CN',
    region: 'CN-GD',
    isp: 'ct',
    capacity: 1000,
    state: 'active',
    pools: ['music'],
    probe: { type: 'http', path: n.path, intervalMs: 300, timeoutMs: 250 },
    ...extra,
  });
};

describe('prober (real etcd, config-watcher process, fake fleet, gRPC sink)', () => {
  let etcd: EtcdProcess;
  let etcdClient: EtcdClient;
  let configWatcher: ServiceProcess;
  let configTarget: string;
  let fleet: FakeFleet;
  let sinkServer: TestGrpcServer;
  const sink = createSink();
  const prefix = '/cdn/';

  beforeAll(async () => {
    etcd = await startEtcd();
    etcdClient = createEtcdClient({ endpoints: [etcd.endpoint] });
    configWatcher = await startServiceProcess({
      service: 'config-watcher',
      env: { ETCD_ENDPOINTS: etcd.endpoint, GRPC_PORT: '0', METRICS_PORT: '0', PROGRESS_INTERVAL_MS: '200' },
    });
    configTarget = String((await configWatcher.waitForLog('config-watcher listening'))['grpc']);
    fleet = await createFakeFleet({ count: 12, mode: 'listeners' });
    sinkServer = await startGrpcServer((s) => s.add(serviceDefinitions.weightCalculator, sink.service));
  });
  afterAll(async () => {
    await sinkServer?.close();
    await fleet?.close();
    await configWatcher?.stop();
    etcdClient?.close();
    await etcd?.stop();
  });

  it('probes new nodes at once, reschedules changes, stops on removal and maintenance, keeps drain', async () => {
    const prober = createProber({ proberId: 'solo', configTarget, weightTargets: [sinkServer.address] });
    try {
      const t0 = Date.now();
      await etcdClient.put(`${prefix}nodes/edge-0`, nodeDoc(fleet, 'edge-0'));
      await etcdClient.put(`${prefix}nodes/edge-1`, nodeDoc(fleet, 'edge-1'));
      await waitFor(() => ['edge-0', 'edge-1'].every((id) => sink.since(t0).some((r) => r.result.nodeId === id)), { timeoutMs: 10_000, message: 'first probe of the new nodes' });
      // Cold start: the first result arrives well before a whole interval would have passed twice.
      const first = sink.since(t0).find((r) => r.result.nodeId === 'edge-0')!;
      expect(first.at - t0).toBeLessThan(1500);
      expect(first.result.ok).toBe(true);

      await etcdClient.put(`${prefix}nodes/edge-1`, nodeDoc(fleet, 'edge-1', { state: 'drain' }));
      await etcdClient.put(`${prefix}nodes/edge-0`, nodeDoc(fleet, 'edge-0', { state: 'maintenance' }));
      await new Promise((r) => setTimeout(r, 400));
      const t1 = Date.now();
      await new Promise((r) => setTimeout(r, 1200));
      const after = sink.since(t1);
      expect(after.filter((r) => r.result.nodeId === 'edge-0')).toHaveLength(0);
      expect(after.filter((r) => r.result.nodeId === 'edge-1').length).toBeGreaterThanOrEqual(2);

      // Interval change reschedules: 300 ms -> 100 ms roughly triples the rate.
      await etcdClient.put(`${prefix}nodes/edge-1`, nodeDoc(fleet, 'edge-1', { probe: { type: 'http', path: fleet.node('edge-1').path, intervalMs: 100, timeoutMs: 80 } }));
      await new Promise((r) => setTimeout(r, 300));
      const t2 = Date.now();
      await new Promise((r) => setTimeout(r, 1000));
      expect(sink.since(t2).filter((r) => r.result.nodeId === 'edge-1').length).toBeGreaterThanOrEqual(6);

      await etcdClient.delete(`${prefix}nodes/edge-1`);
      await new Promise((r) => setTimeout(r, 300));
      const t3 = Date.now();
      await new Promise((r) => setTimeout(r, 600));
      expect(sink.since(t3).filter((r) => r.result.nodeId === 'edge-1')).toHaveLength(0);
      expect(prober.scheduler.stats().targets).toBe(0);
    } finally {
      await prober.close();
      await etcdClient.deletePrefix(`${prefix}nodes/`);
    }
  });

  it('reports failing edges with the right class and parses the load figure', async () => {
    const prober = createProber({ proberId: 'classes', configTarget, weightTargets: [sinkServer.address] });
    const ids = ['edge-2', 'edge-3', 'edge-4', 'edge-5', 'edge-6'];
    try {
      await fleet.setHealth('edge-2', 'http500');
      await fleet.setHealth('edge-3', 'timeout');
      await fleet.setHealth('edge-4', 'refused');
      await fleet.setHealth('edge-5', 'badBody');
      fleet.setLoad('edge-6', 0.42);
      const t0 = Date.now();
      for (const id of ids) await etcdClient.put(`${prefix}nodes/${id}`, nodeDoc(fleet, id));
      const last = (id: string) => sink.since(t0).filter((r) => r.result.nodeId === id).at(-1)?.result;
      await waitFor(() => ids.every((id) => last(id)), { timeoutMs: 10_000, message: 'results of every failing node' });
      expect(last('edge-2')).toMatchObject({ ok: false, errorClass: ProbeErrorClass.HTTP_STATUS, statusCode: 500 });
      expect(last('edge-3')).toMatchObject({ ok: false, errorClass: ProbeErrorClass.TIMEOUT });
      expect(last('edge-3')!.totalMs).toBeGreaterThanOrEqual(200);
      expect(last('edge-4')).toMatchObject({ ok: false, errorClass: ProbeErrorClass.REFUSED });
      expect(last('edge-5')).toMatchObject({ ok: false, errorClass: ProbeErrorClass.BAD_BODY });
      expect(last('edge-6')).toMatchObject({ ok: true });
      expect(last('edge-6')!.load).toBeCloseTo(0.42);
    } finally {
      await prober.close();
      for (const id of ids) await fleet.setHealth(id, 'up');
      fleet.setLoad('edge-6', null);
      await etcdClient.deletePrefix(`${prefix}nodes/`);
    }
  });

  it('splits the fleet between 2 and 3 prober processes with R=2, and covers a SIGKILLed prober within TTL + interval', async () => {
    const ids = fleet.nodes.map((n) => n.id);
    for (const id of ids) await etcdClient.put(`${prefix}nodes/${id}`, nodeDoc(fleet, id));
    const env = (id: string) => ({
      ETCD_ENDPOINTS: etcd.endpoint,
      CONFIG_WATCHER: configTarget,
      WEIGHT_CALCULATORS: sinkServer.address,
      GRPC_PORT: '0',
      METRICS_PORT: '0',
      INSTANCE_ID: id,
      MEMBER_TTL_S: '2',
      REPLICATION_FACTOR: '2',
    });
    const probers: ServiceProcess[] = [];
    try {
      probers.push(await startServiceProcess({ service: 'prober', env: env('p1') }));
      probers.push(await startServiceProcess({ service: 'prober', env: env('p2') }));
      await waitFor(() => { const c = sink.coverage(Date.now() - 2000); return ids.every((id) => c.get(id)?.size === 2); }, { timeoutMs: 20_000, message: 'every node seen by both of 2 probers' });

      probers.push(await startServiceProcess({ service: 'prober', env: env('p3') }));
      // Judged over a sliding window of about six probe intervals: while the assignment moves, a node
      // may briefly be reported by three probers; once it settles, by exactly two, p3 among them.
      let share: number[] = [];
      await waitFor(
        () => {
          const c3 = sink.coverage(Date.now() - 2000);
          share = ['p1', 'p2', 'p3'].map((p) => ids.filter((id) => c3.get(id)?.has(p)).length);
          return ids.every((id) => c3.get(id)?.size === 2) && Math.min(...share) > 0;
        },
        { timeoutMs: 20_000, message: 'every node seen by exactly 2 of 3 probers, each prober with a share' },
      );
      expect(share.reduce((a, b) => a + b, 0)).toBe(ids.length * 2);

      const killedAt = Date.now();
      await probers[0]!.kill();
      // Lease TTL 2 s + one 300 ms interval + a margin for the watch, the first probe and a loaded machine.
      await waitFor(
        () => {
          const c = sink.coverage(Date.now() - 700);
          return ids.every((id) => c.get(id)?.size === 2 && !c.get(id)!.has('p1'));
        },
        { timeoutMs: 2000 + 300 + 6000, message: 'survivors cover every node twice' },
      );
      console.log(`prober SIGKILL -> full coverage by survivors in ${Date.now() - killedAt} ms (TTL 2000 ms, interval 300 ms)`);
    } finally {
      for (const p of probers) await p.stop();
      await etcdClient.deletePrefix(`${prefix}nodes/`);
    }
    // Three prober processes start one after another: generous for a loaded machine.
  }, 150_000);

  it('shuts down gracefully on SIGTERM: exit 0 within the bound and its membership lease released at once', async () => {
    const p = await startServiceProcess({
      service: 'prober',
      env: { ETCD_ENDPOINTS: etcd.endpoint, CONFIG_WATCHER: configTarget, WEIGHT_CALCULATORS: sinkServer.address, GRPC_PORT: '0', METRICS_PORT: '0', INSTANCE_ID: 'graceful', MEMBER_TTL_S: '30' },
    });
    await waitFor(async () => (await etcdClient.get(`${prefix}members/prober/graceful`)) !== undefined, { timeoutMs: 10_000, message: 'registered' });
    const t0 = Date.now();
    expect(await p.stop()).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
    // Revoked, not left to expire after its 30 s TTL.
    expect(await etcdClient.get(`${prefix}members/prober/graceful`)).toBeUndefined();
  });

  it('its membership lease revoked, then expired while cut off from etcd: says so in /readyz meanwhile, registered again after each', async () => {
    const key = `${prefix}members/prober/leased`;
    const leaseOf = async (): Promise<string | undefined> => {
      const { kvs } = await etcdClient.etcd.kv.range({ key: Buffer.from(key) });
      return kvs[0]?.lease;
    };
    const etcdPort = Number(new URL(etcd.endpoint).port);
    const proxy = await startTcpProxy({ targetPort: etcdPort });
    const p = await startServiceProcess({
      service: 'prober',
      env: { ETCD_ENDPOINTS: proxy.endpoint, CONFIG_WATCHER: configTarget, WEIGHT_CALCULATORS: sinkServer.address, GRPC_PORT: '0', METRICS_PORT: '0', INSTANCE_ID: 'leased', MEMBER_TTL_S: '2' },
    });
    try {
      const metricsUrl = String((await p.waitForLog('metrics server listening'))['metrics']);
      const readyz = async (): Promise<{ ready: boolean; reasons: string[] }> => (await fetch(`${metricsUrl}/readyz`)).json() as Promise<{ ready: boolean; reasons: string[] }>;
      const unregistered = 'not registered in etcd (membership lease missing)';
      // The lost membership is a reason in /readyz (the prober keeps probing its last assignment and
      // its gRPC port keeps serving Status, so it does not leave its Service).
      const registeredPerReadyz = async (): Promise<boolean> => !(await readyz()).reasons.includes(unregistered);
      await waitFor(async () => (await leaseOf()) !== undefined && (await registeredPerReadyz()), { timeoutMs: 20_000, message: 'registered' });

      // 1. An operator (or etcd itself) revokes the lease: the key goes with it, and the prober,
      //    told by its keep-alive that the lease is gone, registers again under a new lease.
      const first = (await leaseOf())!;
      await etcdClient.etcd.leaseClient.leaseRevoke({ ID: first });
      expect(await leaseOf()).toBeUndefined();
      await waitFor(async () => ((await leaseOf()) ?? first) !== first, { timeoutMs: 20_000, message: 'registered again under a new lease after a revoke' });
      await waitFor(registeredPerReadyz, { timeoutMs: 10_000, message: '/readyz without the membership reason after the revoke' });

      // 2. Cut off from etcd (calls hang) for longer than the TTL: etcd expires the lease and deletes
      //    the key (the other probers take its nodes); the prober says so in /readyz, and registers
      //    again once etcd is reachable.
      const second = (await leaseOf())!;
      await proxy.setMode('blackhole');
      proxy.cutConnections();
      await waitFor(async () => (await leaseOf()) === undefined, { timeoutMs: 20_000, message: 'etcd expired the membership of the cut-off prober' });
      await waitFor(async () => !(await registeredPerReadyz()), { timeoutMs: 30_000, message: 'the cut-off prober reports its lost membership in /readyz' });
      expect(p.exited).toBe(false);
      await proxy.setMode('pass');
      await waitFor(async () => ((await leaseOf()) ?? second) !== second, { timeoutMs: 30_000, message: 'registered again under a new lease once etcd is reachable' });
      await waitFor(registeredPerReadyz, { timeoutMs: 20_000, message: '/readyz without the membership reason once registered again' });
    } finally {
      await p.stop();
      await proxy.close();
    }
  }, 150_000);

  it('releases timers and sockets when every node is removed', async () => {
    const baseline = activeHandleCount();
    const prober = createProber({ proberId: 'leak', configTarget, weightTargets: [sinkServer.address] });
    const ids = fleet.nodes.slice(0, 8).map((n) => n.id);
    const t0 = Date.now();
    for (const id of ids) await etcdClient.put(`${prefix}nodes/${id}`, nodeDoc(fleet, id));
    await waitFor(() => ids.every((id) => sink.since(t0).some((r) => r.result.nodeId === id)), { timeoutMs: 10_000, message: 'all probed' });
    expect(prober.scheduler.stats().openSockets).toBeGreaterThan(0);
    await etcdClient.deletePrefix(`${prefix}nodes/`);
    await waitFor(() => prober.scheduler.stats().targets === 0, { message: 'targets gone' });
    await waitFor(() => prober.scheduler.stats().openSockets === 0, { timeoutMs: 10_000, message: 'pool sockets closed' });
    await prober.close();
    await waitFor(() => activeHandleCount() <= baseline, { timeoutMs: 10_000, message: `handles back to baseline ${baseline}` });
  });
});
