import { startEtcd, startTcpProxy, waitFor, type EtcdProcess } from '@cdn-sched/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createElection, createEtcdClient, grantLease, type EtcdClient } from './index.js';

describe('leader election and leases (real etcd)', () => {
  let etcd: EtcdProcess;
  let client: EtcdClient;
  beforeAll(async () => {
    etcd = await startEtcd();
    client = createEtcdClient({ endpoints: [etcd.endpoint] });
  });
  afterAll(async () => {
    client.close();
    await etcd.stop();
  });

  it('keeps a leased key alive and deletes it on revoke', async () => {
    const lease = await grantLease(client, { ttlS: 1 });
    await client.put('/lease/k', 'v', { lease: lease.id });
    await new Promise((r) => setTimeout(r, 2500));
    expect((await client.get('/lease/k'))?.lease).toBe(lease.id);
    await lease.revoke();
    expect(await client.get('/lease/k')).toBeUndefined();
  });

  it('elects one leader, hands over on resignation and on lease expiry', async () => {
    const prefix = '/election/test';
    const a = createElection({ client, prefix, candidateId: 'a', ttlS: 2 });
    await waitFor(() => a.isLeader, { message: 'a leads' });
    const b = createElection({ client, prefix, candidateId: 'b', ttlS: 2 });
    await waitFor(() => b.leaderId === 'a', { message: 'b sees a' });
    expect(b.isLeader).toBe(false);
    await a.close();
    await waitFor(() => b.isLeader, { message: 'b leads after a resigns' });

    await b.close();

    // A leader that dies without resigning (its network cut: keep-alives stop): its lease expires
    // and the next candidate takes over within the TTL plus a watch round trip.
    const proxy = await startTcpProxy({ targetPort: etcd.clientPort });
    const viaProxy = createEtcdClient({ endpoints: [proxy.endpoint] });
    const d = createElection({ client: viaProxy, prefix, candidateId: 'd', ttlS: 2 });
    await waitFor(() => d.isLeader, { message: 'd leads' });
    const e = createElection({ client, prefix, candidateId: 'e', ttlS: 2 });
    await waitFor(() => e.leaderId === 'd', { message: 'e sees d' });
    const cutAt = Date.now();
    await proxy.setMode('refuse');
    await waitFor(() => e.isLeader, { timeoutMs: 10_000, message: 'e leads after d is cut off' });
    const failoverMs = Date.now() - cutAt;
    // TTL 2 s plus margin for a loaded machine.
    expect(failoverMs).toBeLessThan(2000 + 3000);
    await e.close();
    await d.close();
    viaProxy.close();
    await proxy.close();
  });
});
