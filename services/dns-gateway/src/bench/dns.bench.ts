/**
 * DNS benchmark (`npm run bench -- dns`): dnsperf against, in one run,
 * - the dns-gateway (1 worker) with its caches (the hit path), with its answer cache only (packet
 *   cache off: every hit read, looked up and written), and without caches (every query
 *   decided by the resolver over ResolveStream), in front of a real local mesh (etcd,
 *   config-watcher, weight-calculator, resolver; no probers: edges answer at their cold-start weight);
 * - the gateway without caches in front of a decider that decides nothing (decider-floor.ts: every
 *   query answered at once with one fixed decision), its latency run at the rate of the one in front
 *   of the resolver: the decision hop's floor on this machine, the baseline of the p99 it adds;
 * - a bare Node `dgram` responder answering a fixed record (the platform's floor), and the same
 *   responder with the gateway's numeric address lookup for its replies (what that alone is worth);
 * - gdnsd 3 with one UDP thread and a static zone with the same names (the C ceiling; static
 *   records, no geoip/weighted plugin);
 * - PowerDNS Authoritative (bind backend, one receiver thread, packet and query caches off) with
 *   the same names static, and as LUA records doing a weighted pick per query (`pickwrandom`);
 * - the gateway with `--workers 1` and `--workers 2`, cache on, neither it nor dnsperf pinned
 *   (the machine has 2 cores: the pinned runs give the gateway one core, so they cannot show scaling).
 *   BENCH_WORKER_CPU=<cores> caps each of these gateways' worker processes at that many CPUs (a
 *   cgroup each, CFS bandwidth control; needs root), so that two workers and dnsperf fit on the
 *   machine: dnsperf is then not the limit, and the ratio shows whether the workers' capacity adds
 *   up rather than how three busy processes share two cores.
 * Pinned runs put every thread of the target on CPU 0 and dnsperf on CPU 1 (taskset), so they do
 * not share a core; the mesh behind the gateway is not pinned. BENCH_PIN=0 pins nothing (on a
 * machine shared with other work a pinned process is starved).
 * Every target is started first; then BENCH_REPEATS [3] rounds go round-robin over the targets, each
 * unmeasured passes over the query file, one per worker (so a cache-on run is of a warm cache, as a
 * gateway in service is; the cold misses are what the cache-off run measures), a closed-loop throughput run
 * (BENCH_SECONDS [3] seconds, 100 queries outstanding) and a latency
 * run at half that rate with dnsperf's per-query output (-v) for p50/p99; CPU per query from /proc
 * (the target's whole process tree). Figures are the median of the rounds; each QPS line also gives
 * `ratioPairedByRound`, the median of the rounds' ratios to the Node floor. Every query carries its
 * own EDNS Client Subnet: the client /24 (/56) of an address sampled from the IP data by `cdnctl
 * gen-queries` (see writeQueryFile); the answer cache's fresh-hit share of each run is reported.
 * BENCH_ONLY selects targets by name; BENCH_PROFILE_DIR makes the gateways write CPU profiles.
 * Needs dnsperf, gdnsd and pdns-server + pdns-backend-bind (Debian: apt-get install dnsperf gdnsd
 * pdns-server pdns-backend-bind); a missing gdnsd or PowerDNS is reported and skipped.
 * Prints one JSON line per figure.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalMesh } from '@cdn-sched/local-mesh';
import { getFreePort, startServiceProcess, type ServiceProcess } from '@cdn-sched/local-processes';
import { limitCpu, processTree, processTreeCpuSeconds, scrape, servingProcesses } from '@cdn-sched/testing';
import { addressBytes } from '../dns/ecs-option.js';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 3);
const REPEATS = Number(process.env['BENCH_REPEATS'] ?? 3);
/** BENCH_PIN=0 leaves every process unpinned (a machine shared with other work starves a pinned one). */
const PIN = process.env['BENCH_PIN'] !== '0';
/** BENCH_ONLY=floor,cache on: only targets whose name contains one of these (all when unset). */
const ONLY = (process.env['BENCH_ONLY'] ?? '').split(',').map((x) => x.trim()).filter(Boolean);
const wanted = (name: string): boolean => ONLY.length === 0 || ONLY.some((o) => name.includes(o));
/** BENCH_PROFILE_DIR=<dir>: the gateways write a V8 CPU profile there when they stop (open it in Chrome DevTools). */
const PROFILE_DIR = process.env['BENCH_PROFILE_DIR'];
const BENCH = 'dns';
/**
 * BENCH_DIAG=1: for each target's latency run, print (stderr) the percentiles of its answers'
 * latencies (p50 … p99.9: whether a target's p99 is a tail or a shifted whole), and for each
 * gateway's, what its decisions' round trips, its garbage collections and the resolver's (GC pauses,
 * batch handling times, table rebuilds) did in that run, from their /metrics histograms.
 */
const DIAG = process.env['BENCH_DIAG'] === '1';
/** BENCH_MESH_CPUS=<taskset list>: pin the mesh's processes (etcd, config-watcher, weight-calculator, resolver) there. */
const MESH_CPUS = process.env['BENCH_MESH_CPUS'];
/** BENCH_GATEWAY_NODE_FLAGS: flags for the gateways' node (e.g. `--max-semi-space-size=32`). */
const GATEWAY_NODE_FLAGS = process.env['BENCH_GATEWAY_NODE_FLAGS'] ?? '';
/**
 * BENCH_RESOLVER_NODE_FLAGS: options for the resolver's node, given as NODE_OPTIONS after the ones
 * it ships with (its package.json's `cdnSched.nodeOptions`), e.g. `--max-semi-space-size=16`. A V8
 * flag NODE_OPTIONS refuses (`--no-parallel-scavenge`) can be set by a module given with `--import`
 * that calls `v8.setFlagsFromString`.
 */
const RESOLVER_NODE_FLAGS = process.env['BENCH_RESOLVER_NODE_FLAGS'] ?? '';
/** BENCH_WORKER_CPU=<cores>: the CPU cap of each worker of the `--workers 1` / `--workers 2` gateways (unset: none). */
const WORKER_CPU = process.env['BENCH_WORKER_CPU'] ? Number(process.env['BENCH_WORKER_CPU']) : undefined;
/** Said in the names of the capped gateways. */
const capped = WORKER_CPU === undefined ? '' : `, each worker capped at ${WORKER_CPU} CPU`;

interface Target {
  name: string;
  port: number;
  pid: number;
  /** Pin the target to CPU 0 and dnsperf to CPU 1. */
  pinned: boolean;
  /**
   * A gateway's metrics endpoints, one per worker: the answer cache's hits and misses per run,
   * summed; the first worker's GC and decision figures for BENCH_DIAG.
   */
  metricsUrls?: string[];
  /**
   * The target whose throughput in the same round sets this one's latency-run rate (half of it),
   * instead of its own: two targets compared by their p99 are then offered the same load.
   */
  latencyRateOf?: string;
  /**
   * Passes over the query file before each run [1]: a query reaches one worker, and each worker has
   * its own cache, so N workers need N passes to be about as warm as one worker after one.
   */
  warmPasses?: number;
}
interface Measured {
  qps: number;
  /** Share of answers with NOERROR (a target answering FORMERR or SERVFAIL fast is no result). */
  noErrorPct: number;
  lossPct: number;
  /** Share of cache lookups that were fresh hits during the throughput run (NaN: no cache figures). */
  cacheHitPct: number;
  /** Share of the fresh hits answered from the packet cache (a copy of the reply to the same query bytes). */
  packetHitPct: number;
  cpuUsPerQuery: number;
  p50Ms: number;
  p99Ms: number;
}

const emit = (metric: string, value: number, unit: string, extra: Record<string, unknown> = {}): void =>
  console.log(JSON.stringify({ bench: BENCH, metric, value: Math.round(value * 1000) / 1000, unit, ...extra }));

function run(cmd: string, args: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 }, (error, stdout) => {
      if (error && !stdout) reject(new Error(`${cmd} failed: ${error.message}`));
      else resolve(stdout);
    });
  });
}

/**
 * As {@link run}, but the command's stdout goes to a file, read once it exits. dnsperf's per-query
 * lines (-v, ~70 k in a latency run) written into a pipe block dnsperf whenever this process is slow
 * to read them, and a reply that arrives meanwhile is timed late: on an otherwise idle machine the
 * Node floor's p99 at half rate was 2.2–2.5 ms through a pipe and 0.87–1.1 ms into a file.
 */
async function runToFile(cmd: string, args: readonly string[], timeoutMs: number): Promise<string> {
  const file = join(dir, `out-${process.pid}-${Date.now()}.txt`);
  const fd = openSync(file, 'w');
  try {
    const child = spawn(cmd, args, { stdio: ['ignore', fd, 'ignore'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (c) => resolve(c));
    }).finally(() => clearTimeout(timer));
    if (code !== 0) throw new Error(`${cmd} exited with ${code}`);
    return readFileSync(file, 'utf8');
  } finally {
    closeSync(fd);
    rmSync(file, { force: true });
  }
}

const median = (xs: number[]): number => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** dnsperf's command line for a target (on CPU 1 when the target is pinned to CPU 0), without -l. */
function dnsperf(t: Target, queryFile: string): string[] {
  return [...(t.pinned ? ['taskset', '-c', '1'] : []), 'dnsperf', '-s', '127.0.0.1', '-p', String(t.port), '-d', queryFile, '-B', '-q', '100', '-t', '2'];
}

/** One round of a target; `latencyQps`: the rate of its latency run (default: half its own throughput). */
async function measureOnce(t: Target, queryFile: string, latencyQps?: number): Promise<Measured> {
  const perf = dnsperf(t, queryFile);
  // Every run starts warm: the round-robin puts ~40 s between a target's runs, longer than the
  // 30 s TTL of the consistent domain's per-/24 answers, so without this a cache-on run would
  // spend its first pass over the query file refilling the cache (the sixth session's 82 % hits;
  // a 1 s warm-up, less than a pass at 18 k queries/s, still left 87 %).
  await warmUp(t, queryFile);
  const cache0 = await cacheLookups(t);
  const cpu0 = processTreeCpuSeconds(t.pid);
  const out = await run(perf[0]!, [...perf.slice(1), '-l', String(SECONDS)], (SECONDS + 20) * 1000);
  const cpu1 = processTreeCpuSeconds(t.pid);
  const cache1 = await cacheLookups(t);
  const lookups = cache1.hit + cache1.miss + cache1.stale - (cache0.hit + cache0.miss + cache0.stale);
  const cacheHitPct = lookups > 0 ? ((cache1.hit - cache0.hit) / lookups) * 100 : Number.NaN;
  const packetHitPct = cache1.hit > cache0.hit ? ((cache1.packet - cache0.packet) / (cache1.hit - cache0.hit)) * 100 : Number.NaN;
  const completed = Number(/Queries completed:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const sent = Number(/Queries sent:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const qps = Number(/Queries per second:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  // Latency at half the saturation rate, from dnsperf's per-query lines ("> NOERROR name type 0.000123").
  const diagUrl = DIAG ? t.metricsUrls?.[0] : undefined;
  const diag0 = diagUrl ? await diagnostics(diagUrl) : undefined;
  const verbose = await runToFile(perf[0]!, [...perf.slice(1), '-l', '2', '-Q', String(Math.max(100, Math.round(latencyQps ?? qps / 2))), '-v'], 60_000);
  const lat: number[] = [];
  for (const line of verbose.split('\n')) {
    if (!line.startsWith('>')) continue;
    const v = Number(line.trim().split(/\s+/).pop());
    if (Number.isFinite(v)) lat.push(v * 1000);
  }
  lat.sort((a, b) => a - b);
  if (diag0 && diagUrl) reportDiagnostics(t.name, diag0, await diagnostics(diagUrl));
  const pct = (p: number): number => (lat.length ? lat[Math.min(lat.length - 1, Math.ceil(p * lat.length) - 1)]! : Number.NaN);
  if (DIAG) process.stderr.write(`${t.name} latency run, ${lat.length} answers: ${[0.5, 0.9, 0.95, 0.99, 0.999].map((p) => `p${p * 100} ${pct(p).toFixed(2)}`).join(", ")} ms\n`);
  const noErrorPct = Number(/NOERROR \d+ \(([\d.]+)%\)/.exec(out)?.[1] ?? 0);
  return { qps, noErrorPct, lossPct: sent ? ((sent - completed) / sent) * 100 : 100, cacheHitPct, packetHitPct, cpuUsPerQuery: completed ? ((cpu1 - cpu0) * 1e6) / completed : Number.NaN, p50Ms: pct(0.5), p99Ms: pct(0.99) };
}

/** A gateway's `cdn_dns_cache_total` by result, summed over its workers (zeros for other targets). */
async function cacheLookups(t: Target): Promise<{ hit: number; miss: number; stale: number; packet: number }> {
  const counts = { hit: 0, miss: 0, stale: 0, packet: 0 };
  for (const url of t.metricsUrls ?? []) {
    const s = await scrape(`${url}/metrics`);
    for (const result of ['hit', 'miss', 'stale'] as const) counts[result] += s.sum('cdn_dns_cache_total', { result });
    counts.packet += s.sum('cdn_dns_packet_cache_hits_total');
  }
  return counts;
}

/** Histogram buckets (upper bound → cumulative count) of one metric, summed over its label sets. */
type Buckets = Map<number, number>;
interface Diagnostics {
  decision: Buckets;
  gatewayMinorGc: Buckets;
  gatewayMajorGc: Buckets;
  resolverGc: Buckets;
  resolverRequests: Buckets;
  resolverRebuilds: Buckets;
}

async function diagnostics(gatewayMetrics: string): Promise<Diagnostics> {
  const gateway = await scrape(`${gatewayMetrics}/metrics`);
  const resolver = await scrape(`${resolverMetricsUrl()}/metrics`);
  return {
    decision: gateway.buckets('cdn_dns_decision_seconds'),
    gatewayMinorGc: gateway.buckets('nodejs_gc_pause_seconds', { kind: 'minor' }),
    gatewayMajorGc: gateway.buckets('nodejs_gc_pause_seconds', { kind: 'major' }),
    resolverGc: resolver.buckets('nodejs_gc_pause_seconds'),
    resolverRequests: resolver.buckets('cdn_resolver_request_duration_seconds'),
    resolverRebuilds: resolver.buckets('cdn_resolver_table_rebuild_seconds'),
  };
}

/** Count, and the bucket bounds holding the 50th and 99th percentiles and the largest value, of a histogram's growth between two scrapes. */
function describeDelta(before: Buckets, after: Buckets): string {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const delta = bounds.map((b) => (after.get(b) ?? 0) - (before.get(b) ?? 0));
  const total = delta.at(-1) ?? 0;
  if (total === 0) return 'none';
  const at = (q: number): string => {
    const i = delta.findIndex((c) => c >= q * total);
    return i < 0 ? '?' : `≤ ${bounds[i]! * 1000} ms`;
  };
  return `${total}, p50 ${at(0.5)}, p99 ${at(0.99)}, max ${at(1)}`;
}

function reportDiagnostics(name: string, before: Diagnostics, after: Diagnostics): void {
  process.stderr.write(
    `${name} latency run: decisions ${describeDelta(before.decision, after.decision)}; gateway minor GC ${describeDelta(before.gatewayMinorGc, after.gatewayMinorGc)}, major ${describeDelta(before.gatewayMajorGc, after.gatewayMajorGc)}; resolver GC ${describeDelta(before.resolverGc, after.resolverGc)}, requests ${describeDelta(before.resolverRequests, after.resolverRequests)}, table rebuilds ${describeDelta(before.resolverRebuilds, after.resolverRebuilds)}\n`,
  );
}

/** Pins every thread of `pid` and of its descendants to `cpus` (a taskset list); best effort. */
async function pinTree(pid: number, cpus: string): Promise<void> {
  for (const p of processTree(pid)) await run('taskset', ['-a', '-pc', cpus, String(p)], 5000).catch(() => '');
}

/** Pins a pinned target's every thread to CPU 0, then warms it up (JIT, caches). */
async function prepare(t: Target, queryFile: string): Promise<void> {
  if (t.pinned) await pinTree(t.pid, '0');
  await warmUp(t, queryFile);
}

/** Unmeasured passes over the query file (dnsperf -n), at the target's own rate. */
async function warmUp(t: Target, queryFile: string): Promise<void> {
  const perf = dnsperf(t, queryFile);
  await run(perf[0]!, [...perf.slice(1), '-n', String(t.warmPasses ?? 1)], 60_000);
}

/** Median of each figure over the rounds. */
function summarise(t: Target, rounds: readonly Measured[]): Measured {
  process.stderr.write(`${t.name}: QPS ${rounds.map((r) => Math.round(r.qps)).join(' / ')}; p99 ${rounds.map((r) => r.p99Ms.toFixed(2)).join(' / ')} ms\n`);
  const m = (k: keyof Measured): number => median(rounds.map((r) => r[k]));
  return { qps: m('qps'), noErrorPct: m('noErrorPct'), lossPct: m('lossPct'), cacheHitPct: m('cacheHitPct'), packetHitPct: m('packetHitPct'), cpuUsPerQuery: m('cpuUsPerQuery'), p50Ms: m('p50Ms'), p99Ms: m('p99Ms') };
}

function waitForStderr(child: ChildProcess, text: string, timeoutMs: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    let err = '';
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes(text)) {
        clearTimeout(timer);
        resolve(true);
      }
    });
    child.once('error', () => resolve(false));
    child.once('exit', () => resolve(false));
  });
}

/** Starts one of this folder's helper scripts (`<script>.js`), which prints `listening <port>` once it serves. */
async function startHelper(script: string, args: readonly string[]): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [join(import.meta.dirname, `${script}.js`), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(Number(/listening (\d+)/.exec(d.toString())?.[1])));
    child.once('exit', (c) => reject(new Error(`${script} exited with ${c}`)));
  });
  return { child, port };
}

const NODE_FLOOR = 'node dgram floor';
const NODE_FLOOR_NUMERIC = 'node dgram floor, numeric lookup';

async function startBare(): Promise<{ target: Target; child: ChildProcess }> {
  const { child, port } = await startHelper('bare-responder', ['0']);
  return { target: { name: NODE_FLOOR, port, pid: child.pid!, pinned: PIN }, child };
}

/** The floor with the gateway's numeric address lookup (udp-server.ts `numericLookup`). */
async function startBareNumericLookup(): Promise<{ target: Target; child: ChildProcess }> {
  const { child, port } = await startHelper('bare-responder', ['0', 'numeric-lookup']);
  return { target: { name: NODE_FLOOR_NUMERIC, port, pid: child.pid!, pinned: PIN }, child };
}

/** The same names as the mesh serves, static: music one A, video two A (what the decisions return). */
const STATIC_RECORDS = 'music 60 IN A 127.0.0.11\nvideo 30 IN A 127.0.0.11\nvideo 30 IN A 127.0.0.12\n';

/** The decider that decides nothing (decider-floor.ts), on loopback; its address. */
async function startDeciderFloor(): Promise<{ child: ChildProcess; address: string }> {
  const { child, port } = await startHelper('decider-floor', []);
  if (MESH_CPUS) await pinTree(child.pid!, MESH_CPUS);
  return { child, address: `127.0.0.1:${port}` };
}

async function startGdnsd(dir: string): Promise<{ target: Target; child: ChildProcess } | undefined> {
  const port = await getFreePort();
  mkdirSync(join(dir, 'zones'), { recursive: true });
  writeFileSync(join(dir, 'config'), `options => {\n  listen => [ 127.0.0.1:${port} ]\n  udp_threads => 1\n  tcp_threads => 1\n  run_dir => ${dir}/run\n  state_dir => ${dir}/state\n}\n`);
  writeFileSync(join(dir, 'zones', 'bench.example'), `@ 30 SOA ns1 hostmaster 1 3600 600 86400 30\n@ 3600 NS ns1\nns1 A 127.0.0.1\n${STATIC_RECORDS}`);
  const child = spawn('gdnsd', ['-c', dir, 'start'], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (!(await waitForStderr(child, 'DNS listeners started', 20_000))) {
    child.kill('SIGKILL');
    process.stderr.write('gdnsd did not start (Debian: apt-get install gdnsd); skipped\n');
    return undefined;
  }
  return { target: { name: 'gdnsd 1 thread', port, pid: child.pid!, pinned: PIN }, child };
}

/**
 * PowerDNS Authoritative, bind backend, one receiver thread, its packet and query caches off (so
 * LUA records run per query, as the gateway decides per query with its cache off).
 */
async function startPowerDns(dir: string, lua: boolean): Promise<{ target: Target; child: ChildProcess } | undefined> {
  const port = await getFreePort();
  mkdirSync(dir, { recursive: true });
  const records = lua
    ? // A weighted pick per query among the three edges (the gateway's weighted strategy).
      `music 60 IN LUA A "pickwrandom({{100,'127.0.0.11'},{100,'127.0.0.12'},{100,'127.0.0.13'}})"\nvideo 30 IN LUA A "pickwrandom({{100,'127.0.0.11'},{100,'127.0.0.12'},{100,'127.0.0.13'}})"\n`
    : STATIC_RECORDS;
  writeFileSync(join(dir, 'bench.example.zone'), `$ORIGIN bench.example.\n@ 30 IN SOA ns1 hostmaster 1 3600 600 86400 30\n@ 3600 IN NS ns1\nns1 IN A 127.0.0.1\n${records}`);
  writeFileSync(join(dir, 'named.conf'), `zone "bench.example" { type master; file "${dir}/bench.example.zone"; };\n`);
  writeFileSync(
    join(dir, 'pdns.conf'),
    [
      'launch=bind',
      `bind-config=${dir}/named.conf`,
      'local-address=127.0.0.1',
      `local-port=${port}`,
      `socket-dir=${dir}`,
      'enable-lua-records=yes',
      'receiver-threads=1',
      'distributor-threads=1',
      'guardian=no',
      'daemon=no',
      'disable-syslog=yes',
      'security-poll-suffix=',
      'cache-ttl=0',
      'query-cache-ttl=0',
      'negquery-cache-ttl=0',
      'loglevel=6',
      '',
    ].join('\n'),
  );
  const child = spawn('pdns_server', [`--config-dir=${dir}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  const started = (await waitForStderr(child, 'Done parsing domains', 20_000)) && (await run('dig', ['@127.0.0.1', '-p', String(port), 'music.bench.example', '+short', '+tries=5'], 20_000).catch(() => '')).includes('127.0.0.');
  if (!started) {
    child.kill('SIGKILL');
    process.stderr.write('pdns_server did not start (Debian: apt-get install pdns-server pdns-backend-bind); skipped\n');
    return undefined;
  }
  return { target: { name: lua ? 'powerdns LUA' : 'powerdns static', port, pid: child.pid!, pinned: PIN }, child };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await gone;
  clearTimeout(timer);
}

/** Queries in the file dnsperf loops over; each distinct client /24 is a separate cache key until its scope is known. */
const QUERY_COUNT = 20_000;

/** The gateway without caches in front of decider-floor.ts. */
const DECIDER_FLOOR = 'gateway cache off, decider floor';

/** One query in wire form: RD, the question, and an OPT (1232 bytes) carrying an ECS option for `subnet`. */
function wireQuery(name: string, qtype: number, ip: string): Buffer {
  const v6 = ip.includes(':');
  // The prefix a recursive resolver sends for a client (RFC 7871 §11.1: /24 and /56).
  const prefix = v6 ? 56 : 24;
  const full = addressBytes(ip);
  const address = Buffer.from(full.subarray(0, prefix / 8));
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'ascii')]));
  const header = Buffer.from([0, 0, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 1]);
  const question = Buffer.concat([...labels, Buffer.from([0, qtype >> 8, qtype & 0xff, 0, 1])]);
  const ecs = Buffer.concat([Buffer.from([0, 8, 0, 4 + address.length, 0, v6 ? 2 : 1, prefix, 0]), address]);
  const opt = Buffer.concat([Buffer.from([0, 0, 41, 1232 >> 8, 1232 & 0xff, 0, 0, 0, 0, 0, ecs.length]), ecs]);
  return Buffer.concat([header, question, opt]);
}

/**
 * The realistic query file: client addresses sampled from the IP data by `cdnctl gen-queries`
 * (provinces and ISPs weighted as the generator weights them, a share overseas), each sent as the
 * client's /24 (/56) in an ECS option; three A queries to one AAAA. dnsperf's `-E` can only send
 * one fixed option, so the file is in dnsperf's binary input format (`-B`: each message with a
 * 2-byte length, as on TCP), which carries every query's own option.
 */
async function writeQueryFile(path: string): Promise<void> {
  const cdnctl = join(import.meta.dirname, '..', '..', '..', 'cdnctl', 'dist', 'main.js');
  const text = await run(process.execPath, [cdnctl, 'gen-queries', '--count', String(QUERY_COUNT), '--seed', '13', '--domains', 'music.bench.example,video.bench.example'], 120_000).catch((error: Error) => {
    throw new Error(`cannot generate the query file with cdnctl (build it: npx nx run cdnctl:build): ${error.message}`);
  });
  const frames: Buffer[] = [];
  for (const [i, line] of text.trim().split('\n').entries()) {
    const [ip, name] = line.trim().split(/\s+/) as [string, string];
    const message = wireQuery(name, i % 4 === 3 ? 28 : 1, ip.split('/')[0]!);
    frames.push(Buffer.from([message.length >> 8, message.length & 0xff]), message);
  }
  writeFileSync(path, Buffer.concat(frames));
}

const dir = mkdtempSync(join(tmpdir(), 'dns-bench-'));
const queryFile = join(dir, 'queries.bin');
await writeQueryFile(queryFile);
const mesh = await createLocalMesh({
  edges: [
    { id: 'gd-ct-1', country: 'CN', region: 'CN-GD', isp: 'ct', capacity: 1000 },
    { id: 'gd-ct-2', country: 'CN', region: 'CN-GD', isp: 'ct', capacity: 1000 },
    { id: 'us-1', country: 'US', capacity: 1000 },
  ],
  domains: [
    { domain: 'music.bench.example', pool: 'p', answers: 1, ttl: 60, strategy: 'weighted', fallback: ['isp+region', 'any'] },
    { domain: 'video.bench.example', pool: 'p', answers: 2, ttl: 30, strategy: 'consistent', fallback: ['isp+region', 'any'] },
  ],
  probers: 0,
  edgeHostOf: (i) => `127.0.0.${11 + i}`,
  ...(RESOLVER_NODE_FLAGS === '' ? {} : { env: { resolver: { NODE_OPTIONS: RESOLVER_NODE_FLAGS } } }),
});
/** The (first) resolver's metrics endpoint. */
function resolverMetricsUrl(): string {
  const url = mesh.resolvers[0]?.process.logs.find((l) => l['msg'] === 'metrics server listening')?.['metrics'];
  if (typeof url !== 'string') throw new Error('the resolver did not log its metrics address');
  return url;
}
if (MESH_CPUS) {
  const pids = [mesh.etcd?.pid, ...mesh.services.map((s) => s.process.pid)].filter((p): p is number => p !== undefined);
  for (const pid of pids) await pinTree(pid, MESH_CPUS);
}
/**
 * A gateway in front of the mesh, as the local mesh starts one but with a start bound for several
 * workers on a loaded machine (each worker loads the service on its own); ready once every worker
 * listens.
 */
const workers = (env: Record<string, string>): number => Number(env['DNS_WORKERS'] ?? 1);

async function startGateway(env: Record<string, string>): Promise<{ process: ServiceProcess; port: number }> {
  const count = workers(env);
  const process = await startServiceProcess({
    service: 'dns-gateway',
    nodeArgs: [...(PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : []), ...GATEWAY_NODE_FLAGS.split(' ').filter(Boolean)],
    env: { LOG_LEVEL: 'info', CONFIG_WATCHER: mesh.configWatcher.address, RESOLVERS: mesh.resolvers.map((r) => r.address).join(','), DNS_HOST: '127.0.0.1', DNS_PORT: '0', METRICS_PORT: '0', DNS_WORKERS: '1', TRACE_RATIO: '0', ...env },
    startTimeoutMs: 120_000,
  });
  const deadline = Date.now() + 120_000;
  while (process.logs.filter((l) => l['msg'] === 'dns-gateway listening').length < count) {
    if (Date.now() > deadline) throw new Error(`dns-gateway: ${count} workers did not all start`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { process, port: Number(process.logs.find((l) => l['msg'] === 'dns-gateway listening')!['udpPort']) };
}

const results = new Map<string, Measured>();
// Every round of every target, in round order: round i of each target ran in the same pass.
const rounds = new Map<string, Measured[]>();
// Other work on the machine skews every figure; the load is printed so a reader can judge.
const loadAtStart = loadavg()[0]!;
const stops: (() => Promise<unknown>)[] = [];
try {
  // Every target is started once and the rounds go round-robin over them, so a burst of other work
  // on the machine hits every target alike rather than whichever was being measured.
  const targets: Target[] = [];
  // [name, settings, pinned, capped (BENCH_WORKER_CPU), latencyRateOf]
  const gateways: [string, Record<string, string>, boolean, boolean, string?][] = [
    ['gateway cache on', {}, PIN, false],
    ['gateway cache off', { CACHE_MAX_ENTRIES: '0' }, PIN, false],
    // What the answer cache alone reaches: every hit read, looked up and written.
    ['gateway answer cache only', { PACKET_CACHE_MAX_ENTRIES: '0' }, PIN, false],
    [`gateway 1 worker cache on, unpinned${capped}`, {}, false, true],
    [`gateway 2 workers cache on, unpinned${capped}`, { DNS_WORKERS: '2' }, false, true],
  ];
  if (wanted(DECIDER_FLOOR)) {
    const floor = await startDeciderFloor();
    stops.push(() => stopChild(floor.child));
    gateways.splice(2, 0, [DECIDER_FLOOR, { CACHE_MAX_ENTRIES: '0', RESOLVERS: floor.address }, PIN, false, 'gateway cache off']);
  }
  for (const [name, env, pinned, cap, latencyRateOf] of gateways) {
    if (!wanted(name)) continue;
    const g = await startGateway(env);
    stops.push(() => g.process.stop());
    if (cap && WORKER_CPU !== undefined) {
      const quota = limitCpu(servingProcesses(g.process.pid), WORKER_CPU, 'cdn-sched-bench-dns');
      stops.push(async () => quota.release());
    }
    // One answered query proves the domains arrived and the resolver is reachable.
    await run('dig', ['@127.0.0.1', '-p', String(g.port), 'music.bench.example', '+subnet=1.0.8.0/24', '+short', '+tries=5'], 20_000);
    // Each worker has its own cache and metrics endpoint: the hit ratio is summed over them.
    const metricsUrls = g.process.logs.filter((l) => l['msg'] === 'metrics server listening').map((l) => String(l['metrics']));
    targets.push({ name, port: g.port, pid: g.process.pid, pinned, metricsUrls, warmPasses: workers(env), ...(latencyRateOf ? { latencyRateOf } : {}) });
  }
  const others = [() => startBare(), () => startBareNumericLookup(), () => startGdnsd(join(dir, 'gdnsd')), () => startPowerDns(join(dir, 'pdns-static'), false), () => startPowerDns(join(dir, 'pdns-lua'), true)];
  for (const start of others) {
    const started = await start();
    if (!started) continue;
    if (!wanted(started.target.name)) {
      await stopChild(started.child);
      continue;
    }
    stops.push(() => stopChild(started.child));
    targets.push(started.target);
  }
  for (const t of targets) await prepare(t, queryFile);
  for (const t of targets) rounds.set(t.name, []);
  for (let i = 0; i < REPEATS; i++) {
    for (const t of targets) {
      const rateOf = t.latencyRateOf === undefined ? undefined : rounds.get(t.latencyRateOf)?.[i];
      rounds.get(t.name)!.push(await measureOnce(t, queryFile, rateOf && rateOf.qps / 2));
    }
  }
  for (const t of targets) results.set(t.name, summarise(t, rounds.get(t.name)!));
} finally {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  await mesh.close();
  rmSync(dir, { recursive: true, force: true });
}

const floor = results.get(NODE_FLOOR);
const numericFloor = results.get(NODE_FLOOR_NUMERIC);
const ceiling = results.get('gdnsd 1 thread');
const targets: Record<string, string> = { 'gateway cache on': '≥ 0.8× node floor', 'gateway cache off': '≥ 0.4× node floor' };
const r2 = (x: number): number => Math.round(x * 100) / 100;
/**
 * The median over rounds of (this target's QPS in round i ÷ the floor's in round i): the two ran
 * in the same pass, a few seconds apart, so a slow phase of the machine that lasts a pass moves
 * both. `ratio` (median QPS ÷ median QPS) is the figure the log has always given.
 */
const pairedRatio = (name: string): number | undefined => {
  const mine = rounds.get(name);
  const base = rounds.get(NODE_FLOOR);
  if (!mine || !base || mine.length !== base.length) return undefined;
  return median(mine.map((m, i) => m.qps / base[i]!.qps));
};
for (const [name, m] of results) {
  const paired = pairedRatio(name);
  emit(`${name} QPS`, m.qps, 'q/s', {
    ...(floor ? { baseline: floor.qps, ratio: r2(m.qps / floor.qps) } : {}),
    ...(paired !== undefined ? { ratioPairedByRound: r2(paired) } : {}),
    ...(ceiling ? { vsGdnsd: r2(m.qps / ceiling.qps) } : {}),
    ...(numericFloor ? { vsFloorWithNumericLookup: r2(m.qps / numericFloor.qps) } : {}),
    target: targets[name] ?? '',
  });
  emit(`${name} loss`, m.lossPct, '%');
  if (Number.isFinite(m.cacheHitPct)) emit(`${name} answer cache fresh hits`, m.cacheHitPct, '% of lookups');
  if (Number.isFinite(m.packetHitPct)) emit(`${name} packet cache share of the hits`, m.packetHitPct, '% of fresh hits');
  emit(`${name} NOERROR answers`, m.noErrorPct, '%');
  emit(`${name} CPU per query`, m.cpuUsPerQuery, 'µs');
  emit(`${name} p50 at half rate`, m.p50Ms, 'ms');
  emit(`${name} p99 at half rate`, m.p99Ms, 'ms');
}
const on = results.get('gateway cache on');
const off = results.get('gateway cache off');
const deciderFloor = results.get(DECIDER_FLOOR);
if (on && off) {
  emit('p99 added by the decision stream (cache off − cache on, each at half its rate)', off.p99Ms - on.p99Ms, 'ms', {
    // The ratio only when the floor adds something (a difference of two p99s can come out ≤ 0).
    ...(deciderFloor && deciderFloor.p99Ms > on.p99Ms ? { baseline: deciderFloor.p99Ms - on.p99Ms, ratio: r2((off.p99Ms - on.p99Ms) / (deciderFloor.p99Ms - on.p99Ms)) } : {}),
    target: '≤ 2 ms',
  });
}
if (on && deciderFloor) emit('p99 added by the decision hop alone (decider floor − cache on)', deciderFloor.p99Ms - on.p99Ms, 'ms');
if (off && deciderFloor) emit('gateway cache off p99 vs the decider floor at the same rate', off.p99Ms / deciderFloor.p99Ms, 'ratio', { difference_ms: r2(off.p99Ms - deciderFloor.p99Ms) });
const lua = results.get('powerdns LUA');
if (off && lua) emit('gateway cache off vs powerdns LUA', off.qps / lua.qps, 'ratio', { target: '> 1' });
const w1 = results.get(`gateway 1 worker cache on, unpinned${capped}`);
const w2 = results.get(`gateway 2 workers cache on, unpinned${capped}`);
if (w1 && w2) {
  emit(`--workers 2 vs 1 (unpinned, dnsperf on the same 2 cores${capped})`, w2.qps / w1.qps, 'ratio', {
    target: WORKER_CPU === undefined ? 'scales when dnsperf is not the limit (set BENCH_WORKER_CPU)' : 'scales (dnsperf is not the limit)',
  });
}
emit('load average (1 min) at start', loadAtStart, '', RESOLVER_NODE_FLAGS === '' ? {} : { resolver_node_flags: RESOLVER_NODE_FLAGS });
emit('load average (1 min) at end', loadavg()[0]!, '');
