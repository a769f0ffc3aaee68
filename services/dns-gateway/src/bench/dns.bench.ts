/**
 * DNS benchmark (`npm run bench -- dns`): dnsperf against, in one run,
 * - the dns-gateway (1 worker) with its answer cache, and without it (every query decided by the
 *   resolver over ResolveStream), in front of a real local mesh (etcd, config-watcher,
 *   weight-calculator, resolver; no probers: edges answer at their cold-start weight);
 * - a bare Node `dgram` responder answering a fixed record (the platform's floor);
 * - gdnsd 3 with one UDP thread and a static zone with the same names (the C ceiling);
 * - with BENCH_WORKERS2=1, the gateway with `--workers 2` and its cache.
 * Each target is pinned to CPU 0 and dnsperf to CPU 1 (taskset), so they do not share a core.
 * Per target: a closed-loop throughput run (BENCH_SECONDS [5], 100 queries outstanding), then a
 * latency run at half that rate with dnsperf's per-query output (-v) for p50/p99; CPU per query
 * from /proc/<pid>/stat. dnsperf cannot vary the ECS option per query, so every query carries
 * one fixed option (1.0.8.0/24) and cache-on runs measure the cache's hit path.
 * Needs dnsperf and gdnsd (Debian: apt-get install dnsperf gdnsd); a missing gdnsd is reported
 * and skipped. Prints one JSON line per figure.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalMesh, startMeshDnsGateway, type MeshDnsGateway } from '@cdn-sched/local-mesh';
import { getFreePort } from '@cdn-sched/local-processes';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 5);
const ECS_OPTION = '8:0001180001000800'; // family 1, /24, scope 0, 1.0.8.0
const BENCH = 'dns';

interface Target {
  name: string;
  port: number;
  pid: number;
}
interface Measured {
  qps: number;
  lossPct: number;
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

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 10 ms
}

async function measure(t: Target, queryFile: string): Promise<Measured> {
  await run('taskset', ['-pc', '0', String(t.pid)], 5000).catch(() => '');
  const perf = ['taskset', '-c', '1', 'dnsperf', '-s', '127.0.0.1', '-p', String(t.port), '-d', queryFile, '-E', ECS_OPTION, '-q', '100', '-t', '2'];
  // Warm-up (JIT, caches), then the throughput run.
  await run(perf[0]!, [...perf.slice(1), '-l', '1'], 30_000);
  const cpu0 = cpuSeconds(t.pid);
  const out = await run(perf[0]!, [...perf.slice(1), '-l', String(SECONDS)], (SECONDS + 20) * 1000);
  const cpu1 = cpuSeconds(t.pid);
  const completed = Number(/Queries completed:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const sent = Number(/Queries sent:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const qps = Number(/Queries per second:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  // Latency at half the saturation rate, from dnsperf's per-query lines ("> NOERROR name type 0.000123").
  const verbose = await run(perf[0]!, [...perf.slice(1), '-l', '3', '-Q', String(Math.max(100, Math.round(qps / 2))), '-v'], 60_000);
  const lat: number[] = [];
  for (const line of verbose.split('\n')) {
    if (!line.startsWith('>')) continue;
    const v = Number(line.trim().split(/\s+/).pop());
    if (Number.isFinite(v)) lat.push(v * 1000);
  }
  lat.sort((a, b) => a - b);
  const pct = (p: number): number => (lat.length ? lat[Math.min(lat.length - 1, Math.ceil(p * lat.length) - 1)]! : Number.NaN);
  return { qps, lossPct: sent ? ((sent - completed) / sent) * 100 : 100, cpuUsPerQuery: completed ? ((cpu1 - cpu0) * 1e6) / completed : Number.NaN, p50Ms: pct(0.5), p99Ms: pct(0.99) };
}

async function startBare(): Promise<{ target: Target; child: ChildProcess }> {
  const child = spawn(process.execPath, [join(import.meta.dirname, 'bare-responder.js'), '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(Number(/listening (\d+)/.exec(d.toString())?.[1])));
    child.once('exit', (c) => reject(new Error(`bare responder exited with ${c}`)));
  });
  return { target: { name: 'node dgram floor', port, pid: child.pid! }, child };
}

async function startGdnsd(dir: string): Promise<{ target: Target; child: ChildProcess } | undefined> {
  const port = await getFreePort();
  mkdirSync(join(dir, 'zones'), { recursive: true });
  writeFileSync(join(dir, 'config'), `options => {\n  listen => [ 127.0.0.1:${port} ]\n  udp_threads => 1\n  tcp_threads => 1\n  run_dir => ${dir}/run\n  state_dir => ${dir}/state\n}\n`);
  writeFileSync(join(dir, 'zones', 'bench.example'), '@ 30 SOA ns1 hostmaster 1 3600 600 86400 30\n@ 3600 NS ns1\nns1 A 127.0.0.1\nmusic 60 A 127.0.0.11\nvideo 30 A 127.0.0.11\nvideo 30 A 127.0.0.12\n');
  const child = spawn('gdnsd', ['-c', dir, 'start'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const ok = await new Promise<boolean>((resolve) => {
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('DNS listeners started')) resolve(true);
    });
    child.once('error', () => resolve(false));
    child.once('exit', () => resolve(false));
  });
  if (!ok) {
    process.stderr.write('gdnsd did not start (Debian: apt-get install gdnsd); skipped\n');
    return undefined;
  }
  return { target: { name: 'gdnsd 1 thread', port, pid: child.pid! }, child };
}

const dir = mkdtempSync(join(tmpdir(), 'dns-bench-'));
const queryFile = join(dir, 'queries.txt');
writeFileSync(queryFile, ['music.bench.example A', 'video.bench.example A', 'music.bench.example A', 'music.bench.example AAAA'].join('\n') + '\n');
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
});
const results = new Map<string, Measured>();
const children: ChildProcess[] = [];
try {
  const gateways: [string, Record<string, string>][] = [
    ['gateway cache on', {}],
    ['gateway cache off', { CACHE_MAX_ENTRIES: '0' }],
    ...(process.env['BENCH_WORKERS2'] === '1' ? ([['gateway 2 workers cache on', { DNS_WORKERS: '2' }]] as [string, Record<string, string>][]) : []),
  ];
  for (const [name, env] of gateways) {
    const g: MeshDnsGateway = await startMeshDnsGateway({ common: {}, configWatcher: mesh.configWatcher.address, resolvers: mesh.resolvers.map((r) => r.address), env: { LOG_LEVEL: 'warn', ...env } });
    try {
      // Ready means the domains arrived; one answered query proves the resolver is reachable.
      await run('dig', ['@127.0.0.1', '-p', String(g.dnsPort), 'music.bench.example', '+subnet=1.0.8.0/24', '+short', '+tries=5'], 20_000);
      results.set(name, await measure({ name, port: g.dnsPort, pid: g.process.pid }, queryFile));
    } finally {
      await g.close();
    }
  }
  const bare = await startBare();
  children.push(bare.child);
  results.set(bare.target.name, await measure(bare.target, queryFile));
  const gdnsd = await startGdnsd(join(dir, 'gdnsd'));
  if (gdnsd) {
    children.push(gdnsd.child);
    results.set(gdnsd.target.name, await measure(gdnsd.target, queryFile));
  }
} finally {
  for (const c of children) c.kill('SIGTERM');
  await mesh.close();
  rmSync(dir, { recursive: true, force: true });
}

const floor = results.get('node dgram floor');
const ceiling = results.get('gdnsd 1 thread');
const targets: Record<string, string> = { 'gateway cache on': '≥ 0.8× node floor', 'gateway cache off': '≥ 0.4× node floor' };
for (const [name, m] of results) {
  emit(`${name} QPS`, m.qps, 'q/s', floor ? { baseline: floor.qps, ratio: Math.round((m.qps / floor.qps) * 100) / 100, target: targets[name] ?? '' } : {});
  if (ceiling) emit(`${name} QPS vs gdnsd`, m.qps / ceiling.qps, 'ratio');
  emit(`${name} loss`, m.lossPct, '%');
  emit(`${name} CPU per query`, m.cpuUsPerQuery, 'µs');
  emit(`${name} p50 at half rate`, m.p50Ms, 'ms');
  emit(`${name} p99 at half rate`, m.p99Ms, 'ms');
}
const on = results.get('gateway cache on');
const off = results.get('gateway cache off');
if (on && off) emit('p99 added by the decision stream (cache off − cache on, each at half its rate)', off.p99Ms - on.p99Ms, 'ms', { target: '≤ 2 ms' });
