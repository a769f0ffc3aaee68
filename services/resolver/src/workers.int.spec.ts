import { createEtcdClient } from '@cdn-sched/etcd';
import { serviceDefinitions } from '@cdn-sched/proto';
import { getFreePort, startEtcd, startServiceProcess, waitFor, type EtcdProcess, type ServiceProcess } from '@cdn-sched/testing';
import { createChannel, createClient } from 'nice-grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

describe('resolver --workers (Node cluster sharing one gRPC port)', () => {
  let etcd: EtcdProcess;
  let configWatcher: ServiceProcess;
  let resolver: ServiceProcess;
  let port: number;

  beforeAll(async () => {
    etcd = await startEtcd();
    const client = createEtcdClient({ endpoints: [etcd.endpoint] });
    await client.put('/cdn/nodes/n1', JSON.stringify({ id: 'n1', address: '192.0.2.1', port: 443, country: 'CN', region: 'CN-GD', isp: 'ct', capacity: 100, state: 'active', pools: ['p'] }));
    await client.put('/cdn/domains/a.example', JSON.stringify({ domain: 'a.example', pool: 'p', answers: 1, ttl: 30, strategy: 'weighted', fallback: ['region', 'any'] }));
    client.close();
    configWatcher = await startServiceProcess({ service: 'config-watcher', env: { ETCD_ENDPOINTS: etcd.endpoint, GRPC_PORT: '0', METRICS_PORT: '0' } });
    const configTarget = String((await configWatcher.waitForLog('config-watcher listening'))['grpc']);
    port = await getFreePort();
    resolver = await startServiceProcess({
      service: 'resolver',
      env: { CONFIG_WATCHER: configTarget, WEIGHT_CALCULATORS: '127.0.0.1:1', GRPC_PORT: String(port), METRICS_PORT: '0', RESOLVER_WORKERS: '2', INSTANCE_ID: 'rw' },
    });
  }, 60_000);
  afterAll(async () => {
    await resolver?.kill();
    await configWatcher?.stop();
    await etcd?.stop();
  });

  it('answers from two worker processes behind one port, and stops them all on SIGTERM', async () => {
    const workers = new Set<string>();
    await waitFor(
      async () => {
        // gRPC balances per connection: each new channel is a new connection, handed to a worker in turn.
        const channel = createChannel(`127.0.0.1:${port}`);
        try {
          const client = createClient(serviceDefinitions.resolver, channel);
          const res = await client.resolve({ clientIp: '1.0.8.1', domain: 'a.example' }, { signal: AbortSignal.timeout(2000) });
          expect(res.answers[0]?.nodeId).toBe('n1');
          workers.add((await client.status({})).instanceId);
        } finally {
          channel.close();
        }
        return workers.size === 2;
      },
      { timeoutMs: 20_000, message: 'answers from both workers' },
    );
    expect([...workers].sort()).toEqual(['rw-w0', 'rw-w1']);
    expect(await resolver.stop()).toBe(0);
  });
});
