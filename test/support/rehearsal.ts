import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createEtcdClient, type EtcdClient } from '@cdn-sched/etcd';
import { nodeDocument, type DomainDoc, type EdgeSpec } from '@cdn-sched/local-mesh';
import { serviceDefinitions, type StatusResponse } from '@cdn-sched/proto';
import { createTestPki, repoRoot, startEtcdCluster, startFleetProcess, startServiceProcess, waitFor, type EtcdCluster, type FakeHealth, type FleetProcess, type ServiceProcess, type TestCert, type TestPki } from '@cdn-sched/testing';
import { createTransport, type Transport } from '@cdn-sched/transport';
import { createClient, type Channel } from 'nice-grpc';
import { parseAllDocuments } from 'yaml';
import { createHostNetwork, type Host, type HostNetwork } from './host-network.js';
import { DOMAINS, EDGES } from './topology.js';

/**
 * The production topology on one machine: three etcd members, each on a host of its own (client
 * traffic on the main network, raft on a separate peer network, TLS on both, client certificates
 * required), and three service hosts running the services with the `prod` overlay's settings and
 * mutual TLS, bound to their hosts' addresses, finding each other by the Kubernetes Service names
 * (each host's /etc/hosts maps them to the hosts that run them, as cluster DNS would).
 *
 *   h1: config-watcher, weight-calculator-1, resolver-1, dns-gateway
 *   h2: weight-calculator-2, prober-1, resolver-2
 *   h3: prober-2
 */

/** Kinds of service with a gRPC server (the dns-gateway has none). */
export type RehearsalKind = 'config-watcher' | 'prober' | 'weight-calculator' | 'resolver' | 'dns-gateway';

const DEFINITION_KEY = { 'config-watcher': 'configWatcher', prober: 'prober', 'weight-calculator': 'weightCalculator', resolver: 'resolver' } as const;

/** Where each instance runs. */
export const PLACEMENT: readonly { name: string; kind: RehearsalKind; host: string }[] = [
  { name: 'config-watcher-1', kind: 'config-watcher', host: 'h1' },
  { name: 'weight-calculator-1', kind: 'weight-calculator', host: 'h1' },
  { name: 'weight-calculator-2', kind: 'weight-calculator', host: 'h2' },
  { name: 'prober-1', kind: 'prober', host: 'h2' },
  { name: 'prober-2', kind: 'prober', host: 'h3' },
  { name: 'resolver-1', kind: 'resolver', host: 'h1' },
  { name: 'resolver-2', kind: 'resolver', host: 'h2' },
  { name: 'dns-gateway-1', kind: 'dns-gateway', host: 'h1' },
];

const SVC = (kind: string): string => `${kind}.cdn-sched.svc.cluster.local`;
const ETCD_MEMBER = (i: number): string => `etcd-${i}.etcd.etcd.svc.cluster.local`;

/** One service instance on its host. */
export interface RehearsalService {
  readonly kind: RehearsalKind;
  readonly name: string;
  readonly host: Host;
  /** `<host address>:<grpc port>` (DNS port for the dns-gateway). */
  readonly address: string;
  /** `http://<host address>:<metrics port>`. */
  readonly metricsUrl: string;
  readonly running: boolean;
  readonly process: ServiceProcess;
  start(): Promise<void>;
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Status RPC (not for the dns-gateway), with a 3 s deadline. */
  status(): Promise<StatusResponse>;
  /** Polls Status (the dns-gateway: /readyz) until ready; with `healthy`, until it gives no reason. */
  waitReady(options?: { healthy?: boolean; timeoutMs?: number }): Promise<void>;
}

/** Options of {@link startRehearsal}. */
export interface RehearsalOptions {
  /** Probe interval of the node documents and the probers, milliseconds. Defaults to 1000 (prod: 5000). */
  probeIntervalMs?: number;
  /** Settings over the prod overlay's, per kind. */
  env?: Partial<Record<RehearsalKind, Record<string, string>>>;
}

export interface Rehearsal {
  readonly network: HostNetwork;
  readonly etcd: EtcdCluster;
  /** The test's own etcd client (client certificate "cdnctl"), over every member. */
  readonly etcdClient: EtcdClient;
  readonly fleet: FleetProcess;
  readonly edges: readonly EdgeSpec[];
  readonly prefix: string;
  readonly services: readonly RehearsalService[];
  service(name: string): RehearsalService;
  /** The test's mutual-TLS transport (certificate "cdnctl"). */
  readonly transport: Transport;
  /** A channel with the test's transport (closed by `close`). */
  channel(target: string): Channel;
  /** Prod settings of a kind as the overlay renders them (before the rehearsal's rewrites). */
  readonly prodEnv: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Another etcd client of the test (closed by `close`), over some members only. */
  etcdClientOf(endpoints: readonly string[]): EtcdClient;
  setEdgeHealth(id: string, health: FakeHealth): Promise<void>;
  /** Writes the node document of edge `id` (as seeded, with `overrides`) through `client` (default: the test's). */
  putNode(id: string, overrides?: Record<string, unknown>, client?: EtcdClient): Promise<number>;
  /** Stops every process, removes certificates, data dirs and the hosts. Idempotent. */
  close(): Promise<void>;
}

/** Literal `env` values of every Deployment of the rendered prod overlay, by Deployment name. */
export function renderProdEnv(): Record<string, Record<string, string>> {
  const dir = join(repoRoot, 'deploy', 'k8s', 'overlays', 'prod');
  const out = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (out.error || out.status !== 0) throw new Error(`kubectl kustomize ${dir} failed (kubectl is needed): ${out.error?.message ?? out.stderr}`);
  const env: Record<string, Record<string, string>> = {};
  for (const doc of parseAllDocuments(out.stdout)) {
    const o = doc.toJSON() as { kind?: string; metadata?: { name?: string }; spec?: { template?: { spec?: { containers?: { env?: { name: string; value?: string }[] }[] } } } };
    if (o?.kind !== 'Deployment' || !o.metadata?.name) continue;
    const vars: Record<string, string> = {};
    for (const e of o.spec?.template?.spec?.containers?.[0]?.env ?? []) if (e.value !== undefined) vars[e.name] = e.value;
    env[o.metadata.name] = vars;
  }
  return env;
}

/**
 * The prod settings of one instance with what only a cluster has replaced: certificate paths by the
 * rehearsal's files, listen addresses by the host's, the pod name by the instance name.
 */
function instanceEnv(prod: Record<string, string>, host: Host, name: string, cert: TestCert, caFile: string): Record<string, string> {
  const env: Record<string, string> = { ...prod, INSTANCE_ID: name, LOG_LEVEL: 'info' };
  const files: Record<string, string> = { TLS_CA_FILE: caFile, TLS_CERT_FILE: cert.certFile, TLS_KEY_FILE: cert.keyFile, ETCD_CA_FILE: caFile, ETCD_CERT_FILE: cert.certFile, ETCD_KEY_FILE: cert.keyFile };
  for (const [k, v] of Object.entries(files)) if (k in env) env[k] = v;
  for (const k of ['GRPC_HOST', 'METRICS_HOST', 'DNS_HOST']) if (k in env) env[k] = host.address;
  return env;
}

function createRehearsalService(kind: RehearsalKind, name: string, host: Host, env: Record<string, string>, transport: Transport, channels: Channel[]): RehearsalService {
  let current: ServiceProcess | undefined;
  let channel: Channel | undefined;
  const grpcPort = kind === 'dns-gateway' ? Number(env['DNS_PORT']) : Number(env['GRPC_PORT']);
  const address = `${host.address}:${grpcPort}`;
  const metricsUrl = `http://${host.address}:${env['METRICS_PORT']}`;
  const status = (): Promise<StatusResponse> => {
    if (kind === 'dns-gateway') throw new Error('the dns-gateway has no Status RPC');
    if (!channel) {
      channel = transport.channel(address);
      channels.push(channel);
    }
    return createClient(serviceDefinitions[DEFINITION_KEY[kind]] as typeof serviceDefinitions.resolver, channel).status({}, { signal: AbortSignal.timeout(3000) });
  };
  const waitReady = async ({ healthy = false, timeoutMs = 60_000 } = {}): Promise<void> => {
    let last = '';
    await waitFor(
      async () => {
        if (kind === 'dns-gateway') {
          try {
            const res = await fetch(`${metricsUrl}/readyz`, { signal: AbortSignal.timeout(3000) });
            last = `readyz ${res.status}: ${await res.text()}`;
            return res.status === 200;
          } catch (error) {
            last = `${metricsUrl}/readyz: ${(error as Error).message} ${String((error as { cause?: unknown }).cause ?? '')}; logs: ${current?.logs.slice(-4).map((l) => JSON.stringify(l)).join(' ')}`;
            return false;
          }
        }
        const s = await status();
        last = `ready=${s.ready} reasons=${JSON.stringify(s.reasons)}`;
        return s.ready && (!healthy || s.reasons.length === 0);
      },
      { timeoutMs, intervalMs: 100, message: `${name} ${healthy ? 'healthy' : 'ready'}` },
    ).catch((error: Error) => {
      // The last answer says why (the message above is built before the first poll).
      throw new Error(`${error.message}; last: ${last || 'none'}`);
    });
  };
  return {
    kind,
    name,
    host,
    address,
    metricsUrl,
    get running() {
      return current !== undefined && !current.exited;
    },
    get process() {
      if (!current) throw new Error(`${name} has not started`);
      return current;
    },
    async start() {
      if (current && !current.exited) throw new Error(`${name} is already running`);
      current = await startServiceProcess({ service: kind, env, wrap: host.wrap, startTimeoutMs: 150_000 });
      await waitReady();
    },
    async stop(signal = 'SIGTERM') {
      if (!current || current.exited) return;
      if (signal === 'SIGKILL') await current.kill();
      else await current.stop();
    },
    status,
    waitReady,
  };
}

/**
 * Builds the hosts, the etcd cluster and the certificates, seeds the fleet and the policies, and
 * starts every service on its host (config-watcher, weight-calculators one after the other so the
 * first leads, then probers and resolvers, then the dns-gateway), each waited for until ready. If
 * anything fails on the way, everything built so far is torn down before the error is rethrown.
 */
export async function startRehearsal(options: RehearsalOptions = {}): Promise<Rehearsal> {
  const probeIntervalMs = options.probeIntervalMs ?? 1000;
  const prefix = '/cdn/';
  const edges = EDGES;
  const domains: readonly DomainDoc[] = DOMAINS;
  const channels: Channel[] = [];
  const services: RehearsalService[] = [];
  let network: HostNetwork | undefined;
  let pki: TestPki | undefined;
  let etcd: EtcdCluster | undefined;
  let etcdClient: EtcdClient | undefined;
  let fleet: FleetProcess | undefined;
  let transport: Transport | undefined;
  let etcdClientOf: ((endpoints: readonly string[]) => EtcdClient) | undefined;
  let closeExtraClients = (): void => undefined;

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closed ??= (async () => {
      // Front to back, so no service spends its shutdown reconnecting to one already gone.
      for (const kind of ['dns-gateway', 'resolver', 'prober', 'weight-calculator', 'config-watcher'] as const) {
        await Promise.all(services.filter((s) => s.kind === kind).map((s) => s.stop().catch(() => s.stop('SIGKILL'))));
      }
      for (const c of channels) c.close();
      etcdClient?.close();
      closeExtraClients();
      transport?.close();
      await fleet?.close();
      await etcd?.stop();
      // Kills anything still running on a host, then deletes the namespaces, links and files.
      await network?.destroy();
      await pki?.remove();
    })());

  try {
    const hostNames = ['e1', 'e2', 'e3', 'h1', 'h2', 'h3'];
    const runsOn = (kind: RehearsalKind): string[] => [...new Set(PLACEMENT.filter((p) => p.kind === kind).map((p) => p.host))];
    const names: Record<string, string[]> = {};
    for (const kind of ['config-watcher', 'weight-calculator', 'resolver', 'prober'] as const) names[SVC(kind)] = runsOn(kind);
    for (let i = 0; i < 3; i++) names[ETCD_MEMBER(i)] = [`e${i + 1}`];
    network = await createHostNetwork({ hosts: hostNames.map((name) => ({ name, peer: name.startsWith('e') })), names });
    const net = network;
    const etcdHosts = ['e1', 'e2', 'e3'].map((n) => net.host(n));

    pki = await createTestPki('cdn-sched-rehearsal');
    const etcdCert = await pki.server('etcd', { ips: etcdHosts.flatMap((h) => [h.address, h.peerAddress!]), dnsNames: [0, 1, 2].map(ETCD_MEMBER) });
    const certs: Record<string, TestCert> = {};
    for (const kind of ['config-watcher', 'prober', 'weight-calculator', 'resolver', 'dns-gateway', 'cdnctl']) {
      const ips = PLACEMENT.filter((p) => p.kind === kind).map((p) => net.host(p.host).address);
      certs[kind] = await pki.server(kind, { ips, dnsNames: [kind, `${kind}.cdn-sched.svc`, SVC(kind)] });
    }
    // A prober reports under its own name, and the weight-calculator accepts that only when the
    // caller's certificate carries the name: each prober has a certificate of its own (CN = instance,
    // SANs also name the Service, for the config-watcher's allow-list).
    for (const p of PLACEMENT.filter((x) => x.kind === 'prober')) {
      certs[p.name] = await pki.server(p.name, { ips: [net.host(p.host).address], dnsNames: [p.name, 'prober', 'prober.cdn-sched.svc', SVC('prober')] });
    }
    const caFile = pki.caFile;

    etcd = await startEtcdCluster({
      hosts: etcdHosts.map((h) => ({ address: h.address, peerAddress: h.peerAddress, wrap: h.wrap })),
      tls: { caFile, certFile: etcdCert.certFile, keyFile: etcdCert.keyFile, clientCertAuth: true, peerTls: true },
      startTimeoutMs: 60_000,
    });
    const etcdTls = { ca: readFileSync(caFile), cert: readFileSync(certs['cdnctl']!.certFile), key: readFileSync(certs['cdnctl']!.keyFile) };
    const extraClients: EtcdClient[] = [];
    etcdClientOf = (endpoints) => {
      const c = createEtcdClient({ endpoints, tls: etcdTls });
      extraClients.push(c);
      return c;
    };
    closeExtraClients = () => extraClients.forEach((c) => c.close());
    etcdClient = createEtcdClient({ endpoints: etcd.endpoints, tls: etcdTls });
    transport = createTransport({ tls: { caFile, certFile: certs['cdnctl']!.certFile, keyFile: certs['cdnctl']!.keyFile } });

    // The edges listen on this namespace's address on the main network: every prober host reaches them.
    // Its own process, as in the local mesh: the test's own work must not stall the edges' answers.
    fleet = await startFleetProcess({ count: edges.length, mode: 'listeners', hosts: edges.map(() => net.gatewayAddress) });
    const theFleet = fleet;
    const pools = [...new Set(domains.map((d) => d.pool))];
    const probe = { intervalMs: probeIntervalMs, timeoutMs: Math.min(1000, Math.floor(probeIntervalMs / 2)) };
    const client = etcdClient;
    const edgeIndex = (id: string): number => {
      const i = edges.findIndex((e) => e.id === id);
      if (i < 0) throw new Error(`rehearsal: no edge ${id}`);
      return i;
    };
    const putNode = (id: string, overrides?: Record<string, unknown>, via: EtcdClient = client): Promise<number> =>
      via.put(`${prefix}nodes/${id}`, JSON.stringify(nodeDocument(edges[edgeIndex(id)]!, theFleet.nodes[edgeIndex(id)]!, pools, probe, overrides)));
    for (const e of edges) await putNode(e.id);
    for (const d of domains) await client.put(`${prefix}domains/${d.domain}`, JSON.stringify(d));

    const prodEnv = renderProdEnv();
    for (const p of PLACEMENT) {
      const prod = prodEnv[p.kind];
      if (!prod) throw new Error(`rehearsal: the prod overlay renders no Deployment ${p.kind}`);
      const env = instanceEnv(prod, net.host(p.host), p.name, certs[p.name] ?? certs[p.kind]!, caFile);
      if (p.kind === 'prober') env['PROBE_INTERVAL_MS'] = String(probeIntervalMs);
      Object.assign(env, options.env?.[p.kind]);
      services.push(createRehearsalService(p.kind, p.name, net.host(p.host), env, transport, channels));
    }
    const byName = (name: string): RehearsalService => {
      const s = services.find((x) => x.name === name);
      if (!s) throw new Error(`rehearsal: no service ${name}`);
      return s;
    };
    await byName('config-watcher-1').start();
    await byName('weight-calculator-1').start();
    await byName('weight-calculator-2').start();
    await Promise.all(services.filter((s) => s.kind === 'prober' || s.kind === 'resolver').map((s) => s.start()));
    await byName('dns-gateway-1').start();

    const theTransport = transport;
    return {
      network: net,
      etcd,
      etcdClient: client,
      fleet: theFleet,
      edges,
      prefix,
      services,
      service: byName,
      transport: theTransport,
      channel(target) {
        const c = theTransport.channel(target);
        channels.push(c);
        return c;
      },
      prodEnv,
      etcdClientOf,
      setEdgeHealth: (id, health) => theFleet.setHealth(theFleet.nodes[edgeIndex(id)]!.id, health),
      putNode,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
