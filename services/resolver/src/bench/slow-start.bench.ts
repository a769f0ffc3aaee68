/**
 * Benchmark: the resolver while a whole 10 k-node fleet goes through slow start (issue 14;
 * targets: event-loop delay p99 ≤ 2 ms, and ResolveStream batch p99 ≤ 2 ms at 1 k decisions/s,
 * during the ramp and after it).
 *
 * What is real: etcd, the config-watcher, the weight-calculator and the resolver run as the built
 * services (`services/<name>/dist/main.js`, separate processes, default settings), the fleet is a
 * 10 k-node benchmark fleet (bench-workload.ts: 31 provinces × 4 ISPs plus overseas, 3 pools, 10
 * domains, 2 % drained, 1 % in maintenance) written to etcd as documents, and the weight stream
 * the resolver applies is the weight-calculator's own: its cold start, health, slow start (the
 * default ramp: 60 s, from the cold-start share), damping and 1 % publication threshold decide
 * every weight and every version. The load client (paced-client.ts) is another process offering
 * 1 k decisions/s over one ResolveStream on loopback.
 *
 * What is synthetic: the probe results (slow-start-probers.ts: two prober ids reporting success
 * for every node on the prober's schedule; 10 k fake edges and two real probers would take the
 * CPU the resolver is measured with). The weight-calculator starts with every node cold, so the
 * first result of each node starts its ramp: the whole fleet ramps together, as after a
 * weight-calculator restart. That weight-calculator is a follower (a placeholder candidate holds
 * the etcd election): it computes and streams the same weights, but the leader's persistence to
 * etcd — one write per published weight, ~20 k/s during this ramp — would run on the same two
 * cores as the resolver.
 *
 * The transport floor (BENCH_FLOOR=1; stream-floor.ts): a bare grpc-js server that answers every
 * batch with the resolver's pre-encoded reply to the first one, pinned like the resolver and
 * offered the same load by a second paced client, in the same windows. The resolver's batch p99 is
 * then reported with the floor's as its baseline, which tells the resolver's part of the tail from
 * the machine's: on the development VMs a round trip between two small C processes on the two
 * virtual CPUs, with nothing else running, has a p99 of 7–9 ms in most minutes (the host wakes a
 * halted virtual CPU late; 0.3 ms while the server's CPU is kept busy). Off by default:
 * the floor shares CPU 1 with the resolver's JavaScript thread and costs its loop delay (p99 +0.4
 * ms in the ramp, +1 ms after it, in two alternating pairs), so a run with the floor does not
 * measure the loop-delay target.
 *
 * Windows: after a warm-up, the ramp window runs from the first probe results to the end of the
 * ramp on the weight stream (no new weight version for QUIET_MS, from the weight-calculator's
 * Status), then the after window for AFTER_S.
 * The resolver's event loop is measured inside the resolver process (loop-window.ts, loaded with
 * `--import`); batch latency in the client.
 *
 * Pinning: this process and everything it starts — etcd, config-watcher, weight-calculator,
 * probers, load client — share CPU 0, as if they ran on other machines; without it the
 * weight-calculator's own work during the ramp (about a core at 10 k nodes) competes with the
 * resolver for the same two cores, and the resolver's loop delay then measures the machine's
 * scheduler as much as the resolver. The resolver's JavaScript thread gets CPU 1 to itself; where
 * its helper threads run is BENCH_PIN's choice:
 * - `split` (default): V8's platform threads (concurrent marking and sweeping, compilers) and
 *   libuv's thread pool run on CPU 0 with the rest. That is the shipped deployment's shape — the
 *   resolver's Deployment requests one CPU and allows two (deploy/k8s/base), so its helper threads
 *   run beside its JavaScript thread rather than taking turns with it.
 * - `core`: every resolver thread on CPU 1 (the layout of the earlier sessions' figures): a resolver
 *   held to a single core. V8 marks concurrently on four threads during every mark-compact; on a
 *   single core they take turns with the JavaScript thread in the scheduler's 4 ms ticks, which
 *   delays the event loop by 4–16 ms at a time (`perf record -e sched:sched_switch -C 1`).
 * - `0`: nothing pinned.
 * Kernel threads named in BENCH_MOVE_KTHREADS (comma-separated name prefixes; default `kdamond`)
 * are moved to CPU 0 for the run and given back their affinity at the end (needs root; the result
 * lines name the threads moved). On the development VMs the platform runs DAMON memory reclaim
 * (`kdamond.0`, affinity: any CPU) for 4–12 ms every ~0.5 s; on the resolver's CPU it delayed the
 * JavaScript thread by as much each time (`perf sched timehist`: the resolver's scheduling delays
 * above 2 ms were all behind it), and that alone raised the ramp's loop-delay p99 by about 0.7 ms.
 * Empty (`BENCH_MOVE_KTHREADS=`) leaves every kernel thread where it is.
 *
 * Run: `npm run bench -- slow-start` (about 150 s). Environment: BENCH_NODES (10000),
 * BENCH_RATE (1000 decisions/s), BENCH_BATCH (10 queries a batch), BENCH_AFTER_S (15),
 * BENCH_CLIENT_NICE (-10: the load clients' scheduling priority; 0 leaves it alone),
 * BENCH_CLIENT_FIFO (0; a SCHED_FIFO priority for the clients' JavaScript threads instead, which
 * stands better for a client on a machine of its own), BENCH_FLOOR (0; 1: run the transport floor),
 * BENCH_RESOLVER_NODE_FLAGS (flags for the resolver's node, e.g. `--max-semi-space-size=4`),
 * BENCH_CPU_PROF (a directory: V8 CPU profiles of the resolver during one window — the ramp, or
 * the after window with BENCH_LOOP_PROFILE_WINDOW=2 — and of the weight-calculator's whole run;
 * BENCH_LOOP_PROFILE_INTERVAL_US sets the resolver profile's sampling interval; profiling slows the
 * processes, so figures of such a run are not the measurement).
 */
import { createElection, createEtcdClient } from '@cdn-sched/etcd';
import { NodeState, serviceDefinitions } from '@cdn-sched/proto';
import * as grpc from '@grpc/grpc-js';
import { repoRoot, startEtcd, waitFor, type ServiceProcess } from '@cdn-sched/testing';
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg, setPriority } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createChannel, createClient } from 'nice-grpc';
import { putFleetDocuments } from './bench-documents.js';
import { childMessages, startControlPlane, startListening, type Cleanups } from './bench-processes.js';
import { createBenchFleet } from './bench-workload.js';
import type { PacedClientMessage, PacedClientOptions, PacedWindow } from './paced-client.js';
import type { SyntheticProbersMessage, SyntheticProbersOptions } from './slow-start-probers.js';
import type { StreamFloorMessage, StreamFloorOptions } from './stream-floor.js';

const env = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);
const NODES = env('BENCH_NODES', 10_000);
const RATE = env('BENCH_RATE', 1000);
const BATCH = env('BENCH_BATCH', 10);
const AFTER_S = env('BENCH_AFTER_S', 15);
const PROFILE_DIR = process.env['BENCH_CPU_PROF'] ?? '';
const PIN_MODE = process.env['BENCH_PIN'] ?? 'split';
if (!['split', 'core', '0'].includes(PIN_MODE)) throw new Error(`BENCH_PIN must be split, core or 0, not "${PIN_MODE}"`);
const PIN = PIN_MODE !== '0';
const MOVE_KTHREADS = (process.env['BENCH_MOVE_KTHREADS'] ?? 'kdamond')
  .split(',')
  .map((name) => name.trim())
  .filter(Boolean);
const CLIENT_NICE = env('BENCH_CLIENT_NICE', -10);
/** BENCH_CLIENT_FIFO: a SCHED_FIFO priority (1–99) for the load clients instead of a nice value; 0: none. */
const CLIENT_FIFO = env('BENCH_CLIENT_FIFO', 0);
/** Whether the transport floor (stream-floor.ts) runs beside the resolver (BENCH_FLOOR=1). */
const FLOOR = env('BENCH_FLOOR', 0) !== 0;
/**
 * Node and V8 flags for the resolver's command line (heap settings to compare), none
 * by default; split on spaces, so no flag value may hold one.
 */
const RESOLVER_NODE_FLAGS = (process.env['BENCH_RESOLVER_NODE_FLAGS'] ?? '').split(' ').filter(Boolean);
const WARMUP_MS = 3000;
/**
 * The ramp is over when the weight-calculator published no version for this long. Near the end of
 * a 60 s ramp a node's weight moves 0.14 % a 100 ms tick and is republished every ~0.9 s (1 %
 * threshold), so silence for twice that means the ramps are done; the last percent of a ramp is
 * below the threshold and never published on its own.
 */
const QUIET_MS = 2000;
/** The weight-calculator's slow-start ramp (its default `slowStartMs`, which the bench keeps). */
const RAMP_MS = 60_000;
const RAMP_TIMEOUT_MS = 240_000;
const SEED = 20240601;
const BENCH = 'resolver slow-start';
const PROBERS = ['synthetic-prober-1', 'synthetic-prober-2'];

const round3 = (x: number): number => (Math.abs(x) >= 100 ? Math.round(x) : Math.round(x * 1000) / 1000);
const emit = (metric: string, value: number, unit: string, extra: Record<string, unknown> = {}): void =>
  console.log(JSON.stringify({ bench: BENCH, metric, value: round3(value), unit, ...extra }));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));

/** A forked bench helper that answers requests by message type. */
function forkHelper<Out extends { type: string }>(file: string, options: object): { child: ChildProcess; next<T extends Out['type']>(type: T): Promise<Extract<Out, { type: T }>> } {
  const child = fork(here(file), [JSON.stringify(options)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return { child, next: childMessages<Out>(child, file).next };
}

/** A WatchWeights stream like the resolver's (lean: weights without terms) whose messages are counted, never decoded. */
function countStream(target: string): { counts: { bytes: number; messages: number; largestBytes: number }; close(): void } {
  const counts = { bytes: 0, messages: 0, largestBytes: 0 };
  const client = new grpc.Client(target, grpc.credentials.createInsecure());
  const method = serviceDefinitions.weightCalculator.watchWeights;
  const call = client.makeServerStreamRequest(method.path, (m: Parameters<typeof method.requestSerialize>[0]) => Buffer.from(method.requestSerialize(m)), (b: Buffer) => b, { consumerId: 'slow-start-bench', epoch: '', version: 0n, lean: true });
  call.on('data', (bytes: Buffer) => {
    counts.bytes += bytes.length;
    counts.messages++;
    if (bytes.length > counts.largestBytes) counts.largestBytes = bytes.length;
  });
  call.on('error', () => undefined);
  return {
    counts,
    close() {
      call.cancel();
      client.close();
    },
  };
}

/**
 * Waits for the end of the ramp: not before `notBeforeMs` (performance.now), the weight version
 * moved past `from` and then stood still for QUIET_MS (the weight-calculator publishes a version
 * on every tick that changed a weight). The floor matters: a ramping node is republished only in
 * steps of 5 % of its full weight (weight-calculator `rampPublishStep`), ~3 s apart, and nodes
 * whose first results came together take their steps together, so the stream can pause mid-ramp.
 */
async function waitForQuiet(version: () => Promise<number>, from: number, notBeforeMs: number): Promise<void> {
  const deadline = performance.now() + RAMP_TIMEOUT_MS;
  let last = from;
  let lastMovedAt = performance.now();
  for (;;) {
    await sleep(100);
    const v = await version();
    if (v !== last) {
      last = v;
      lastMovedAt = performance.now();
    } else if (last !== from && performance.now() - lastMovedAt >= QUIET_MS && performance.now() >= notBeforeMs) return;
    if (performance.now() > deadline) throw new Error(`the weight stream did not settle within ${RAMP_TIMEOUT_MS} ms`);
  }
}

/**
 * BENCH_PIN=split: moves every thread of the resolver but its JavaScript thread (whose thread id is
 * the process id) to CPU 0. Threads inherit the affinity of the thread that starts them, so a
 * thread the JavaScript thread starts later (libuv's pool starts on first use) lands on CPU 1:
 * called again before each window. Returns how many threads it moved.
 */
function moveHelperThreads(pid: number): number {
  let moved = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    if (tid === String(pid)) continue;
    // Without -a, taskset sets the affinity of that one thread (sched_setaffinity on its id).
    execFileSync('taskset', ['-pc', '0', tid], { stdio: 'ignore' });
    moved++;
  }
  return moved;
}

/**
 * Moves the kernel threads whose name starts with one of `prefixes` to CPU 0 (BENCH_MOVE_KTHREADS);
 * returns their names and a function that gives each its earlier affinity back. A kernel thread
 * is one without a command line; one whose affinity the kernel keeps fixed (per-CPU threads) or
 * that this user may not move is left alone.
 */
function moveKernelThreads(prefixes: readonly string[]): { moved: string[]; restore(): void } {
  const earlier: { pid: string; mask: string }[] = [];
  const moved: string[] = [];
  for (const pid of prefixes.length === 0 ? [] : readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let name: string;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`).length > 0) continue;
      name = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      continue; // gone meanwhile
    }
    if (!prefixes.some((p) => name.startsWith(p))) continue;
    try {
      // "pid 83's current affinity mask: 3"
      const mask = /mask:\s*([0-9a-f,]+)/i.exec(execFileSync('taskset', ['-p', pid], { encoding: 'utf8' }))?.[1];
      if (mask === undefined) continue;
      execFileSync('taskset', ['-pc', '0', pid], { stdio: 'ignore' });
      earlier.push({ pid, mask });
      moved.push(name);
    } catch {
      // Not movable (PF_NO_SETAFFINITY) or not permitted: measured where it runs.
    }
  }
  return {
    moved,
    restore() {
      for (const { pid, mask } of earlier) {
        try {
          execFileSync('taskset', ['-p', mask, pid], { stdio: 'ignore' });
        } catch {
          // gone meanwhile
        }
      }
    },
  };
}

/** Ends the resolver's current loop window (loop-window.ts) and returns its figures. */
async function loopWindow(resolver: ServiceProcess, index: number): Promise<Record<string, number>> {
  process.kill(resolver.pid, 'SIGUSR2');
  return (await resolver.waitForLog(`bench loop window ${index}`, 60_000)) as Record<string, number>;
}

if (PIN) execFileSync('taskset', ['-a', '-pc', '0', String(process.pid)], { stdio: 'ignore' });
const kernelThreads = moveKernelThreads(PIN ? MOVE_KTHREADS : []);
if (kernelThreads.moved.length > 0) {
  // On every way out, a failed start and an interrupted run included.
  process.once('exit', () => kernelThreads.restore());
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      kernelThreads.restore();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
}
const etcd = await startEtcd();
const etcdClient = createEtcdClient({ endpoints: [etcd.endpoint] });
const cleanups: Cleanups = [() => etcd.stop(), () => etcdClient.close()];
try {
  const fleet = createBenchFleet(SEED, NODES);
  await putFleetDocuments(etcdClient, fleet);
  // The synthetic probers' memberships: the weight-calculator takes reports from current members only.
  for (const id of PROBERS) await etcdClient.put(`/cdn/members/prober/${id}`, id);
  // A placeholder leader, elected before the weight-calculator starts (lowest create revision wins).
  const placeholder = createElection({ client: etcdClient, prefix: '/cdn/election/weight-calculator', candidateId: 'bench-placeholder-leader' });
  cleanups.unshift(() => placeholder.close());
  await waitFor(() => placeholder.isLeader, { timeoutMs: 10_000, message: 'placeholder leader elected' });

  const { configTarget, weightTarget } = await startControlPlane(
    etcd.endpoint,
    cleanups,
    PROFILE_DIR ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] } : {},
  );

  // The weight stream as the resolver gets it, counted in bytes and messages but not decoded (that
  // would cost this process what it costs the resolver); versions and quiet from the Status call.
  const stream = countStream(weightTarget);
  cleanups.unshift(() => stream.close());
  const wcChannel = createChannel(weightTarget);
  cleanups.unshift(() => wcChannel.close());
  const wcStatus = createClient(serviceDefinitions.weightCalculator, wcChannel);
  const weightsVersion = async (): Promise<number> => Number((await wcStatus.status({})).version);
  const listed = fleet.nodes.filter((n) => n.state !== NodeState.MAINTENANCE).length;
  await waitFor(async () => (await wcStatus.status({})).gauges['nodes'] === NODES && (await weightsVersion()) > 0, { timeoutMs: 60_000, message: `the weight-calculator weighing ${listed} nodes` });

  const loopModule = join(repoRoot, 'services', 'resolver', 'dist', 'bench', 'loop-window.js');
  const { process: resolver, target: resolverTarget } = await startListening(
    {
      service: 'resolver',
      env: { CONFIG_WATCHER: configTarget, WEIGHT_CALCULATORS: weightTarget, ...(PROFILE_DIR ? { BENCH_LOOP_PROFILE_DIR: PROFILE_DIR } : {}) },
      ...(PIN ? { wrap: ['taskset', '-c', '1'] } : {}),
      nodeArgs: [...RESOLVER_NODE_FLAGS, '--import', loopModule],
    },
    cleanups,
  );
  const channel = createChannel(resolverTarget);
  cleanups.unshift(() => channel.close());
  const status = createClient(serviceDefinitions.resolver, channel);
  const resolverGauges = async (): Promise<Record<string, number>> => (await status.status({})).gauges;
  await waitFor(async () => (await resolverGauges())['weights_version']! > 0, { timeoutMs: 60_000, message: 'the resolver applied the cold-start weights' });

  /** A paced client of `target` (forked on CPU 0 with this process). */
  const pacedClient = async (target: string): Promise<ReturnType<typeof forkHelper<PacedClientMessage>>> => {
    const paced = forkHelper<PacedClientMessage>('./paced-client.js', { target, decisionsPerS: RATE, batchSize: BATCH, seed: SEED } satisfies PacedClientOptions);
    cleanups.unshift(() => void paced.child.disconnect());
    // The client shares CPU 0 with the weight-calculator, etcd, the config-watcher and the probers:
    // at equal priority the scheduler lets the client wait its turn for milliseconds at a time, and
    // batch latency then measures that wait. A higher priority stands for the client's own machine.
    if (CLIENT_NICE !== 0) setPriority(paced.child.pid!, CLIENT_NICE);
    await paced.next('ready');
    // Only its JavaScript thread, once it is ready: at a real-time priority its start-up (the IP
    // data, the queries) would hold CPU 0 from everything else, and V8's helper threads with it.
    if (CLIENT_FIFO > 0) execFileSync('chrt', ['-f', '-p', String(CLIENT_FIFO), String(paced.child.pid)], { stdio: 'ignore' });
    return paced;
  };
  const client = await pacedClient(resolverTarget);
  // The transport floor where the resolver is (its process on CPU 1, its helper threads moved like
  // the resolver's), with a client of its own beside the resolver's.
  const servers = [resolver.pid];
  const clients = [client];
  if (FLOOR) {
    const floor = forkHelper<StreamFloorMessage>('./stream-floor.js', { resolverTarget } satisfies StreamFloorOptions);
    cleanups.unshift(() => void floor.child.disconnect());
    const { target: floorTarget } = await floor.next('ready');
    if (PIN) execFileSync('taskset', ['-a', '-pc', '1', String(floor.child.pid)], { stdio: 'ignore' });
    servers.push(floor.child.pid!);
    clients.push(await pacedClient(floorTarget));
  }
  /** Ends the clients' windows: the resolver's, then the floor's if it runs. */
  const clientWindows = async (): Promise<PacedWindow[]> => {
    const windows = Promise.all(clients.map((c) => c.next('window')));
    for (const c of clients) c.child.send({ type: 'report' });
    return windows;
  };
  const markClients = (): void => {
    for (const c of clients) c.child.send({ type: 'mark' });
  };
  /** BENCH_PIN=split: the servers' helper threads to CPU 0, before each window; returns the resolver's count. */
  const moveServerHelpers = (): number => (PIN_MODE === 'split' ? servers.map(moveHelperThreads)[0]! : 0);
  await sleep(WARMUP_MS);
  const helperThreads = moveServerHelpers();

  // Ramp window: from the first probe results to the end of the ramp on the weight stream.
  const loadAtStart = loadavg()[0]!;
  await loopWindow(resolver, 0);
  markClients();
  const before = { ...stream.counts, version: await weightsVersion(), rebuilds: (await resolverGauges())['rebuilds']!, atMs: performance.now() };
  const probers = forkHelper<SyntheticProbersMessage>('./slow-start-probers.js', {
    target: weightTarget,
    proberIds: PROBERS,
    nodes: NODES,
    intervalMs: 5000,
    jitterRatio: 0.1,
    maxConcurrency: 512,
    flushIntervalMs: 50,
    maxBatch: 500,
    probeRttMs: 20,
    seed: SEED,
  } satisfies SyntheticProbersOptions);
  cleanups.unshift(() => void probers.child.disconnect());
  const firstRound = await probers.next('firstRound');
  // Every node had its first result by now, so every ramp started by now and ends RAMP_MS later.
  await waitForQuiet(weightsVersion, before.version, performance.now() + RAMP_MS);
  const rampLoop = await loopWindow(resolver, 1);
  const rampClients = await clientWindows();
  moveServerHelpers();
  markClients();
  const rampEnd = { ...stream.counts, version: await weightsVersion(), rebuilds: (await resolverGauges())['rebuilds']!, atMs: performance.now() };

  // After window: the fleet at full weight, probe results still flowing.
  await sleep(AFTER_S * 1000);
  const afterLoop = await loopWindow(resolver, 2);
  const afterClients = await clientWindows();
  const proberStats = probers.next('stats');
  probers.child.send({ type: 'stats' });
  const reported = await proberStats;
  if (reported.rejected > 0) throw new Error(`the weight-calculator rejected ${reported.rejected} synthetic results: ${reported.errors.join('; ')}`);

  const rampS = (rampEnd.atMs - before.atMs) / 1000;
  const note = { load_start: round3(loadAtStart), load_end: round3(loadavg()[0]!), nodes: NODES, rate: RATE, batch: BATCH, pinned: PIN_MODE, client_fifo: CLIENT_FIFO, floor: FLOOR, resolver_helper_threads_moved: helperThreads, kernel_threads_moved: kernelThreads.moved.join(' '), resolver_node_flags: RESOLVER_NODE_FLAGS.join(' ') };
  emit('ramp_window_s', rampS, 's', { first_round_acked_ms: firstRound.atMs, quiet_ms: QUIET_MS, ...note });
  emit('weight_versions_per_s_ramp', (rampEnd.version - before.version) / rampS, 'versions/s');
  emit('weight_stream_kib_per_s_ramp', (rampEnd.bytes - before.bytes) / 1024 / rampS, 'KiB/s', { messages_per_s: round3((rampEnd.messages - before.messages) / rampS), largest_message_kib: round3(rampEnd.largestBytes / 1024) });
  emit('resolver_table_swaps_ramp', rampEnd.rebuilds - before.rebuilds, 'swaps');
  const loopMetrics = (name: string, w: Record<string, number>, target?: string): void => {
    emit(`event_loop_delay_p99_${name}`, w['eldP99Ms']!, 'ms', { p50: w['eldP50Ms'], p999: w['eldP999Ms'], max: w['eldMaxMs'], samples: w['samples'], ...(target ? { target } : {}) });
    emit(`resolver_cpu_share_${name}`, w['cpuMs']! / w['wallMs']!, 'cores', { gc_ms: w['gcTotalMs'], gc_max_ms: w['gcMaxMs'], gc_count: w['gcCount'], scavenges: w['gcMinorCount'], scavenge_ms: w['gcMinorMs'], mark_compacts: w['gcMajorCount'], mark_compact_ms: w['gcMajorMs'] });
  };
  const latency = (w: PacedWindow): Record<string, number> => ({ p50: w.p50Ms, p999: w.p999Ms, max: w.maxMs, batches: w.batches, skipped: w.skipped });
  const batchMetrics = (name: string, windows: PacedWindow[]): void => {
    const [w, floor] = windows as [PacedWindow, PacedWindow | undefined];
    // The baseline is the floor's p99 in the same window; the ratio how far above it the resolver is.
    const baseline = floor === undefined ? {} : { baseline: floor.p99Ms, ratio: round3(w.p99Ms / floor.p99Ms) };
    emit(`batch_p99_${name}`, w.p99Ms, 'ms', { ...latency(w), ...baseline, target: 'p99 <= 2 ms' });
    if (floor !== undefined) emit(`floor_batch_p99_${name}`, floor.p99Ms, 'ms', latency(floor));
    if (w.degraded > 0) emit(`degraded_answers_${name}`, w.degraded, 'answers');
    emit(`item_error_share_${name}`, w.itemErrors / Math.max(1, w.decisions), 'share');
  };
  loopMetrics('ramp', rampLoop, 'p99 <= 2 ms');
  batchMetrics('ramp', rampClients);
  loopMetrics('after', afterLoop);
  batchMetrics('after', afterClients);
  if (rampLoop['profile']) process.stderr.write(`resolver CPU profile of the ramp: ${String(rampLoop['profile'])}\n`);
} finally {
  for (const c of cleanups) await c();
}
