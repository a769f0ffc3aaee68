/**
 * Prober benchmark: 10,000 fake edge nodes probed every 5 s (docs/architecture.md target: ≤ 60 % of one core,
 * ≤ 300 MB RSS, no leaked handles), then 1,000 nodes with and without keep-alive, counting the
 * sockets left in TIME_WAIT. The fleet runs in a child process so its CPU is not the prober's.
 *
 * Run: `npx tsc -b tsconfig.lib.json && node dist/bench/probe.bench.js` (from services/prober).
 * Environment: BENCH_NODES (10000), BENCH_DURATION_S (60), BENCH_LISTENERS (100, the fleet's shared
 * listeners, i.e. HTTP pools; = BENCH_NODES for one origin per node, as in production),
 * BENCH_FLEET_PROCESSES (1; 2 for 10k listeners), BENCH_TW_NODES (1000), BENCH_TW_DURATION_S (15 per mode).
 * Prints one JSON line per measurement.
 */
import { fork, execFileSync } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { NodeState } from '@cdn-sched/proto';
import type { FakeFleetOptions } from '@cdn-sched/testing';
import { createProbeScheduler, type ProbeTarget } from '../probing/index.js';
import type { FleetCommand, FleetMessage } from './fleet-process.js';

const env = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);
const NODES = env('BENCH_NODES', 10_000);
const DURATION_S = env('BENCH_DURATION_S', 60);
const LISTENERS = env('BENCH_LISTENERS', 100);
const FLEET_PROCESSES = env('BENCH_FLEET_PROCESSES', 1);
const TW_NODES = env('BENCH_TW_NODES', 1000);
const TW_DURATION_S = env('BENCH_TW_DURATION_S', 15);
const INTERVAL_MS = 5000;
// The histogram records whole sampling periods; the delay is what exceeds the period.
const ELD_RESOLUTION_MS = 10;
const HANDLE_KINDS = new Set(['TCPSocketWrap', 'TCPServerWrap', 'Timeout', 'ConnectWrap', 'PipeWrap', 'ProcessWrap']);

interface Fleet {
  targets: ProbeTarget[];
  ports: number[];
  totals(): Promise<Extract<FleetMessage, { type: 'totals' }>>;
  close(): Promise<void>;
}

function emit(metric: string, value: number, unit: string, extra: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ bench: 'prober', metric, value: Math.round(value * 1000) / 1000, unit, ...extra }));
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const handles = (): number => process.getActiveResourcesInfo().filter((r) => HANDLE_KINDS.has(r)).length;

async function startFleetProcess(options: FakeFleetOptions): Promise<Fleet> {
  const child = fork(new URL('./fleet-process.js', import.meta.url), [JSON.stringify(options)]);
  const next = (type: FleetMessage['type']): Promise<FleetMessage> =>
    new Promise((resolve, reject) => {
      const onMessage = (message: FleetMessage): void => {
        if (message.type !== type) return;
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(message);
      };
      const onExit = (code: number | null): void => reject(new Error(`fleet process exited (${code})`));
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  const ready = (await next('ready')) as Extract<FleetMessage, { type: 'ready' }>;
  const send = (command: FleetCommand): void => void child.send(command);
  return {
    targets: ready.nodes.map((n) => ({ nodeId: n.id, address: n.address, port: n.port, probe: { path: n.path }, state: NodeState.ACTIVE })),
    ports: [...new Set(ready.nodes.map((n) => n.port))],
    async totals() {
      const reply = next('totals');
      send({ type: 'totals' });
      return (await reply) as Extract<FleetMessage, { type: 'totals' }>;
    },
    async close() {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      send({ type: 'close' });
      await exited;
    },
  };
}

/**
 * `count` nodes on `listeners` shared listeners, spread over `processes` fleet processes (one process
 * cannot hold more than ~9k listeners and their connections under a 20k descriptor limit).
 */
async function startFleet(count: number, listeners: number, processes = 1): Promise<Fleet> {
  const parts = await Promise.all(
    Array.from({ length: processes }, (_, k) =>
      startFleetProcess({
        count: Math.floor(count / processes) + (k < count % processes ? 1 : 0),
        mode: 'virtual',
        listeners: Math.max(1, Math.floor(listeners / processes)),
        idPrefix: `f${k}-edge-`,
      }),
    ),
  );
  return {
    targets: parts.flatMap((p) => p.targets),
    ports: parts.flatMap((p) => p.ports),
    async totals() {
      const all = await Promise.all(parts.map((p) => p.totals()));
      return all.reduce((a, b) => ({
        type: 'totals',
        requests: a.requests + b.requests,
        connections: a.connections + b.connections,
        openConnections: a.openConnections + b.openConnections,
        cpuMs: a.cpuMs + b.cpuMs,
      }));
    },
    close: async () => void (await Promise.all(parts.map((p) => p.close()))),
  };
}

/** Sockets in TIME_WAIT with one of `ports` at either end (prober and fleet share the host). */
function timeWait(ports: readonly number[]): number {
  const out = execFileSync('ss', ['-Htan', 'state', 'time-wait'], { encoding: 'utf8' });
  const wanted = new Set(ports.map(String));
  let n = 0;
  for (const line of out.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 4) continue;
    const local = fields[fields.length - 2]!;
    const peer = fields[fields.length - 1]!;
    if (wanted.has(local.slice(local.lastIndexOf(':') + 1)) || wanted.has(peer.slice(peer.lastIndexOf(':') + 1))) n++;
  }
  return n;
}

async function fleetRun(): Promise<void> {
  const fleet = await startFleet(NODES, LISTENERS, FLEET_PROCESSES);
  const handlesBefore = handles();
  let results = 0;
  let up = 0;
  const scheduler = createProbeScheduler({
    defaults: { intervalMs: INTERVAL_MS, timeoutMs: 2000 },
    pool: { connections: 2 },
    onResult: (r) => {
      results++;
      if (r.ok) up++;
    },
  });
  const delay = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
  scheduler.setTargets(fleet.targets);
  // The first interval is the cold start (every node's first probe, every connection opened).
  await sleep(INTERVAL_MS);
  delay.enable();
  const resultsAtStart = results;
  const cpuAtStart = process.cpuUsage();
  const fleetAtStart = await fleet.totals();
  const wallAtStart = performance.now();
  let rssSteadyMax = 0;
  const sampler = setInterval(() => (rssSteadyMax = Math.max(rssSteadyMax, process.memoryUsage.rss())), 500);
  await sleep(DURATION_S * 1000 - INTERVAL_MS);
  clearInterval(sampler);
  const memory = process.memoryUsage();
  const wallS = (performance.now() - wallAtStart) / 1000;
  const cpu = process.cpuUsage(cpuAtStart);
  delay.disable();
  const fleetAtEnd = await fleet.totals();
  const stats = scheduler.stats();
  await scheduler.close();
  await sleep(100);
  const handlesAfter = handles();
  await fleet.close();

  const scheduled = NODES / (INTERVAL_MS / 1000);
  const achieved = (results - resultsAtStart) / wallS;
  const common = { nodes: NODES, intervalMs: INTERVAL_MS, windowS: Math.round(wallS), listeners: LISTENERS, fleetProcesses: FLEET_PROCESSES };
  emit('probes_per_s', achieved, '1/s', { baseline: scheduled, ratio: achieved / scheduled, ...common });
  emit('cpu_share_one_core', (cpu.user + cpu.system) / 1e6 / wallS, 'ratio', { baseline: 0.6, ratio: (cpu.user + cpu.system) / 1e6 / wallS / 0.6 });
  emit('fleet_cpu_share_one_core', (fleetAtEnd.cpuMs - fleetAtStart.cpuMs) / 1000 / wallS, 'ratio');
  const rssMb = (process.resourceUsage().maxRSS * 1024) / 2 ** 20;
  emit('rss_max', rssMb, 'MB', { baseline: 300, ratio: rssMb / 300 });
  emit('rss_steady_max', rssSteadyMax / 2 ** 20, 'MB', { baseline: 300, ratio: rssSteadyMax / 2 ** 20 / 300 });
  emit('heap_used_end', memory.heapUsed / 2 ** 20, 'MB', { heapTotal: Math.round(memory.heapTotal / 2 ** 20) });
  emit('event_loop_delay_p99', Math.max(0, delay.percentile(99) / 1e6 - ELD_RESOLUTION_MS), 'ms');
  emit('up_ratio', results > 0 ? up / results : 0, 'ratio');
  emit('probe_rtt_p99', stats.rttP99Ms, 'ms', { p50: stats.rttP50Ms });
  emit('fleet_tcp_connections', fleetAtEnd.connections, 'count', { pools: stats.pools, openedAfterColdStart: fleetAtEnd.connections - fleetAtStart.connections });
  emit('active_handles_after_teardown', handlesAfter, 'count', { baseline: handlesBefore });
}

async function timeWaitRun(keepAlive: boolean): Promise<{ probes: number; timeWait: number }> {
  const fleet = await startFleet(TW_NODES, 10);
  const before = timeWait(fleet.ports);
  let probes = 0;
  const scheduler = createProbeScheduler({
    defaults: { intervalMs: INTERVAL_MS, timeoutMs: 2000 },
    pool: { connections: 2, keepAlive },
    onResult: () => void probes++,
  });
  scheduler.setTargets(fleet.targets);
  await sleep(TW_DURATION_S * 1000);
  // Counted before teardown: closing the pools adds a handful of TIME_WAITs of its own.
  const after = timeWait(fleet.ports);
  await scheduler.close();
  await fleet.close();
  return { probes, timeWait: after - before };
}

async function main(): Promise<void> {
  await fleetRun();
  const kept = await timeWaitRun(true);
  const fresh = await timeWaitRun(false);
  const extra = { nodes: TW_NODES, durationS: TW_DURATION_S };
  emit('time_wait_keepalive', kept.timeWait, 'sockets', { probes: kept.probes, ...extra });
  emit('time_wait_no_keepalive', fresh.timeWait, 'sockets', {
    probes: fresh.probes,
    baseline: kept.timeWait,
    ...(kept.timeWait > 0 ? { ratio: fresh.timeWait / kept.timeWait } : {}),
    ...extra,
  });
}

await main();
