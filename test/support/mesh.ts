import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EtcdClient } from '@cdn-sched/etcd';
import { createLocalMesh, type DomainDoc, type EdgeSpec, type LocalMeshOptions, MESH_SERVER_NAME, type MeshService, type MeshTls } from '@cdn-sched/local-mesh';
import { Health, serviceDefinitions } from '@cdn-sched/proto';
import { createWeightsConsumer, type StreamConsumer, type WeightEntry } from '@cdn-sched/stream';
import { killQuietly, startEtcd, startTcpProxy, waitFor, type EtcdProcess, type FakeHealth, type FleetProcess, type TcpProxy } from '@cdn-sched/testing';
import { createChannel, createClient, type Channel, type Client } from 'nice-grpc';
import { runCdnctl, type CdnctlRun } from './cdnctl.js';
import { DOMAINS, EDGES } from './topology.js';

/**
 * Options of {@link startMesh}: the local mesh's own (see `LocalMeshOptions` for each), with test
 * defaults where they differ — edges {@link EDGES}, domains {@link DOMAINS}, probes every 300 ms
 * with a 250 ms timeout so that health changes show within a test's patience — plus a proxy to etcd.
 */
export interface MeshOptions
  extends Pick<LocalMeshOptions, 'edges' | 'domains' | 'probers' | 'weightCalculators' | 'resolvers' | 'probeIntervalMs' | 'probeTimeoutMs' | 'env' | 'prefix' | 'edgeHostOf'> {
  /**
   * Puts one fault-injecting TCP proxy between every service and etcd (the test's own etcd client
   * and the CLI still talk to etcd directly). `true` or latency settings (one-way, milliseconds).
   * Defaults to none.
   */
  etcdProxy?: boolean | { latencyMs?: number; jitterMs?: number };
  /**
   * Every gRPC hop with mutual TLS, as `npm start -- --tls` runs it: a throwaway CA in a temporary
   * directory (removed by `close`), one certificate per instance; the test's own clients and cdnctl
   * use the mesh's client certificate. Defaults to {@link E2E_TLS}: plaintext on loopback, mutual
   * TLS when the suite runs as `npm run test:e2e:tls`.
   */
  tls?: boolean;
}

/**
 * True when the e2e suite runs with every gRPC hop on mutual TLS (`npm run test:e2e:tls` sets
 * `CDN_E2E_TLS=1`): meshes started without an explicit `tls` use it, and the specs that start
 * services themselves give them certificates too. Specs that test one mode by name (`npm start`
 * plaintext, `npm start -- --tls`, routing in both modes) run once, in the plaintext pass.
 */
export const E2E_TLS = process.env['CDN_E2E_TLS'] === '1';

/** A whole mesh: throwaway etcd, fake fleet, every service as a process. */
export interface Mesh {
  readonly etcd: EtcdProcess;
  /** The proxy between the services and etcd, when asked for. */
  readonly proxy: TcpProxy | undefined;
  /** The etcd endpoint the services use (the proxy's when there is one). */
  readonly servicesEtcdEndpoint: string;
  /** The test's own client, straight to etcd. */
  readonly etcdClient: EtcdClient;
  /** The fake edges, in a process of their own. */
  readonly fleet: FleetProcess;
  readonly prefix: string;
  readonly edges: readonly EdgeSpec[];
  readonly configWatcher: MeshService;
  readonly probers: readonly MeshService[];
  readonly weightCalculators: readonly MeshService[];
  readonly resolvers: readonly MeshService[];
  /** Every service, in start order. */
  readonly services: readonly MeshService[];
  /** Measured figures of the start: `etcdStartMs`, `<name>.startMs`, `startMs`, `healthyMs`. */
  readonly figures: Record<string, number>;
  /** The mesh's CA and certificates with `tls`; undefined in plaintext. */
  readonly tls: MeshTls | undefined;
  /** A channel to `target` as the test's clients must open it (the mesh's client certificate with `tls`). */
  connect(target: string): Channel;
  /** `TLS_*` settings of an extra service instance `name` started beside the mesh (empty in plaintext). */
  serviceTlsEnv(name: string): Record<string, string>;
  /** A typed client of resolver `index` (one channel per resolver, closed by `close`). */
  resolverClient(index?: number): Client<typeof serviceDefinitions.resolver>;
  /** Makes edge `id` (an {@link EdgeSpec} id) answer its health checks as `health` says. */
  setEdgeHealth(id: string, health: FakeHealth): Promise<void>;
  /** The node document of edge `id` as seeded, with `overrides` applied. */
  nodeDocument(id: string, overrides?: Record<string, unknown>): Record<string, unknown>;
  /** Writes a node document straight to etcd; returns the revision. */
  putNode(id: string, overrides?: Record<string, unknown>): Promise<number>;
  putDomain(doc: DomainDoc): Promise<number>;
  /** A weight-stream consumer of the test (closed by `close`); defaults to the first running replica. */
  watchWeights(target?: string): StreamConsumer<WeightEntry>;
  /** Settings that point the CLI at this mesh. */
  cdnctlEnv(): Record<string, string>;
  cdnctl(args: readonly string[]): Promise<CdnctlRun>;
  /**
   * Waits until every active edge in `ids` (default: all) is UP with a positive weight on the
   * weight stream and every running resolver is healthy; resolves with the time it took.
   */
  waitHealthy(options?: { ids?: readonly string[]; timeoutMs?: number }): Promise<number>;
  /** Stops every process, closes every socket and removes etcd's data dir. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts a mesh for end-to-end and chaos tests with @cdn-sched/local-mesh (what `npm start` runs):
 * etcd (optionally behind a proxy), a fake fleet in its own process (so that the test's own work
 * cannot stall the edges) seeded as node documents with a short probe interval, domain policies,
 * then config-watcher, weight-calculators, probers and resolvers as real processes on ports chosen
 * by the kernel; then waits until every edge is healthy. If anything fails
 * on the way, what was started is stopped before the error is rethrown.
 */
export async function startMesh(options: MeshOptions = {}): Promise<Mesh> {
  const channels: Channel[] = [];
  const consumers: StreamConsumer<WeightEntry>[] = [];
  let etcd: EtcdProcess | undefined;
  let proxy: TcpProxy | undefined;
  let local: Awaited<ReturnType<typeof createLocalMesh>> | undefined;
  const tlsDir = (options.tls ?? E2E_TLS) ? mkdtempSync(join(tmpdir(), 'cdn-sched-e2e-tls-')) : undefined;

  // The test owns etcd (so that it can kill, pause and restart it); a dying worker must not leave it behind.
  const killEtcd = (): void => {
    if (etcd?.pid) killQuietly(etcd.pid);
  };
  process.once('exit', killEtcd);

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closed ??= (async () => {
      await Promise.all(consumers.map((c) => c.close()));
      for (const c of channels) c.close();
      await local?.close();
      await proxy?.close();
      await etcd?.stop();
      if (tlsDir) rmSync(tlsDir, { recursive: true, force: true });
      process.off('exit', killEtcd);
    })());

  try {
    const startedAt = performance.now();
    etcd = await startEtcd();
    const etcdStartMs = performance.now() - startedAt;
    if (options.etcdProxy) {
      const settings = typeof options.etcdProxy === 'object' ? options.etcdProxy : {};
      proxy = await startTcpProxy({ targetPort: etcd.clientPort, latencyMs: settings.latencyMs ?? 0, jitterMs: settings.jitterMs ?? 0 });
    }
    local = await createLocalMesh({
      etcdEndpoints: etcd.endpoint,
      ...(proxy ? { servicesEtcdEndpoints: proxy.endpoint } : {}),
      edges: options.edges ?? EDGES,
      domains: options.domains ?? DOMAINS,
      probers: options.probers ?? 2,
      weightCalculators: options.weightCalculators ?? 1,
      resolvers: options.resolvers ?? 1,
      probeIntervalMs: options.probeIntervalMs ?? 300,
      probeTimeoutMs: options.probeTimeoutMs ?? 250,
      ...(options.env ? { env: options.env } : {}),
      prefix: options.prefix ?? '/cdn/',
      ...(options.edgeHostOf ? { edgeHostOf: options.edgeHostOf } : {}),
      ...(tlsDir ? { tlsDir } : {}),
    });
    const figures: Record<string, number> = { ...local.figures, etcdStartMs, startMs: performance.now() - startedAt };
    const { configWatcher, weightCalculators, probers, resolvers, prefix, edges } = local;

    const resolverChannels = new Map<number, Channel>();
    const theEtcd = etcd;
    const tls = local.tls;
    const connect = (target: string): Channel => (tls ? tls.transport.channel(target) : createChannel(target));
    const mesh: Mesh = {
      etcd: theEtcd,
      proxy,
      servicesEtcdEndpoint: local.servicesEtcdEndpoints,
      etcdClient: local.etcdClient,
      fleet: local.fleet!,
      prefix,
      edges,
      configWatcher,
      probers,
      weightCalculators,
      resolvers,
      services: local.services,
      figures,
      tls,
      connect,
      serviceTlsEnv: (name) => tls?.envOf(name) ?? {},
      resolverClient(index = 0) {
        let ch = resolverChannels.get(index);
        if (!ch) {
          ch = connect(resolvers[index]!.address);
          resolverChannels.set(index, ch);
          channels.push(ch);
        }
        return createClient(serviceDefinitions.resolver, ch);
      },
      setEdgeHealth: local.setEdgeHealth,
      nodeDocument: local.nodeDocument,
      putNode: local.putNode,
      putDomain: local.putDomain,
      watchWeights(target) {
        const address = target ?? weightCalculators.find((s) => s.running)?.address;
        if (!address) throw new Error('mesh: no weight-calculator is running');
        const c = createWeightsConsumer({ target: address, consumerId: `e2e-${consumers.length + 1}`, ...(tls ? { transport: tls.transport } : {}) });
        consumers.push(c);
        return c;
      },
      cdnctlEnv() {
        return {
          ETCD_ENDPOINTS: theEtcd.endpoint,
          CDN_PREFIX: prefix,
          CONFIG_WATCHER: configWatcher.address,
          WEIGHT_CALCULATOR: weightCalculators[0]!.address,
          RESOLVER: resolvers[0]?.address ?? '',
          PROBERS: probers.map((p) => p.address).join(','),
          ...(tls ? { TLS_CA_FILE: tls.caFile, TLS_CERT_FILE: tls.client.certFile, TLS_KEY_FILE: tls.client.keyFile, TLS_SERVER_NAME: MESH_SERVER_NAME } : {}),
        };
      },
      cdnctl(args) {
        return runCdnctl(args, mesh.cdnctlEnv());
      },
      async waitHealthy({ ids, timeoutMs = 20_000 } = {}) {
        const t = performance.now();
        const wanted = ids ?? edges.map((e) => e.id);
        const weights = mesh.watchWeights();
        try {
          await waitFor(
            () =>
              wanted.every((id) => {
                const e = weights.entries.get(`weight/${id}`);
                return e?.kind === 'weight' && e.weight.health === Health.UP && e.weight.weight > 0;
              }),
            { timeoutMs, intervalMs: 50, message: `edges ${wanted.join(',')} UP on the weight stream` },
          );
        } finally {
          await weights.close();
          consumers.splice(consumers.indexOf(weights), 1);
        }
        for (const r of resolvers) if (r.running) await r.waitReady({ healthy: true, timeoutMs });
        return performance.now() - t;
      },
      close,
    };
    figures['healthyMs'] = await mesh.waitHealthy({ timeoutMs: 60_000 });
    return mesh;
  } catch (error) {
    await close();
    throw error;
  }
}
