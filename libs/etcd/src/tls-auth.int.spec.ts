import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createTestPki, repoRoot, startEtcdCluster, waitFor, type EtcdCluster, type TestCert, type TestPki } from '@cdn-sched/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createElection, createEtcdClient, createReflector, grantLease, toText, type EtcdClient, type EtcdClientOptions } from './index.js';

const run = promisify(execFile);

describe('TLS with client certificates, users and least-privilege roles (three-member cluster)', () => {
  let pki: TestPki;
  let foreign: TestPki;
  let cluster: EtcdCluster;
  const certs: Record<string, TestCert> = {};
  const clients: EtcdClient[] = [];
  let passwordDir: string;

  const ca = (): Buffer => readFileSync(pki.caFile);
  const connect = (o: Partial<EtcdClientOptions> & { cert?: TestCert }): EtcdClient => {
    const cert = o.cert ?? certs['anonymous']!;
    const client = createEtcdClient({
      endpoints: cluster.endpoints,
      callTimeoutMs: 3000,
      tls: { ca: ca(), cert: readFileSync(cert.certFile), key: readFileSync(cert.keyFile), ...o.tls },
      ...(o.auth ? { auth: o.auth } : {}),
    });
    clients.push(client);
    return client;
  };
  const password = (user: string): string => readFileSync(join(passwordDir, user), 'utf8');

  beforeAll(async () => {
    pki = await createTestPki();
    foreign = await createTestPki('someone-else');
    const server = await pki.server('etcd');
    for (const cn of ['root', 'anonymous', 'config-watcher', 'prober', 'weight-calculator', 'cdnctl']) certs[cn] = await pki.client(cn);
    cluster = await startEtcdCluster({ tls: { caFile: pki.caFile, certFile: server.certFile, keyFile: server.keyFile, clientCertAuth: true } });
    passwordDir = join(pki.dir, 'passwords');
    // The deploy script, as an operator runs it: etcdctl over TLS, as root (its certificate's CN).
    const env = {
      ...process.env,
      ETCDCTL_ENDPOINTS: cluster.endpoints.join(','),
      ETCDCTL_CACERT: pki.caFile,
      ETCDCTL_CERT: certs['root']!.certFile,
      ETCDCTL_KEY: certs['root']!.keyFile,
    };
    const script = join(repoRoot, 'deploy/etcd/roles.sh');
    const first = await run(script, ['--prefix', '/cdn/', '--password-dir', passwordDir, '--enable-auth'], { env });
    expect(first.stdout).toContain('config-watcher prober weight-calculator cdnctl');
    // Re-running (auth now on; root by certificate) keeps everything.
    await run(script, ['--prefix', '/cdn/', '--password-dir', passwordDir], { env });
  }, 120_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    await cluster?.stop();
    await pki?.remove();
    await foreign?.remove();
  });

  it('talks TLS to every member with the right CA and a client certificate', async () => {
    const root = connect({ cert: certs['root'] });
    await root.put('/tls/a', '1');
    expect(toText((await root.get('/tls/a'))!.value)).toBe('1');
    expect(root.endpoints.every((e) => e.startsWith('https://'))).toBe(true);
  });

  it('names the cause: a CA that did not sign the server certificate', async () => {
    const wrongCa = connect({ cert: certs['root'], tls: { ca: readFileSync(foreign.caFile) } });
    const error = await wrongCa.get('/tls/a').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'TLS' });
    expect((error as Error).message).toMatch(/TLS handshake with etcd failed \(check ETCD_CA_FILE/);
    expect((error as Error).message).toMatch(/certificate/i);
  });

  it('names the cause: an expired client certificate (refused by etcd, and at startup by the settings check)', async () => {
    const expired = await pki.client('root', { expired: true });
    const client = connect({ cert: expired });
    const error = await client.get('/tls/a').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'TLS' });
    expect((error as Error).message).toMatch(/certificate/i);
  });

  it('names the cause: a wrong password', async () => {
    const client = connect({ auth: { username: 'cdnctl', password: 'not-the-password' } });
    const error = await client.get('/cdn/nodes/x').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'AUTH_FAILED' });
    expect((error as Error).message).toMatch(/etcd refused the user name or password \(ETCD_USERNAME \/ ETCD_PASSWORD\)/);
  });

  it('cdnctl (password) writes documents and nothing else', async () => {
    const c = connect({ auth: { username: 'cdnctl', password: password('cdnctl') } });
    await c.put('/cdn/nodes/n1', '{"id":"n1"}');
    await c.put('/cdn/domains/d.example', '{}');
    const res = await c.etcd.if('/cdn/nodes/n1', 'Value', '==', '{"id":"n1"}').then(c.etcd.put('/cdn/nodes/n1').value('{"id":"n1","state":"drain"}')).commit();
    expect(res.succeeded).toBe(true);
    expect((await c.list('/cdn/')).kvs.map((kv) => kv.key)).toEqual(['/cdn/domains/d.example', '/cdn/nodes/n1']);
    const denied = await c.put('/cdn/weights/n1', '{}').catch((e: unknown) => e);
    expect(denied).toMatchObject({ code: 'PERMISSION_DENIED' });
    expect((denied as Error).message).toMatch(/^put \/cdn\/weights\/n1: permission denied by etcd \(the etcd user's role does not allow this\)/);
  });

  it('config-watcher (client certificate as its user) reads and watches /cdn/, writes its heartbeat, nothing else', async () => {
    const c = connect({ cert: certs['config-watcher'] });
    const seen = new Map<string, string>();
    const reflector = createReflector({
      client: c,
      prefix: '/cdn/',
      onSnapshot: (kvs) => kvs.forEach((kv) => seen.set(kv.key, toText(kv.value))),
      onEvents: (events) => events.forEach((e) => (e.type === 'put' ? seen.set(e.kv.key, toText(e.kv.value)) : seen.delete(e.kv.key))),
    });
    try {
      await c.put('/cdn/heartbeat/cw-1', 'beat');
      await waitFor(() => seen.get('/cdn/heartbeat/cw-1') === 'beat', { message: 'own heartbeat through the watch' });
      expect(seen.has('/cdn/nodes/n1')).toBe(true);
      await expect(c.put('/cdn/nodes/n2', '{}')).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
      await expect(c.put('/cdn/weights/n1', '{}')).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    } finally {
      await reflector.close();
    }
  });

  it('prober registers its leased membership key and watches its peers, nothing else', async () => {
    const c = connect({ auth: { username: 'prober', password: password('prober') } });
    const lease = await grantLease(c, { ttlS: 5 });
    await c.put('/cdn/members/prober/p1', '{}', { lease: lease.id });
    const members: string[] = [];
    const reflector = createReflector({ client: c, prefix: '/cdn/members/prober/', onSnapshot: (kvs) => members.push(...kvs.map((kv) => kv.key)), onEvents: () => undefined });
    try {
      await waitFor(() => members.includes('/cdn/members/prober/p1'), { message: 'membership listed' });
      await expect(c.put('/cdn/nodes/n1', '{}')).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
      await expect(c.list('/cdn/nodes/')).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    } finally {
      await reflector.close();
      await lease.revoke();
    }
    const root = connect({ cert: certs['root'] });
    expect(await root.get('/cdn/members/prober/p1')).toBeUndefined();
  });

  it('weight-calculator wins its election and persists weights, nothing else', async () => {
    const c = connect({ auth: { username: 'weight-calculator', password: password('weight-calculator') } });
    const election = createElection({ client: c, prefix: '/cdn/election/weight-calculator', candidateId: 'wc-1', ttlS: 2 });
    try {
      await waitFor(() => election.isLeader, { timeoutMs: 10_000, message: 'leader' });
      await c.put('/cdn/weights/n1', '{"weight":10}');
      expect((await c.list('/cdn/weights/')).kvs).toHaveLength(1);
      await expect(c.put('/cdn/nodes/n1', '{}')).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    } finally {
      await election.close();
    }
  });
});
