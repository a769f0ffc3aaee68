import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as delay } from 'node:timers/promises';
import { createEtcdClient, toText, type EtcdClient } from '@cdn-sched/etcd';
import { createLocalMesh, type LocalMesh } from '@cdn-sched/local-mesh';
import { serviceDefinitions } from '@cdn-sched/proto';
import { createTestPki, repoRoot, startServiceProcess, waitFor, type EtcdCluster, type ServiceProcess, type TestCert, type TestPki } from '@cdn-sched/testing';
import { startEtcdCluster } from '@cdn-sched/testing';
import { createChannel, createClient, type Channel } from 'nice-grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCdnctl } from '../support/cdnctl.js';
import { E2E_TLS } from '../support/mesh.js';
import { CLIENTS, DOMAINS, EDGES, MUSIC } from '../support/topology.js';

const run = promisify(execFile);

/**
 * The whole mesh as SREs run it against a secured etcd: TLS with client certificates required,
 * auth enabled by `deploy/etcd/roles.sh`, and every service process under its own least-privilege
 * etcd user — the config-watcher authenticated by its certificate's common name, the prober and the
 * weight-calculator by user name and password file, cdnctl by password. The library tests check each
 * grant in isolation; this one proves that the grants are enough for the real processes (a missing
 * grant shows here as a service that never becomes ready or a weight never persisted) and that a
 * service under the wrong user says why it cannot work.
 */
describe('the mesh under least-privilege etcd users (TLS, client certificates, roles.sh)', () => {
  let pki: TestPki;
  let cluster: EtcdCluster;
  let mesh: LocalMesh | undefined;
  let root: EtcdClient;
  let passwordDir: string;
  const certs: Record<string, TestCert> = {};
  const channels: Channel[] = [];
  const extra: ServiceProcess[] = [];
  const edges = EDGES.filter((e) => e.region === 'CN-GD');
  // In the mutual-TLS pass of the suite, every gRPC hop is on TLS too (its own throwaway CA).
  const grpcTlsDir = E2E_TLS ? mkdtempSync(join(tmpdir(), 'cdn-sched-e2e-roles-tls-')) : undefined;
  const connect = (target: string): Channel => mesh?.tls?.transport.channel(target) ?? createChannel(target);
  const grpcTlsEnv = (name: string): Record<string, string> => mesh?.tls?.envOf(name) ?? {};

  beforeAll(async () => {
    pki = await createTestPki();
    const server = await pki.server('etcd');
    for (const cn of ['root', 'anonymous', 'config-watcher']) certs[cn] = await pki.client(cn);
    cluster = await startEtcdCluster({ size: 1, tls: { caFile: pki.caFile, certFile: server.certFile, keyFile: server.keyFile, clientCertAuth: true } });
    passwordDir = join(pki.dir, 'passwords');
    const env = {
      ...process.env,
      ETCDCTL_ENDPOINTS: cluster.endpoints.join(','),
      ETCDCTL_CACERT: pki.caFile,
      ETCDCTL_CERT: certs['root']!.certFile,
      ETCDCTL_KEY: certs['root']!.keyFile,
    };
    await run(join(repoRoot, 'deploy/etcd/roles.sh'), ['--prefix', '/cdn/', '--password-dir', passwordDir, '--enable-auth'], { env });
    const rootTls = { ca: readFileSync(pki.caFile), cert: readFileSync(certs['root']!.certFile), key: readFileSync(certs['root']!.keyFile) };
    root = createEtcdClient({ endpoints: cluster.endpoints, tls: rootTls });

    const anonymous = { ETCD_CERT_FILE: certs['anonymous']!.certFile, ETCD_KEY_FILE: certs['anonymous']!.keyFile };
    const byPassword = (user: string): Record<string, string> => ({ ...anonymous, ETCD_USERNAME: user, ETCD_PASSWORD_FILE: join(passwordDir, user) });
    mesh = await createLocalMesh({
      etcdEndpoints: cluster.endpoints.join(','),
      // The mesh seeds documents as cdnctl does, with cdnctl's user.
      connectEtcd: (endpoints) =>
        createEtcdClient({ endpoints, tls: { ca: readFileSync(pki.caFile), ...pemPair(certs['anonymous']!) }, auth: { username: 'cdnctl', password: readFileSync(join(passwordDir, 'cdnctl'), 'utf8') } }),
      commonEnv: { ETCD_CA_FILE: pki.caFile },
      env: {
        'config-watcher': { ETCD_CERT_FILE: certs['config-watcher']!.certFile, ETCD_KEY_FILE: certs['config-watcher']!.keyFile },
        prober: byPassword('prober'),
        'weight-calculator': byPassword('weight-calculator'),
      },
      edges,
      domains: DOMAINS,
      probers: 2,
      weightCalculators: 1,
      resolvers: 1,
      probeIntervalMs: 300,
      ...(grpcTlsDir ? { tlsDir: grpcTlsDir } : {}),
    });
  }, 180_000);

  afterAll(async () => {
    for (const c of channels) c.close();
    for (const p of extra) await p.stop();
    await mesh?.close();
    root?.close();
    await cluster?.stop();
    await pki?.remove();
    if (grpcTlsDir) rmSync(grpcTlsDir, { recursive: true, force: true });
  }, 60_000);

  it('runs every service under its own user: heartbeat, memberships, election and persisted weights are all written', async () => {
    const m = mesh!;
    // The config-watcher's heartbeat (its only write), the probers' leased memberships, the
    // weight-calculator's election key and the weights it persists as leader.
    await waitFor(async () => (await root.list('/cdn/heartbeat/')).kvs.length > 0, { timeoutMs: 20_000, message: 'config-watcher heartbeat written' });
    await waitFor(async () => (await root.list('/cdn/members/prober/')).kvs.length === 2, { timeoutMs: 20_000, message: 'both probers registered' });
    await waitFor(async () => (await root.list('/cdn/election/weight-calculator')).kvs.length > 0, { timeoutMs: 20_000, message: 'election key written' });
    await waitFor(
      async () => {
        const { kvs } = await root.list('/cdn/weights/');
        const persisted = new Map(kvs.map((kv) => [kv.key.slice('/cdn/weights/'.length), JSON.parse(toText(kv.value)) as { health: string; weight: number }]));
        return edges.every((e) => persisted.get(e.id)?.health === 'up' && persisted.get(e.id)!.weight > 0);
      },
      { timeoutMs: 60_000, message: 'every edge persisted UP with a positive weight by the weight-calculator' },
    );

    const ch = connect(m.resolvers[0]!.address);
    channels.push(ch);
    const resolver = createClient(serviceDefinitions.resolver, ch);
    const answer = await waitFor(
      async () => {
        const r = await resolver.resolve({ clientIp: CLIENTS.gdCt.ip, domain: MUSIC, answers: 3 });
        return r.answers.length === 3 && !r.degraded ? r : undefined;
      },
      { timeoutMs: 30_000, message: 'three Guangdong Telecom answers, not degraded' },
    );
    expect(answer.answers.map((a) => a.nodeId).sort()).toEqual(['gd-ct-1', 'gd-ct-2', 'gd-ct-3']);
  }, 120_000);

  it('cdnctl with its password drains a node, and the answers lose it; the same user cannot touch the weights', async () => {
    const m = mesh!;
    const env = {
      ETCD_ENDPOINTS: cluster.endpoints.join(','),
      ETCD_CA_FILE: pki.caFile,
      ETCD_CERT_FILE: certs['anonymous']!.certFile,
      ETCD_KEY_FILE: certs['anonymous']!.keyFile,
      ETCD_USERNAME: 'cdnctl',
      ETCD_PASSWORD_FILE: join(passwordDir, 'cdnctl'),
      CDN_PREFIX: '/cdn/',
      CONFIG_WATCHER: m.configWatcher.address,
      RESOLVER: m.resolvers[0]!.address,
      ...grpcTlsEnv('cdnctl'),
    };
    const drained = await runCdnctl(['node', 'drain', 'gd-ct-2', '--json'], env);
    expect(drained.stderr).toBe('');
    expect(drained.code).toBe(0);
    const ch = connect(m.resolvers[0]!.address);
    channels.push(ch);
    const resolver = createClient(serviceDefinitions.resolver, ch);
    await waitFor(
      async () => {
        const r = await resolver.resolve({ clientIp: CLIENTS.gdCt.ip, domain: MUSIC, answers: 3 });
        return r.answers.length === 2 && r.answers.every((a) => a.nodeId !== 'gd-ct-2');
      },
      { timeoutMs: 20_000, message: 'gd-ct-2 gone from the answers' },
    );

    // What cdnctl's user may not do, seen through the same credentials.
    const asCdnctl = m.etcdClient;
    await expect(asCdnctl.put('/cdn/weights/gd-ct-1', '{}')).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
  }, 90_000);

  it('a prober given a user without its grant keeps running, says so in /readyz and logs that etcd refused it', async () => {
    const m = mesh!;
    const wrong = await startServiceProcess({
      service: 'prober',
      env: {
        ETCD_ENDPOINTS: cluster.endpoints.join(','),
        ETCD_CA_FILE: pki.caFile,
        ETCD_CERT_FILE: certs['anonymous']!.certFile,
        ETCD_KEY_FILE: certs['anonymous']!.keyFile,
        // cdnctl may write documents, not prober memberships.
        ETCD_USERNAME: 'cdnctl',
        ETCD_PASSWORD_FILE: join(passwordDir, 'cdnctl'),
        CONFIG_WATCHER: m.configWatcher.address,
        WEIGHT_CALCULATORS: m.weightCalculators[0]!.address,
        INSTANCE_ID: 'prober-wrong-user',
        ...grpcTlsEnv('prober-wrong-user'),
        GRPC_PORT: '0',
        METRICS_PORT: '0',
      },
    });
    extra.push(wrong);
    // The prober logs each refused attempt to register (and keeps trying: a grant can be fixed live).
    const refused = await wrong.waitForLog('membership', 30_000);
    expect(String(refused['error'])).toMatch(/^.*put \/cdn\/members\/prober\/prober-wrong-user: permission denied by etcd/);
    expect(await root.get('/cdn/members/prober/prober-wrong-user')).toBeUndefined();
    expect(wrong.exited).toBe(false);
    const metricsUrl = String((await wrong.waitForLog('metrics server listening'))['metrics']);
    // Sampled across several refused attempts (one each 500 ms): a lease granted for a put etcd then
    // refuses is not a registration, not even for the moment between the grant and the refusal.
    const samples: string[][] = [];
    for (let i = 0; i < 60; i++) {
      const readyz = (await (await fetch(`${metricsUrl}/readyz`)).json()) as { ready: boolean; reasons: string[] };
      samples.push(readyz.reasons);
      await delay(25);
    }
    expect(samples.filter((reasons) => !reasons.includes('not registered in etcd (membership lease missing)'))).toEqual([]);
  }, 90_000);
});

function pemPair(cert: TestCert): { cert: Buffer; key: Buffer } {
  return { cert: readFileSync(cert.certFile), key: readFileSync(cert.keyFile) };
}
