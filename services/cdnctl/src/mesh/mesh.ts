import { rm, writeFile } from 'node:fs/promises';
import { createEtcdClient, type EtcdClient } from '@cdn-sched/etcd';
import { Health, serviceDefinitions } from '@cdn-sched/proto';
import { createWeightsConsumer } from '@cdn-sched/stream';
import { createFakeFleet, findEtcdBinary, startEtcd, startServiceProcess, type EtcdProcess, type FakeFleet, type ServiceProcess } from '@cdn-sched/testing';
import { createChannel, createClient } from 'nice-grpc';
import { etcdConnectionSettings } from '@cdn-sched/service-kit';
import { CliError, endpoints, etcdConnection, intFlag, MESH_STATE_FILE, type ParsedArgs } from '../cli.js';
import { DEMO_CLIENTS, DEMO_DOMAINS, DEMO_EDGES, demoNodeDocuments } from './demo-fleet.js';

/** Ports of the local mesh; cdnctl's defaults point at them. */
export const MESH_PORTS = { configWatcher: 50051, prober1: 50052, prober2: 50062, weightCalculator: 50053, resolver: 50054 } as const;

const say = (line: string): void => void process.stdout.write(`${line}\n`);

/**
 * `npm start` / `cdnctl mesh`: a throwaway etcd (or ETCD_ENDPOINTS), a demo fleet of fake edges,
 * and config-watcher, two probers, weight-calculator and resolver as separate processes, with a live
 * status line fed by a small built-in traffic replay. Ctrl-C stops everything.
 */
export async function mesh(args: ParsedArgs): Promise<void> {
  const external = process.env['ETCD_ENDPOINTS'] || (typeof args.flags.get('etcd-endpoints') === 'string' ? String(args.flags.get('etcd-endpoints')) : '');
  const demo = !args.flags.get('no-demo');
  const keep = args.flags.get('keep') === true;
  const probeIntervalMs = intFlag(args, 'probe-interval-ms', 1000, 100);
  const statusEveryMs = intFlag(args, 'status-interval-ms', 3000, 200);
  const prefix = endpoints(args).prefix;
  const started: ServiceProcess[] = [];
  let etcd: EtcdProcess | undefined;
  let fleet: FakeFleet | undefined;
  let client: EtcdClient | undefined;
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    say('\nstopping the mesh…');
    for (const p of [...started].reverse()) await p.stop().catch(() => undefined);
    await rm(MESH_STATE_FILE, { force: true });
    client?.close();
    await fleet?.close();
    if (etcd) {
      if (keep) {
        await etcd.kill();
        say(`etcd data kept in ${etcd.dataDir} (--keep)`);
      } else {
        const dir = etcd.dataDir;
        await etcd.stop();
        await rm(dir, { recursive: true, force: true });
      }
    }
    say('mesh stopped');
  };

  try {
    let etcdEndpoint = external;
    if (!etcdEndpoint) {
      try {
        findEtcdBinary();
      } catch {
        throw new CliError(
          'etcd is not on PATH. Install it (Debian/Ubuntu: sudo apt-get install etcd-server) or point the mesh at an existing etcd with ETCD_ENDPOINTS=http://host:2379 npm start.',
        );
      }
      etcd = await startEtcd();
      etcdEndpoint = etcd.endpoint;
      say(`etcd               ${etcd.endpoint}   (throwaway, data dir ${etcd.dataDir})`);
    } else say(`etcd               ${etcdEndpoint}   (ETCD_ENDPOINTS)`);
    // An external cluster is reached with the same settings (TLS, user) as every service; the
    // services inherit them below. A throwaway etcd is plain http on loopback.
    const given = endpoints(args).etcdSettings;
    const settings = etcd ? { ...given, etcdEndpoints: [etcdEndpoint], etcdCaFile: '', etcdCertFile: '', etcdKeyFile: '', etcdUsername: '', etcdPassword: '', etcdPasswordFile: '' } : { ...given, etcdEndpoints: etcdEndpoint.split(',') };
    client = createEtcdClient(etcdConnection({ ...endpoints(args), etcdSettings: settings }));
    await writeFile(MESH_STATE_FILE, JSON.stringify({ etcd: etcdEndpoint, pid: process.pid }));

    if (demo) {
      // One loopback listener per demo edge; edge i of DEMO_EDGES is the fleet's node i.
      fleet = await createFakeFleet({ count: DEMO_EDGES.length, mode: 'listeners' });
      for (const doc of demoNodeDocuments(fleet, probeIntervalMs)) await client.put(`${prefix}nodes/${String(doc['id'])}`, JSON.stringify(doc));
      for (const doc of DEMO_DOMAINS) await client.put(`${prefix}domains/${doc.domain}`, JSON.stringify(doc));
      say(`demo fleet         ${DEMO_EDGES.length} fake edges on 127.0.0.1 (${DEMO_EDGES.map((e) => e.id).join(', ')})`);
      say(`demo domains       ${DEMO_DOMAINS.map((d) => `${d.domain} (${d.strategy})`).join(', ')}`);
    }

    const etcdEnv = Object.fromEntries(
      (Object.keys(etcdConnectionSettings) as (keyof typeof etcdConnectionSettings)[])
        .filter((k) => k !== 'etcdEndpoints' && settings[k])
        .map((k) => [etcdConnectionSettings[k].env, String(settings[k])]),
    );
    const common = { ...etcdEnv, ETCD_ENDPOINTS: etcdEndpoint, CDN_PREFIX: prefix, LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'warn' };
    const start = async (service: string, name: string, env: Record<string, string>, readyMessage?: string): Promise<void> => {
      const p = await startServiceProcess({ service, env: { ...common, ...env, INSTANCE_ID: name }, readyMessage: readyMessage ?? `${service} listening`, startTimeoutMs: 30_000 });
      started.push(p);
    };
    const cw = `127.0.0.1:${MESH_PORTS.configWatcher}`;
    const wc = `127.0.0.1:${MESH_PORTS.weightCalculator}`;
    // LOG_LEVEL warn hides the "listening" lines: the mesh waits for them at info on stdout of the child.
    const info = { LOG_LEVEL: 'info' };
    await start('config-watcher', 'config-watcher-1', { ...info, GRPC_PORT: String(MESH_PORTS.configWatcher), METRICS_PORT: '9461' });
    await start('weight-calculator', 'weight-calculator-1', { ...info, GRPC_PORT: String(MESH_PORTS.weightCalculator), METRICS_PORT: '9463', CONFIG_WATCHER: cw });
    await start('prober', 'prober-1', { ...info, GRPC_PORT: String(MESH_PORTS.prober1), METRICS_PORT: '9462', CONFIG_WATCHER: cw, WEIGHT_CALCULATORS: wc, PROBE_INTERVAL_MS: String(probeIntervalMs) });
    await start('prober', 'prober-2', { ...info, GRPC_PORT: String(MESH_PORTS.prober2), METRICS_PORT: '9472', CONFIG_WATCHER: cw, WEIGHT_CALCULATORS: wc, PROBE_INTERVAL_MS: String(probeIntervalMs) });
    await start('resolver', 'resolver-1', { ...info, GRPC_PORT: String(MESH_PORTS.resolver), METRICS_PORT: '9464', CONFIG_WATCHER: cw, WEIGHT_CALCULATORS: wc });
    say(`config-watcher     ${cw}          metrics http://127.0.0.1:9461/metrics`);
    say(`prober-1           127.0.0.1:${MESH_PORTS.prober1}          metrics http://127.0.0.1:9462/metrics`);
    say(`prober-2           127.0.0.1:${MESH_PORTS.prober2}          metrics http://127.0.0.1:9472/metrics`);
    say(`weight-calculator  ${wc}          metrics http://127.0.0.1:9463/metrics`);
    say(`resolver           127.0.0.1:${MESH_PORTS.resolver}          metrics http://127.0.0.1:9464/metrics`);
    say('');
    say('Try, in another terminal:  npx cdnctl resolve 1.0.8.1 music.demo.example');
    say('                           npx cdnctl node drain gd-ct-1   (then resolve again)');
    say('                           npx cdnctl status | npx cdnctl weights | npx cdnctl probe-status');
    say('Ctrl-C stops everything.\n');
    // The replay asks for the domains etcd holds (the demo's, or whatever --no-demo found).
    const domains = (await client.list(`${prefix}domains/`)).kvs.map((kv) => kv.key.slice(`${prefix}domains/`.length));
    if (domains.length === 0) say('no domain policies in etcd: the built-in replay is idle until one is added (npx cdnctl domain put)');
    await live(wc, `127.0.0.1:${MESH_PORTS.resolver}`, statusEveryMs, () => stopping, domains);
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
