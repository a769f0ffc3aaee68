/**
 * Benchmark: ResolveStream wall rate of the real resolver process started with `--workers 1` and
 * `--workers 2` (issue 14: report both; two workers ≥ 1.6× one when the client is not the limit).
 *
 * What is real: etcd, the config-watcher, the weight-calculator and two resolvers run as the built
 * services (`services/<name>/dist/main.js`, default settings but RESOLVER_WORKERS), on the serving
 * benchmark's 2,000-node fleet and 10 domains (bench-workload.ts) written to etcd as documents. No
 * prober runs: the weights are the weight-calculator's cold-start weights, and nothing changes
 * while the resolvers are measured. The load client is the serving benchmark's (bench-client.ts:
 * raw grpc-js, batches encoded once, replies counted and dropped), in a process of its own, with
 * its streams spread over two connections to each resolver: a cluster of workers balances per
 * connection (Node's cluster module hands accepted connections to the workers in turn), so two
 * workers get one connection each, and one worker gets both.
 *
 * Both resolvers run for the whole benchmark and are measured in alternate order each round (the
 * idle one only keeps its upstream streams); a ratio is the median of the per-round ratios.
 * Server CPU is the resolver's process tree (the cluster primary and its workers) from /proc.
 *
 * This machine has two cores: with two workers the client and the workers share them, so the
 * client's CPU share is printed beside each rate — two workers cannot reach 1.6× one while the
 * client needs a sizeable part of a core. BENCH_WORKER_CPU=<cores> caps every worker process at
 * that many CPUs (a cgroup each, CFS bandwidth control; needs root): with the workers capped so
 * that N of them and the client fit on the machine, the client is not the limit, and the ratio
 * shows whether the workers' capacity adds up (the ratio the issue asks for), not how processes
 * time-share two cores.
 *
 * Run: `npm run bench -- serving-workers` (about 90 s). Environment (defaults in brackets):
 * BENCH_ROUNDS [3], BENCH_MEASURE_MS [3000], BENCH_WARMUP_MS [500], BENCH_BATCH [500],
 * BENCH_STREAMS [4], BENCH_DEPTH [4], BENCH_CONNECTIONS [2], BENCH_COMPACT [0] (1: the compact
 * response every query can ask for), BENCH_WORKER_CPU [unset: no cap], BENCH_CPU_PROF [unset: a
 * directory for the V8 CPU profiles of the one-worker resolver's processes]. Each rate comes with the
 * resolver's mark-compacts per window (from its /metrics), and each round's on stderr: see
 * `markCompactsOf`.
 */
import { createEtcdClient } from '@cdn-sched/etcd';
import { createGeoIpProvider } from '@cdn-sched/geoip';
import { limitCpu, processTreeCpuSeconds, scrape, servingProcesses, startEtcd, waitFor, type ServiceProcess } from '@cdn-sched/testing';
import { fork } from 'node:child_process';
import { loadavg } from 'node:os';
import { putFleetDocuments } from './bench-documents.js';
import { childMessages, startControlPlane, startListening, type Cleanups } from './bench-processes.js';
import { MAX_ERROR_SHARE, median, streamReplyErrorShare, type ClientCommand, type ClientMessage, type RunCommand } from './bench-protocol.js';
import { createBenchFleet, createServingQueries, encodeBatches } from './bench-workload.js';

const env = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);
const ROUNDS = env('BENCH_ROUNDS', 3);
const MEASURE_MS = env('BENCH_MEASURE_MS', 3000);
const WARMUP_MS = env('BENCH_WARMUP_MS', 500);
const BATCH = env('BENCH_BATCH', 500);
const STREAMS = env('BENCH_STREAMS', 4);
const DEPTH = env('BENCH_DEPTH', 4);
const CONNECTIONS = env('BENCH_CONNECTIONS', 2);
const COMPACT = process.env['BENCH_COMPACT'] === '1';
/** CPUs each worker process may use (a cgroup quota), or undefined for no cap. */
const WORKER_CPU = process.env['BENCH_WORKER_CPU'] ? Number(process.env['BENCH_WORKER_CPU']) : undefined;
const WORKERS = [1, 2];
/** A directory for the CPU profiles (`--cpu-prof`) of the one-worker resolver, written when it stops. */
const PROFILE_DIR = process.env['BENCH_CPU_PROF'];
const SEED = 20240601;
const BENCH = 'resolver serving-workers';

const round3 = (x: number): number => (Math.abs(x) >= 100 ? Math.round(x) : Math.round(x * 1000) / 1000);
const emit = (metric: string, value: number, unit: string, extra: Record<string, unknown> = {}): void =>
  console.log(JSON.stringify({ bench: BENCH, metric, value: round3(value), unit, ...extra }));

interface Resolver {
  workers: number;
  process: ServiceProcess;
  port: number;
  /** The /metrics URLs of its processes (each worker serves its own). */
  metricsUrls: string[];
}

interface Run {
  decisionsPerS: number;
  serverCores: number;
  clientCores: number;
  p99Ms: number;
  /** Mark-compacts of all its processes in the window (`nodejs_gc_pause_seconds_count{kind="major"}`). */
  markCompacts: number;
}

/**
 * Mark-compacts so far, summed over `urls`: a resolver under this load can settle into a
 * mark-compact every ~0.1 s or into almost none (docs/benchmarks.md, "Decision path
 * benchmarks"), and a rate is only comparable with another of the same mode.
 */
async function markCompactsOf(urls: readonly string[]): Promise<number> {
  let total = 0;
  for (const url of urls) total += (await scrape(url)).sum('nodejs_gc_pause_seconds_count', { kind: 'major' });
  return total;
}

async function main(): Promise<void> {
  const geo = await createGeoIpProvider();
  const batches = encodeBatches(createServingQueries(geo.database, SEED, COMPACT), BATCH);
  geo.close();
  const fleet = createBenchFleet(SEED);

  const etcd = await startEtcd();
  const etcdClient = createEtcdClient({ endpoints: [etcd.endpoint] });
  const cleanups: Cleanups = [() => etcd.stop(), () => etcdClient.close()];
  try {
    await putFleetDocuments(etcdClient, fleet);
    const { configTarget, weightTarget } = await startControlPlane(etcd.endpoint, cleanups);
    const resolvers: Resolver[] = [];
    for (const workers of WORKERS) {
      const { process, target } = await startListening(
        {
          service: 'resolver',
          env: { CONFIG_WATCHER: configTarget, WEIGHT_CALCULATORS: weightTarget, RESOLVER_WORKERS: String(workers) },
          startTimeoutMs: 120_000,
          // A cluster worker inherits the flag with the primary's execArgv.
          ...(PROFILE_DIR && workers === 1 ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] } : {}),
        },
        cleanups,
      );
      // Every worker loads the IP database and builds its own tables; each says when it can answer.
      await waitFor(() => process.logs.filter((l) => l['msg'] === 'routing table ready').length >= workers, {
        timeoutMs: 120_000,
        message: `${workers} resolver worker(s) with a routing table`,
      });
      await waitFor(() => process.logs.filter((l) => l['msg'] === 'metrics server listening').length >= workers, {
        timeoutMs: 60_000,
        message: `${workers} resolver worker(s) serving /metrics`,
      });
      const metricsUrls = process.logs.filter((l) => l['msg'] === 'metrics server listening').map((l) => `${String(l['metrics'])}/metrics`);
      resolvers.push({ workers, process, port: Number(target.slice(target.lastIndexOf(':') + 1)), metricsUrls });
    }
    if (WORKER_CPU !== undefined) {
      for (const r of resolvers) {
        const quota = limitCpu(servingProcesses(r.process.pid), WORKER_CPU, 'cdn-sched-bench-resolver');
        cleanups.unshift(() => quota.release());
      }
    }

    const client = fork(new URL('./bench-client.js', import.meta.url), [], { serialization: 'advanced' });
    const messages = childMessages<ClientMessage>(client, 'bench-client');
    cleanups.unshift(async () => {
      // A client that already exited (the error being reported) has no channel to send on.
      if (client.connected) client.send({ type: 'close' } satisfies ClientCommand);
      else if (client.exitCode === null) client.kill();
      await messages.exited;
    });
    await messages.next('started');
    const ready = messages.next('ready');
    client.send({ type: 'init', requests: { batches: { [BATCH]: batches }, unary: [] }, windowBytes: 0 } satisfies ClientCommand);
    await ready;

    const measure = async (r: Resolver, measureMs: number): Promise<Run> => {
      const command: RunCommand = { type: 'stream', port: r.port, batchSize: BATCH, streams: STREAMS, depth: DEPTH, connections: CONNECTIONS, warmupMs: WARMUP_MS, measureMs };
      const measuring = messages.next('measuring');
      const measured = messages.next('measured');
      const result = messages.next('result');
      client.send(command satisfies ClientCommand);
      await measuring;
      const cpu0 = processTreeCpuSeconds(r.process.pid);
      const t0 = performance.now();
      const markCompacts0 = await markCompactsOf(r.metricsUrls);
      await measured;
      const serverCores = (processTreeCpuSeconds(r.process.pid) - cpu0) / ((performance.now() - t0) / 1000);
      const markCompacts = (await markCompactsOf(r.metricsUrls)) - markCompacts0;
      const res = await result;
      const share = streamReplyErrorShare(res.sample.request, res.sample.reply, `--workers ${r.workers}`, true);
      if (share > MAX_ERROR_SHARE) throw new Error(`--workers ${r.workers}: ${(share * 100).toFixed(1)} % of the sampled answers are errors`);
      return { decisionsPerS: (res.completed * BATCH) / res.seconds, serverCores, clientCores: res.cpuMs / (res.seconds * 1000), p99Ms: res.p99Ms, markCompacts };
    };

    const loadStart = loadavg()[0]!;
    for (const r of resolvers) await measure(r, 1000);
    const runs = new Map<number, Run[]>(WORKERS.map((w) => [w, []]));
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? resolvers : [...resolvers].reverse();
      for (const r of order) runs.get(r.workers)!.push(await measure(r, MEASURE_MS));
    }

    const note = { batch: BATCH, streams: STREAMS, depth: DEPTH, connections: CONNECTIONS, compact: COMPACT, rounds: ROUNDS, worker_cpu: WORKER_CPU ?? 'uncapped', load_start: round3(loadStart), load_end: round3(loadavg()[0]!) };
    for (const w of WORKERS) {
      const rs = runs.get(w)!;
      emit(`resolve_stream_workers${w}_rate`, median(rs.map((r) => r.decisionsPerS)), 'decisions/s', {
        server_cores: round3(median(rs.map((r) => r.serverCores))),
        client_cores: round3(median(rs.map((r) => r.clientCores))),
        per_server_cpu_s: round3(median(rs.map((r) => r.decisionsPerS / r.serverCores))),
        batch_p99_ms: round3(median(rs.map((r) => r.p99Ms))),
        mark_compacts_per_window: round3(median(rs.map((r) => r.markCompacts))),
        ...note,
      });
      process.stderr.write(`--workers ${w} rounds: ${rs.map((r) => `${Math.round(r.decisionsPerS / r.serverCores)}/cpu-s with ${r.markCompacts} mark-compacts`).join(', ')}\n`);
    }
    const one = runs.get(1)!;
    const two = runs.get(2)!;
    emit('resolve_stream_workers2_vs_1', median(two.map((r, i) => r.decisionsPerS / one[i]!.decisionsPerS)), 'ratio', {
      target: '≥ 1.6 when the client is not the limit',
    });
  } finally {
    for (const c of cleanups) await c();
  }
}

await main();
