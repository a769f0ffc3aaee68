import { createEtcdClient, type EtcdClient } from '@cdn-sched/etcd';
import { killQuietly, startEtcd, startFleetProcess, type EtcdProcess, type FakeHealth, type FleetProcess } from '@cdn-sched/local-processes';
import { startMeshDnsGateway, type MeshDnsGateway, type MeshDnsGatewayOptions } from './dns-gateway-process.js';
import { createMeshService, type MeshService, type ServiceKind } from './mesh-service.js';
import { createMeshTls, type MeshTls } from './mesh-tls.js';
import { nodeDocument, type DomainDoc, type EdgeSpec } from './mesh-topology.js';

/** Fixed ports of one service of the mesh (`npm start` uses the ports cdnctl's defaults point at). */
export interface MeshServicePorts {
  grpcPort: number;
  /** Defaults to 0 (the kernel chooses). */
  metricsPort?: number;
}

/** What the mesh has done so far, for a caller that reports its progress (cdnctl prints it). */
export type LocalMeshProgress =
  | { step: 'etcd'; endpoint: string; /** The throwaway member, when the mesh started one. */ etcd: EtcdProcess | undefined }
  | { step: 'seeded'; fleet: FleetProcess | undefined; edges: readonly EdgeSpec[]; domains: readonly DomainDoc[] };

/** Options of {@link createLocalMesh}. */
export interface LocalMeshOptions {
  /**
   * Client URLs of an etcd to use (comma-separated), left running by `close`. Defaults to a
   * throwaway single member on free loopback ports with a temporary data dir, stopped by `close`.
   */
  etcdEndpoints?: string;
  /**
   * The etcd endpoints given to the services, when they must reach etcd another way than the
   * mesh's own client does (a test puts a fault-injecting proxy there). Defaults to the mesh's etcd.
   */
  servicesEtcdEndpoints?: string;
  /** Edges to run as fake edge servers and seed as node documents; edge i is the fleet's node i. Defaults to none. */
  edges?: readonly EdgeSpec[];
  /** Domain policies to seed. Defaults to none. */
  domains?: readonly DomainDoc[];
  /** Prober processes. Defaults to 2. */
  probers?: number;
  /** weight-calculator processes. Defaults to 1. */
  weightCalculators?: number;
  /** Resolver processes. Defaults to 1. */
  resolvers?: number;
  /** Probe interval written into every node document and given to the probers, milliseconds. Defaults to 1000. */
  probeIntervalMs?: number;
  /** Probe timeout written into every node document, milliseconds. Defaults to half the interval, at most 1000. */
  probeTimeoutMs?: number;
  /** Fixed ports by instance name (`prober-2`). Defaults to ports chosen by the kernel. */
  ports?: Readonly<Record<string, MeshServicePorts>>;
  /**
   * How the mesh's own etcd client connects (an external cluster may need TLS or a user). Defaults
   * to a plain client of the endpoints.
   */
  connectEtcd?: (endpoints: readonly string[]) => EtcdClient;
  /** Settings given to every service (etcd TLS files, user), under the mesh's own. */
  commonEnv?: Record<string, string>;
  /** Extra settings per kind of service, merged over the mesh's own. */
  env?: Partial<Record<ServiceKind, Record<string, string>>>;
  /** Key prefix. Defaults to "/cdn/". */
  prefix?: string;
  /**
   * Listen address of edge i: distinct loopback addresses (127.0.0.x) make a DNS answer show which
   * edge was chosen. Defaults to 127.0.0.1 for every edge.
   */
  edgeHostOf?(index: number): string;
  /** Starts a dns-gateway in front of the resolvers, last. Defaults to none. */
  dnsGateway?: MeshDnsGatewayOptions;
  /**
   * Runs every gRPC hop with mutual TLS: a throwaway CA is made in this directory (created if
   * missing; the caller removes it) and every instance gets a certificate named after it. Defaults
   * to plaintext on loopback.
   */
  tlsDir?: string;
  /** Called after each step of the start (awaited). */
  onProgress?: (progress: LocalMeshProgress) => void | Promise<void>;
}

/** A whole mesh on this machine: etcd, a fake fleet, every service as a process. */
export interface LocalMesh {
  /** The throwaway etcd member, unless the mesh was given `etcdEndpoints`. */
  readonly etcd: EtcdProcess | undefined;
  /** The etcd endpoints of the mesh's own client (comma-separated). */
  readonly etcdEndpoints: string;
  /** The etcd endpoints the services use. */
  readonly servicesEtcdEndpoints: string;
  /** The mesh's own etcd client (closed by `close`). */
  readonly etcdClient: EtcdClient;
  /**
   * The fake edge servers, when the mesh has edges: in a process of their own, so that they answer
   * their health checks on time however busy the caller (a test, cdnctl) is.
   */
  readonly fleet: FleetProcess | undefined;
  readonly prefix: string;
  readonly edges: readonly EdgeSpec[];
  readonly configWatcher: MeshService;
  readonly probers: readonly MeshService[];
  readonly weightCalculators: readonly MeshService[];
  readonly resolvers: readonly MeshService[];
  /** The dns-gateway, when asked for. */
  readonly dnsGateway: MeshDnsGateway | undefined;
  /** Every service, in start order. */
  readonly services: readonly MeshService[];
  /** The mesh's CA and certificates, when it runs with `tlsDir`. */
  readonly tls: MeshTls | undefined;
  /** Measured figures of the start, milliseconds: `etcdStartMs` (throwaway etcd only), `<name>.startMs`, `startMs`. */
  readonly figures: Record<string, number>;
  /** Makes edge `id` (an {@link EdgeSpec} id) answer its health checks as `health` says. */
  setEdgeHealth(id: string, health: FakeHealth): Promise<void>;
  /** The node document of edge `id` as seeded, with `overrides` applied. */
  nodeDocument(id: string, overrides?: Record<string, unknown>): Record<string, unknown>;
  /** Writes a node document to etcd; returns the revision. */
  putNode(id: string, overrides?: Record<string, unknown>): Promise<number>;
  /** Writes a domain document to etcd; returns the revision. */
  putDomain(doc: DomainDoc): Promise<number>;
  /**
   * Stops every process front to back, closes every socket, and stops a throwaway etcd (removing its
   * data dir, unless `keepEtcdData`: then it is killed and the dir left). Idempotent.
   */
  close(options?: { keepEtcdData?: boolean }): Promise<void>;
}

/**
 * Starts a mesh on this machine (what `npm start` runs, and what the end-to-end and chaos tests
 * start): etcd, a fake fleet (in a process of its own) seeded as node documents, domain policies, then config-watcher,
 * weight-calculators (one after the other, so the first wins the election and is the one every
 * resolver streams weights from), probers and resolvers as real processes, each waited for until its
 * Status says ready. If anything fails on the way, what was started is stopped before the error is
 * rethrown. A process that exits without closing the mesh takes its children with it.
 */
export async function createLocalMesh(options: LocalMeshOptions = {}): Promise<LocalMesh> {
  const prefix = options.prefix ?? '/cdn/';
  const edges = options.edges ?? [];
  const domains = options.domains ?? [];
  const probeIntervalMs = options.probeIntervalMs ?? 1000;
  const probe = { intervalMs: probeIntervalMs, timeoutMs: options.probeTimeoutMs ?? Math.min(1000, Math.floor(probeIntervalMs / 2)) };
  const pools = [...new Set(domains.map((d) => d.pool))];
  const figures: Record<string, number> = {};
  const services: MeshService[] = [];
  let etcd: EtcdProcess | undefined;
  let fleet: FleetProcess | undefined;
  let etcdClient: EtcdClient | undefined;
  let dnsGateway: MeshDnsGateway | undefined;
  let tls: MeshTls | undefined;

  // A caller that dies (a test worker killed on timeout, an uncaught error) must not leave processes behind.
  const killAll = (): void => {
    for (const s of services) if (s.running) killQuietly(s.process.pid);
    if (dnsGateway && !dnsGateway.process.exited) killQuietly(dnsGateway.process.pid);
    if (fleet) killQuietly(fleet.pid);
    if (etcd?.pid) killQuietly(etcd.pid);
  };
  process.once('exit', killAll);

  let closed: Promise<void> | undefined;
  const close = ({ keepEtcdData = false }: { keepEtcdData?: boolean } = {}): Promise<void> =>
    (closed ??= (async () => {
      // Front to back, so no service spends its shutdown reconnecting to one already gone.
      await dnsGateway?.close();
      for (const kind of ['resolver', 'prober', 'weight-calculator', 'config-watcher'] as const) {
        await Promise.all(services.filter((s) => s.kind === kind).map((s) => s.close()));
      }
      await fleet?.close();
      tls?.close();
      etcdClient?.close();
      if (keepEtcdData) await etcd?.kill();
      else await etcd?.stop();
      process.off('exit', killAll);
    })());

  try {
    const startedAt = performance.now();
    if (options.tlsDir) tls = createMeshTls(options.tlsDir);
    let etcdEndpoints = options.etcdEndpoints;
    if (!etcdEndpoints) {
      etcd = await startEtcd();
      figures['etcdStartMs'] = performance.now() - startedAt;
      etcdEndpoints = etcd.endpoint;
    }
    await options.onProgress?.({ step: 'etcd', endpoint: etcdEndpoints, etcd });
    const endpointList = etcdEndpoints.split(',').map((e) => e.trim());
    etcdClient = options.connectEtcd ? options.connectEtcd(endpointList) : createEtcdClient({ endpoints: endpointList });
    const servicesEtcdEndpoints = options.servicesEtcdEndpoints ?? etcdEndpoints;
    const edgeHostOf = options.edgeHostOf;
    if (edges.length > 0) fleet = await startFleetProcess({ count: edges.length, mode: 'listeners', ...(edgeHostOf ? { hosts: edges.map((_, i) => edgeHostOf(i)) } : {}) });
    const theFleet = fleet;

    const edgeIndex = (id: string): number => {
      const i = edges.findIndex((e) => e.id === id);
      if (i < 0) throw new Error(`mesh: no edge ${id}`);
      return i;
    };
    const documentOf = (id: string, overrides?: Record<string, unknown>): Record<string, unknown> => {
      const i = edgeIndex(id);
      return nodeDocument(edges[i]!, theFleet!.nodes[i]!, pools, probe, overrides);
    };
    const client = etcdClient;
    const putNode = (id: string, overrides?: Record<string, unknown>): Promise<number> => client.put(`${prefix}nodes/${id}`, JSON.stringify(documentOf(id, overrides)));
    const putDomain = (doc: DomainDoc): Promise<number> => client.put(`${prefix}domains/${doc.domain}`, JSON.stringify(doc));
    for (const e of edges) await putNode(e.id);
    for (const d of domains) await putDomain(d);
    await options.onProgress?.({ step: 'seeded', fleet, edges, domains });

    const common = { ...options.commonEnv, ETCD_ENDPOINTS: servicesEtcdEndpoints, CDN_PREFIX: prefix };
    const add = (kind: ServiceKind, name: string, env: Record<string, string>): MeshService => {
      const ports = options.ports?.[name];
      const s = createMeshService({
        kind,
        name,
        env: { ...common, ...tls?.envOf(name), ...env, ...options.env?.[kind] },
        grpcPort: ports?.grpcPort,
        metricsPort: ports?.metricsPort,
        transport: tls?.transport,
      });
      services.push(s);
      return s;
    };
    const startAll = async (list: readonly MeshService[]): Promise<void> => {
      await Promise.all(
        list.map(async (s) => {
          figures[`${s.name}.startMs`] = await s.start();
        }),
      );
    };

    const configWatcher = add('config-watcher', 'config-watcher-1', {});
    await startAll([configWatcher]);
    const cw = { CONFIG_WATCHER: configWatcher.address };
    const weightCalculators = Array.from({ length: options.weightCalculators ?? 1 }, (_, i) => add('weight-calculator', `weight-calculator-${i + 1}`, cw));
    for (const w of weightCalculators) await startAll([w]);
    const wc = { WEIGHT_CALCULATORS: weightCalculators.map((s) => s.address).join(',') };
    const probers = Array.from({ length: options.probers ?? 2 }, (_, i) => add('prober', `prober-${i + 1}`, { ...cw, ...wc, PROBE_INTERVAL_MS: String(probeIntervalMs) }));
    const resolvers = Array.from({ length: options.resolvers ?? 1 }, (_, i) => add('resolver', `resolver-${i + 1}`, { ...cw, ...wc }));
    await startAll([...probers, ...resolvers]);
    if (options.dnsGateway) {
      const t = performance.now();
      dnsGateway = await startMeshDnsGateway({ ...options.dnsGateway, common: { ...common, ...tls?.envOf('dns-gateway-1') }, configWatcher: configWatcher.address, resolvers: resolvers.map((r) => r.address) });
      figures['dns-gateway-1.startMs'] = performance.now() - t;
    }
    figures['startMs'] = performance.now() - startedAt;

    return {
      etcd,
      etcdEndpoints,
      servicesEtcdEndpoints,
      etcdClient: client,
      fleet,
      prefix,
      edges,
      configWatcher,
      probers,
      weightCalculators,
      resolvers,
      dnsGateway,
      services,
      tls,
      figures,
      setEdgeHealth: (id, health) => theFleet!.setHealth(theFleet!.nodes[edgeIndex(id)]!.id, health),
      nodeDocument: documentOf,
      putNode,
      putDomain,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
