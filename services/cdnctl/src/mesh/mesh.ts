import { rm, writeFile } from 'node:fs/promises';
import { createEtcdClient } from '@cdn-sched/etcd';
import { createLocalMesh, type LocalMesh } from '@cdn-sched/local-mesh';
import { findEtcdBinary } from '@cdn-sched/local-processes';
import { Health, serviceDefinitions } from '@cdn-sched/proto';
import { createWeightsConsumer } from '@cdn-sched/stream';
import { etcdConnectionSettings } from '@cdn-sched/service-kit';
import { createChannel, createClient } from 'nice-grpc';
import { CliError, endpoints, etcdConnection, intFlag, MESH_STATE_FILE, type ParsedArgs } from '../cli.js';
import { DEMO_CLIENTS, DEMO_DOMAINS, DEMO_EDGES } from './demo-fleet.js';

/** Ports of the local mesh; cdnctl's defaults point at them. */
export const MESH_PORTS = {
  'config-watcher-1': { grpcPort: 50051, metricsPort: 9461 },
  'prober-1': { grpcPort: 50052, metricsPort: 9462 },
  'prober-2': { grpcPort: 50062, metricsPort: 9472 },
  'weight-calculator-1': { grpcPort: 50053, metricsPort: 9463 },
  'resolver-1': { grpcPort: 50054, metricsPort: 9464 },
} as const;

/** Default DNS port of the mesh's dns-gateway (unprivileged; `DNS_PORT` or `--dns-port` change it). */
export const MESH_DNS_PORT = 5300;
/** Metrics port of the mesh's dns-gateway (`cdnctl status` reads its /readyz there). */
export const MESH_DNS_METRICS_PORT = 9465;

const say = (line: string): void => void process.stdout.write(`${line}\n`);

/**
 * `npm start` / `cdnctl mesh`: a throwaway etcd (or ETCD_ENDPOINTS), a demo fleet of fake edges,
 * and config-watcher, two probers, weight-calculator and resolver as separate processes (all
 * started by @cdn-sched/local-mesh), with a live status line fed by a small built-in traffic replay.
 * Ctrl-C stops everything.
 */
export async function mesh(args: ParsedArgs): Promise<void> {
  const external = process.env['ETCD_ENDPOINTS'] || (typeof args.flags.get('etcd-endpoints') === 'string' ? String(args.flags.get('etcd-endpoints')) : '');
  const demo = !args.flags.get('no-demo');
  const keep = args.flags.get('keep') === true;
  const probeIntervalMs = intFlag(args, 'probe-interval-ms', 1000, 100);
  const statusEveryMs = intFlag(args, 'status-interval-ms', 3000, 200);
  const prefix = endpoints(args).prefix;
  const dnsPort = intFlag(args, 'dns-port', Number(process.env['DNS_PORT'] ?? MESH_DNS_PORT), 0);
  // Set once the mesh is up; a start that fails has already stopped what it started.
  let running: LocalMesh | undefined;
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    say('\nstopping the mesh…');
    const etcd = running?.etcd;
    await running?.close({ keepEtcdData: keep });
    await rm(MESH_STATE_FILE, { force: true });
    if (etcd && keep) say(`etcd data kept in ${etcd.dataDir} (--keep)`);
    say('mesh stopped');
  };

  try {
    if (!external) {
      try {
        findEtcdBinary();
      } catch {
        throw new CliError(
          'etcd is not on PATH. Install it (Debian/Ubuntu: sudo apt-get install etcd-server) or point the mesh at an existing etcd with ETCD_ENDPOINTS=http://host:2379 npm start.',
        );
      }
    }
    // An external cluster is reached with the same settings (TLS, user) as every service, and the
    // services inherit them. A throwaway etcd is plain http on loopback.
    const given = endpoints(args).etcdSettings;
    const connection = external ? etcdConnection({ ...endpoints(args), etcdSettings: { ...given, etcdEndpoints: external.split(',') } }) : undefined;
    const etcdEnv: Record<string, string> = external
      ? Object.fromEntries(
          (Object.keys(etcdConnectionSettings) as (keyof typeof etcdConnectionSettings)[])
            .filter((k) => k !== 'etcdEndpoints' && given[k])
            .map((k) => [etcdConnectionSettings[k].env, String(given[k])]),
        )
      : {};
    running = await createLocalMesh({
      ...(external ? { etcdEndpoints: external } : {}),
      ...(connection ? { connectEtcd: (list: readonly string[]) => createEtcdClient({ ...connection, endpoints: [...list] }) } : {}),
      commonEnv: etcdEnv,
      ...(demo ? { edges: DEMO_EDGES, domains: DEMO_DOMAINS } : {}),
      probers: 2,
      weightCalculators: 1,
      resolvers: 1,
      probeIntervalMs,
      ports: MESH_PORTS,
      prefix,
      // Edge i on 127.0.0.(11 + i): a DNS answer shows which edge was chosen (Linux routes all of 127/8 to lo).
      edgeHostOf: (i) => `127.0.0.${11 + i}`,
      dnsGateway: { dnsPort, metricsPort: MESH_DNS_METRICS_PORT },
      async onProgress(progress) {
        if (progress.step === 'etcd') {
          if (progress.etcd) say(`etcd               ${progress.endpoint}   (throwaway, data dir ${progress.etcd.dataDir})`);
          else say(`etcd               ${progress.endpoint}   (ETCD_ENDPOINTS)`);
          await writeFile(MESH_STATE_FILE, JSON.stringify({ etcd: progress.endpoint, pid: process.pid }));
        } else if (progress.fleet) {
          say(`demo fleet         ${progress.edges.length} fake edges on 127.0.0.11-${11 + progress.edges.length - 1} (${progress.fleet.nodes.map((n, i) => `${progress.edges[i]!.id} ${n.address}`).join(', ')})`);
          say(`demo domains       ${progress.domains.map((d) => `${d.domain} (${d.strategy})`).join(', ')}`);
        }
      },
    });
    const at = (name: keyof typeof MESH_PORTS): string => `127.0.0.1:${MESH_PORTS[name].grpcPort}          metrics http://127.0.0.1:${MESH_PORTS[name].metricsPort}/metrics`;
    say(`config-watcher     ${at('config-watcher-1')}`);
    say(`prober-1           ${at('prober-1')}`);
    say(`prober-2           ${at('prober-2')}`);
    say(`weight-calculator  ${at('weight-calculator-1')}`);
    say(`resolver           ${at('resolver-1')}`);
    const gw = running.dnsGateway!;
    say(`dns-gateway        ${gw.host}:${gw.dnsPort} (DNS, UDP+TCP)  metrics ${gw.metricsUrl}/metrics`);
    say('');
    say('Try, in another terminal:  npx cdnctl resolve 1.0.8.1 music.demo.example');
    say(`                           dig @${gw.host} -p ${gw.dnsPort} music.demo.example +subnet=1.0.8.0/24`);
    say('                           npx cdnctl node drain gd-ct-1   (then resolve again)');
    say('                           npx cdnctl status | npx cdnctl weights | npx cdnctl probe-status');
    say('Ctrl-C stops everything.\n');
    // The replay asks for the domains etcd holds (the demo's, or whatever --no-demo found).
    const domains = (await running.etcdClient.list(`${prefix}domains/`)).kvs.map((kv) => kv.key.slice(`${prefix}domains/`.length));
    if (domains.length === 0) say('no domain policies in etcd: the built-in replay is idle until one is added (npx cdnctl domain put)');
    await live(running.weightCalculators[0]!.address, running.resolvers[0]!.address, statusEveryMs, () => stopping, domains);
  } catch (error) {
    await stop();
    if (error instanceof CliError) throw error;
    throw new CliError(`the mesh did not start: ${(error as Error).message}`);
  }
  await stop();
}

/** Prints a compact status line every few seconds until Ctrl-C, with a small traffic replay. */
async function live(weightTarget: string, resolverTarget: string, everyMs: number, stopped: () => boolean, domains: readonly string[]): Promise<void> {
  const weights = createWeightsConsumer({ target: weightTarget, consumerId: 'mesh' });
  const channel = createChannel(resolverTarget);
  const resolver = createClient(serviceDefinitions.resolver, channel);
  const latencies: number[] = [];
  let decisions = 0;
  let errors = 0;
  let degraded = 0;
  let queryId = 0n;
  const ac = new AbortController();
  const onSignal = (): void => ac.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // ~200 decisions/s: batches of 20 every 100 ms over one ResolveStream.
  const replay = (async () => {
    while (!ac.signal.aborted) {
      try {
        const sent: number[] = [];
        const requests = (async function* () {
          while (!ac.signal.aborted) {
            if (domains.length === 0) {
              await new Promise((r) => setTimeout(r, 100));
              continue;
            }
            yield { queries: Array.from({ length: 20 }, (_, i) => ({ queryId: ++queryId, clientIp: DEMO_CLIENTS[(Number(queryId) + i) % DEMO_CLIENTS.length]!, domain: domains[i % domains.length]! })) };
            sent.push(performance.now());
            await new Promise((r) => setTimeout(r, 100));
          }
        })();
        for await (const batch of resolver.resolveStream(requests, { signal: ac.signal })) {
          const t0 = sent.shift();
          if (t0 !== undefined) latencies.push(performance.now() - t0);
          for (const d of batch.decisions) {
            decisions++;
            if (d.result.case === 'error') errors++;
            else if (d.result.value?.degraded) degraded++;
          }
        }
      } catch {
        if (!ac.signal.aborted) await new Promise((r) => setTimeout(r, 500));
      }
    }
  })();
  let last = performance.now();
  while (!ac.signal.aborted && !stopped()) {
    await new Promise((r) => setTimeout(r, everyMs));
    if (ac.signal.aborted) break;
    const now = performance.now();
    const lat = latencies.splice(0).sort((a, b) => a - b);
    const p99 = lat.length ? lat[Math.min(lat.length - 1, Math.ceil(0.99 * lat.length) - 1)]! : Number.NaN;
    let healthy = 0;
    let total = 0;
    for (const e of weights.entries.values()) {
      if (e.kind !== 'weight') continue;
      total++;
      if (e.weight.health === Health.UP && e.weight.weight > 0) healthy++;
    }
    const rate = (decisions / (now - last)) * 1000;
    say(
      `[${new Date().toISOString().slice(11, 19)}] healthy ${healthy}/${total} nodes | weights v${weights.state.version}${weights.state.stale ? ' (stale)' : ''} | replay ${rate.toFixed(0)} decisions/s, batch p99 ${Number.isFinite(p99) ? p99.toFixed(1) : '-'} ms, errors ${errors}, degraded ${degraded}`,
    );
    decisions = 0;
    errors = 0;
    degraded = 0;
    last = now;
  }
  ac.abort();
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  await replay;
  channel.close();
  await weights.close();
}
