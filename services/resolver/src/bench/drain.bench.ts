/**
 * Benchmark: a node drained in etcd → no longer answered by the resolver (target: p99 ≤ 100 ms).
 * Real etcd, config-watcher and weight-calculator processes, the resolver's routing state and gRPC
 * service in this process. Each trial drains one of two equal nodes with an etcd put and asks
 * ResolveStream (a batch of 20 decisions for a client of theirs) until the node is absent, then
 * undrains it. The integration test checks only that every drain takes effect; this measures how
 * fast, and is meant for a quiet machine (`npm run bench` runs one bench at a time).
 *
 * Run: `cd services/resolver && npx tsc -b tsconfig.lib.json && node dist/bench/drain.bench.js`
 * (needs etcd and the built config-watcher and weight-calculator). Environment: BENCH_TRIALS (100).
 * Prints one JSON line per measurement.
 */
import { createEtcdClient } from '@cdn-sched/etcd';
import { createGeoIpProvider } from '@cdn-sched/geoip';
import { serviceDefinitions } from '@cdn-sched/proto';
import { startEtcd, startGrpcServer, waitFor } from '@cdn-sched/testing';
import { createChannel, createClient } from 'nice-grpc';
import { startControlPlane, type Cleanups } from './bench-processes.js';
import { createResolveCore, createResolverService, createRoutingState, resolverServiceDefinition } from '../index.js';

const TRIALS = Number(process.env['BENCH_TRIALS'] ?? 100);
const BENCH = 'resolver drain';
const DOMAIN = 'music.bench.example';
const nodeDoc = (id: string, address: string, state = 'active'): string =>
  JSON.stringify({ id, address, port: 443, country: 'CN', region: 'CN-GD', isp: 'ct', capacity: 1000, state, pools: ['music'] });
const NODES: Record<string, string> = { 'gd-ct-1': '192.0.2.11', 'gd-ct-2': '192.0.2.12' };

const emit = (metric: string, value: number, unit: string, target?: string): void =>
  console.log(JSON.stringify({ bench: BENCH, metric, value: Math.round(value * 100) / 100, unit, ...(target ? { target } : {}) }));

const etcd = await startEtcd();
const etcdClient = createEtcdClient({ endpoints: [etcd.endpoint] });
const cleanups: Cleanups = [() => etcd.stop(), () => etcdClient.close()];
try {
  for (const [id, address] of Object.entries(NODES)) await etcdClient.put(`/cdn/nodes/${id}`, nodeDoc(id, address));
  await etcdClient.put(`/cdn/domains/${DOMAIN}`, JSON.stringify({ domain: DOMAIN, pool: 'music', answers: 1, ttl: 60, strategy: 'weighted', fallback: ['isp+region', 'any'] }));
  const { configTarget, weightTarget } = await startControlPlane(etcd.endpoint, cleanups);
  const geo = await createGeoIpProvider();
  cleanups.unshift(() => geo.close());
  const state = createRoutingState({ consumerId: 'drain-bench', configTarget, weightTargets: [weightTarget] });
  cleanups.unshift(() => state.close());
  const core = createResolveCore({ table: () => state.table, geo: () => geo.database, stale: () => state.degraded(), seed: 1 });
  const server = await startGrpcServer((s) => s.add(resolverServiceDefinition, createResolverService({ core, state, instanceId: 'bench', maxBatch: 100 })));
  cleanups.unshift(() => server.close());
  const channel = createChannel(server.address);
  cleanups.unshift(() => channel.close());
  const client = createClient(serviceDefinitions.resolver, channel);
  await state.ready();
  await waitFor(() => state.table !== undefined && state.table.weightsVersion > 0n, { timeoutMs: 20_000, message: 'weights arrived' });

  const answered = async (id: string): Promise<boolean> => {
    let seen = false;
    async function* one() {
      yield { queries: Array.from({ length: 20 }, (_, i) => ({ queryId: BigInt(i + 1), clientIp: '1.0.8.1', domain: DOMAIN })) };
    }
    for await (const b of client.resolveStream(one())) {
      seen ||= b.decisions.some((d) => d.result.case === 'response' && d.result.value.answers.some((a) => a.nodeId === id));
    }
    return seen;
  };
  const delays: number[] = [];
  for (let trial = 0; trial < TRIALS; trial++) {
    const id = trial % 2 === 0 ? 'gd-ct-1' : 'gd-ct-2';
    await waitFor(() => answered(id), { timeoutMs: 10_000, message: `${id} answered before the drain` });
    const t0 = performance.now();
    await etcdClient.put(`/cdn/nodes/${id}`, nodeDoc(id, NODES[id]!, 'drain'));
    while (await answered(id)) {
      if (performance.now() - t0 > 10_000) throw new Error(`${id} still answered 10 s after the drain`);
    }
    delays.push(performance.now() - t0);
    await etcdClient.put(`/cdn/nodes/${id}`, nodeDoc(id, NODES[id]!));
  }
  delays.sort((a, b) => a - b);
  const q = (p: number): number => delays[Math.min(delays.length - 1, Math.ceil(p * delays.length) - 1)]!;
  emit(`drained in etcd -> gone from answers, p50 (${TRIALS} trials)`, q(0.5), 'ms');
  emit(`drained in etcd -> gone from answers, p99 (${TRIALS} trials)`, q(0.99), 'ms', 'p99 <= 100 ms');
  emit('drained in etcd -> gone from answers, max', delays.at(-1)!, 'ms');
} finally {
  for (const c of cleanups) await c();
}
