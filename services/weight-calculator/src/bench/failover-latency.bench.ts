// Benchmark of issue 5: how fast a failing edge reaches weight 0 on a WatchWeights client, and how
// many probe results per second the weight-calculator takes through gRPC.
//
// 1. Failover latency: real etcd, a config-watcher process, two prober processes (replication 2, so
//    DOWN needs both probers' fall threshold: the quorum rule) probing a small fake fleet every
//    200 ms, and the weight-calculator in this process with its production tick (100 ms). Each trial
//    makes one node fail (HTTP 500 or refused, alternately) and times
//    - the fleet starting to fail → the weight-0 update applied by a WatchWeights client
//      (docs/architecture.md target: ≤ F × interval + 500 ms; baseline printed: the theoretical F × interval);
//    - the start of the deciding probe (the failing result that made the node DOWN, seen by tapping
//      ReportProbes) → the same weight-0 update: the pipeline's own latency (probe, reporter flush,
//      tick, stream).
//    The node is then put back up and the next trial fails the next node, so recoveries overlap.
// 2. Ingest through gRPC (report-load.ts): ReportProbes batches of 500 from two client streams (two
//    probers, eight batches in flight each, as the prober's reporter does) over 10 k nodes, first
//    from a client in this process (client and server share the core), then from a client process
//    (report-client.ts), counting this process's CPU only: the weight-calculator's own cost per
//    result. Figures per CPU-second are printed next to the wall-clock rates because the machine
//    is shared. The baseline is the in-process table ingest rate of ingest.bench.js, run first as a
//    child process.
//
// Run: cd services/weight-calculator && npx tsc -b tsconfig.lib.json && node dist/bench/failover-latency.bench.js
// (needs etcd and the built config-watcher and prober). Environment: BENCH_TRIALS (24),
// BENCH_INGEST_S (5). Prints one JSON line per measurement.
import { fork, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { create } from '@bufbuild/protobuf';
import { createEtcdClient } from '@cdn-sched/etcd';
import { Health, NodeSchema, NodeState, serviceDefinitions, StatusResponseSchema, UpstreamHealthSchema, type Node, type ReportProbesRequest } from '@cdn-sched/proto';
import { createConfigEncoder, createVersionedStore, createWeightsConsumer, nodeEntryKey, serveVersionedStream, type ConfigEntry } from '@cdn-sched/stream';
import { createFakeFleet, createSeededUniform, type ServiceProcess, startEtcd, startGrpcServer, startServiceProcess } from '@cdn-sched/testing';
import { createChannel, createClient } from 'nice-grpc';
import { weightCalculatorServiceDefinition } from '../report-codec.js';
import { createWeightCalculator } from '../weight-calculator.js';
import type { ReportClientMessage, ReportClientOptions } from './report-client.js';
import { BATCH, ingestNodeIds, protobufMs, reportUntil, resetProtobufMs, timedDefinition } from './report-load.js';

const TRIALS = Number(process.env['BENCH_TRIALS'] ?? 24);
const INGEST_S = Number(process.env['BENCH_INGEST_S'] ?? 5);
const FLEET = 6;
const INTERVAL_MS = 200;
const FALL = 3;
const RISE = 2;
const TICK_MS = 100;
const INGEST_NODES = 10_000;

const emit = (bench: string, metric: string, value: number, unit: string, extra: { baseline?: number; ratio?: number } = {}): void => {
  const round = (x: number): number => Math.round(x * 1000) / 1000;
  const out: Record<string, unknown> = { bench, metric, value: round(value), unit };
  if (extra.baseline !== undefined) out['baseline'] = round(extra.baseline);
  if (extra.ratio !== undefined) out['ratio'] = round(extra.ratio);
  console.log(JSON.stringify(out));
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Nearest-rank quantile. */
const quantile = (xs: readonly number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
};
async function until<T>(predicate: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = predicate();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`bench: no ${what} within ${timeoutMs} ms`);
    await sleep(5);
  }
}
async function failoverLatency(): Promise<void> {
  const etcd = await startEtcd();
  const etcdClient = createEtcdClient({ endpoints: [etcd.endpoint] });
  const processes: ServiceProcess[] = [];
  const fleet = await createFakeFleet({ count: FLEET, mode: 'listeners' });
  try {
    const configWatcher = await startServiceProcess({ service: 'config-watcher', env: { ETCD_ENDPOINTS: etcd.endpoint, GRPC_PORT: '0', METRICS_PORT: '0' } });
    processes.push(configWatcher);
    const configTarget = String((await configWatcher.waitForLog('config-watcher listening'))['grpc']);
    for (const n of fleet.nodes) {
      const doc = { id: n.id, address: n.address, port: n.port, country: 'CN', region: 'CN-GD', isp: 'ct', capacity: 1000, state: 'active', pools: ['music'], probe: { type: 'http', path: n.path, intervalMs: INTERVAL_MS, timeoutMs: 150 } };
      await etcdClient.put(`/cdn/nodes/${n.id}`, JSON.stringify(doc));
    }

    const calc = createWeightCalculator({ instanceId: 'bench', configTarget, tickIntervalMs: TICK_MS, table: { fallThreshold: FALL, riseThreshold: RISE } });
    // Failing results as they arrive, to find the one that made each node DOWN.
    const failing = new Map<string, { arrivedAtMs: number; startedAtMs: number }[]>();
    async function* tap(requests: AsyncIterable<ReportProbesRequest>): AsyncGenerator<ReportProbesRequest> {
      for await (const batch of requests) {
        const arrivedAtMs = Date.now();
        for (const r of batch.results) {
          if (r.ok) continue;
          const list = failing.get(r.nodeId) ?? [];
          list.push({ arrivedAtMs, startedAtMs: Number(r.startedAtMs) });
          failing.set(r.nodeId, list);
        }
        yield batch;
      }
    }
    const server = await startGrpcServer((s) =>
      s.add(weightCalculatorServiceDefinition, { ...calc.service, reportProbes: (requests, context) => calc.service.reportProbes(tap(requests), context) }),
    );
    const zeroes: { nodeId: string; atMs: number; updatedAtMs: number }[] = [];
    const consumer = createWeightsConsumer({
      target: server.address,
      consumerId: 'bench',
      onApplied(update) {
        const atMs = Date.now();
        for (const c of update.changes) {
          if (c.value?.kind === 'weight' && c.value.weight.weight === 0) zeroes.push({ nodeId: c.value.weight.nodeId, atMs, updatedAtMs: Number(c.value.weight.updatedAtMs) });
        }
      },
    });
    for (const id of ['p1', 'p2']) {
      processes.push(
        await startServiceProcess({
          service: 'prober',
          env: { ETCD_ENDPOINTS: etcd.endpoint, CONFIG_WATCHER: configTarget, WEIGHT_CALCULATORS: server.address, GRPC_PORT: '0', METRICS_PORT: '0', INSTANCE_ID: id, MEMBER_TTL_S: '2', REPLICATION_FACTOR: '2' },
        }),
      );
    }

    const serving = (id: string): true | undefined => {
      const e = consumer.entries.get(`weight/${id}`);
      return e?.kind === 'weight' && e.weight.health === Health.UP && e.weight.weight > 0 ? true : undefined;
    };
    // Both probers assigned and voting: every node UP, and both probers' results arriving.
    await until(() => (fleet.nodes.every((n) => serving(n.id)) && calc.stats.reporters >= 2 ? true : undefined), 15_000, 'fleet UP');
    await sleep(1000);

    const random = createSeededUniform(5);
    const toZero: number[] = [];
    const probeToZero: number[] = [];
    for (let trial = 0; trial < TRIALS; trial++) {
      const id = fleet.nodes[trial % FLEET]!.id;
      await until(() => serving(id), 5000, `${id} UP again`);
      // A random phase against the probers' schedules.
      await sleep(Math.floor(random() * INTERVAL_MS));
      const failedAtMs = Date.now();
      await fleet.setHealth(id, trial % 2 === 0 ? 'http500' : 'refused');
      const zero = await until(() => zeroes.find((z) => z.nodeId === id && z.atMs >= failedAtMs), 5000, `weight 0 for ${id}`);
      const deciding = (failing.get(id) ?? []).filter((f) => f.startedAtMs >= failedAtMs && f.arrivedAtMs <= zero.updatedAtMs).at(-1);
      toZero.push(zero.atMs - failedAtMs);
      if (deciding) probeToZero.push(zero.atMs - deciding.startedAtMs);
      await fleet.setHealth(id, 'up');
    }
    const theoretical = FALL * INTERVAL_MS;
    const bench = 'weight-calculator/failover';
    emit(bench, 'fail_to_weight0_p50_ms', quantile(toZero, 0.5), 'ms', { baseline: theoretical, ratio: quantile(toZero, 0.5) / theoretical });
    emit(bench, 'fail_to_weight0_p99_ms', quantile(toZero, 0.99), 'ms', { baseline: theoretical, ratio: quantile(toZero, 0.99) / theoretical });
    emit(bench, 'fail_to_weight0_max_ms', Math.max(...toZero), 'ms', { baseline: theoretical + 500, ratio: Math.max(...toZero) / (theoretical + 500) });
    emit(bench, 'deciding_probe_to_weight0_p50_ms', quantile(probeToZero, 0.5), 'ms');
    emit(bench, 'deciding_probe_to_weight0_p99_ms', quantile(probeToZero, 0.99), 'ms');
    emit(bench, 'trials', toZero.length, 'trials');

    await consumer.close();
    for (const p of processes.splice(1).reverse()) await p.stop();
    await server.close();
    await calc.close();
  } finally {
    for (const p of processes.reverse()) await p.stop();
    await fleet.close();
    etcdClient.close();
    await etcd.stop();
  }
}

/** The in-process table ingest rate from ingest.bench.js (same build), or undefined without it. */
async function tableIngestBaseline(): Promise<number | undefined> {
  const file = fileURLToPath(new URL('./ingest.bench.js', import.meta.url));
  if (!existsSync(file)) return undefined;
  const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    return await new Promise<number | undefined>((resolve) => {
      let buffer = '';
      const timer = setTimeout(() => resolve(undefined), 30_000);
      child.stdout.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
        for (const line of buffer.split('\n')) {
          if (!line.includes('results_per_s')) continue;
          clearTimeout(timer);
          resolve((JSON.parse(line) as { value: number }).value);
        }
      });
      child.once('exit', () => {
        clearTimeout(timer);
        resolve(undefined);
      });
    });
  } finally {
    // Only its first figure is needed; the tick part that follows is its own business.
    if (child.exitCode === null) child.kill();
  }
}

function makeNodes(): Node[] {
  return ingestNodeIds(INGEST_NODES).map((id, i) =>
    create(NodeSchema, { id, address: `10.${(i >> 8) & 255}.${i & 255}.1`, port: 443, country: 'CN', region: 'CN-GD', isp: 'ct', capacityRps: 1000, state: NodeState.ACTIVE, pools: ['music'] }),
  );
}

const cpuSeconds = ({ user, system }: NodeJS.CpuUsage): number => (user + system) / 1e6;
const checkAccepted = (rejected: number): void => {
  if (rejected > 0) throw new Error(`bench: ${rejected} results rejected; the bench would measure the wrong path`);
};

async function grpcIngest(baseline: number | undefined): Promise<void> {
  if (INGEST_NODES % BATCH !== 0) throw new Error('bench: the fleet must be a whole number of batches');
  const nodes = makeNodes();
  // A stand-in config-watcher serving the 10 k node documents from the shared stream library.
  const configStore = createVersionedStore<ConfigEntry>({ epoch: 'bench-config' });
  configStore.commit(1, nodes.map((node) => ({ key: nodeEntryKey(node.id), value: { kind: 'node', node } })));
  const encoder = createConfigEncoder(configStore.epoch, () => create(UpstreamHealthSchema, { healthy: true }));
  const configServer = await startGrpcServer((s) =>
    s.add(serviceDefinitions.configWatcher, {
      async *watch(request, context) {
        yield* serveVersionedStream({ store: configStore, request: { epoch: request.epoch, version: Number(request.version) }, encoder, signal: context.signal, versionsGlobal: true });
      },
      async status() {
        return create(StatusResponseSchema, { service: 'config-watcher' });
      },
    }),
  );
  // Steady state: without slow start the whole fleet would ramp during the measurement, and every
  // tick would republish a thousand weights; that is a restart's cost, not ingest's.
  const calc = createWeightCalculator({ instanceId: 'bench-ingest', configTarget: configServer.address, tickIntervalMs: TICK_MS, table: { slowStartMs: 0 } });
  const server = await startGrpcServer((s) => s.add(timedDefinition, calc.service));
  const channel = createChannel(server.address);
  const client = createClient(timedDefinition, channel);
  try {
    await until(() => (calc.status().gauges['nodes'] === INGEST_NODES ? true : undefined), 10_000, 'nodes in the weight table');
    const bench = 'weight-calculator/ingest';
    const withBaseline = (value: number): { baseline?: number; ratio?: number } => (baseline ? { baseline, ratio: value / baseline } : {});
    const perResultUs = (ms: number, results: number): number => (ms * 1000) / results;
    // Start times: recent enough to be accepted (the table takes results up to 60 s old).
    const base = Date.now() - 20_000;

    // 1. The client in this process, as the issue asks: client and server share one core.
    const ids = ingestNodeIds(INGEST_NODES);
    const probers = ['prober-a', 'prober-b'];
    // Warm-up (allocates the (node, prober) slots, JIT), then the timed run, one second later.
    const warm = await Promise.all(probers.map((p) => reportUntil(client, p, ids, performance.now() + 1000, base)));
    resetProtobufMs();
    const cpu = process.cpuUsage();
    const started = performance.now();
    const runs = await Promise.all(probers.map((p) => reportUntil(client, p, ids, started + INGEST_S * 1000, base + 1000)));
    const elapsedS = (performance.now() - started) / 1000;
    const cpuS = cpuSeconds(process.cpuUsage(cpu));
    const accepted = runs.reduce((n, t) => n + t.accepted, 0);
    checkAccepted([...warm, ...runs].reduce((n, t) => n + t.rejected, 0));
    emit(bench, 'grpc_results_per_s_same_process', accepted / elapsedS, 'results/s', withBaseline(accepted / elapsedS));
    // The machine is shared: results per CPU-second (client and server together) is the figure that
    // does not move with the neighbours' load.
    emit(bench, 'grpc_results_per_cpu_s_same_process', accepted / cpuS, 'results/cpu-s', withBaseline(accepted / cpuS));
    // Where a result's CPU goes (each part includes the garbage collections it triggered).
    emit(bench, 'cpu_per_result_us_same_process', (cpuS * 1e6) / accepted, 'us');
    emit(bench, 'client_build_per_result_us', perResultUs(protobufMs.clientBuild, accepted), 'us');
    emit(bench, 'client_encode_per_result_us', perResultUs(protobufMs.clientEncode, accepted), 'us');
    emit(bench, 'server_decode_per_result_us', perResultUs(protobufMs.serverDecode, accepted), 'us');

    // 2. The client in its own process: the weight-calculator's CPU alone, as in production.
    const options: ReportClientOptions = { target: server.address, probers: ['prober-c', 'prober-d'], nodes: INGEST_NODES, warmupS: 1, seconds: INGEST_S, startedAtBaseMs: base };
    const child = fork(fileURLToPath(new URL('./report-client.js', import.meta.url)), [JSON.stringify(options)]);
    const done = await new Promise<Extract<ReportClientMessage, { type: 'done' }> & { serverCpuS: number }>((resolve, reject) => {
      let serverCpu: NodeJS.CpuUsage | undefined;
      child.on('message', (m: ReportClientMessage) => {
        if (m.type === 'timed') {
          resetProtobufMs();
          serverCpu = process.cpuUsage();
        } else resolve({ ...m, serverCpuS: cpuSeconds(process.cpuUsage(serverCpu)) });
      });
      child.once('exit', (code) => reject(new Error(`bench: report client exited (${code}) before its figures`)));
    });
    checkAccepted(done.rejected);
    emit(bench, 'grpc_results_per_s_client_process', done.accepted / done.elapsedS, 'results/s', withBaseline(done.accepted / done.elapsedS));
    emit(bench, 'grpc_server_results_per_cpu_s', done.accepted / done.serverCpuS, 'results/cpu-s', withBaseline(done.accepted / done.serverCpuS));
    emit(bench, 'grpc_server_cpu_per_result_us', (done.serverCpuS * 1e6) / done.accepted, 'us');
    emit(bench, 'grpc_server_decode_per_result_us', perResultUs(protobufMs.serverDecode, done.accepted), 'us');
  } finally {
    channel.close();
    await server.close();
    await calc.close();
    await configServer.close();
  }
}

await failoverLatency();
const baseline = await tableIngestBaseline();
await grpcIngest(baseline);
