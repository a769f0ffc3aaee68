import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createEtcdClient } from '@cdn-sched/etcd';
import { serviceDefinitions } from '@cdn-sched/proto';
import { getFreePort, startEtcd, waitFor, type EtcdProcess } from '@cdn-sched/testing';
import { createChannel, createClient, type Channel } from 'nice-grpc';
import { HealthDefinition } from 'nice-grpc-server-health';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/*
 * The container image's contents, proven without a container engine: build-app-tree.sh (the one
 * script the Dockerfile's build stage runs) is run on a fresh copy of the repository, and services
 * are started from its output the way the image starts them (the Dockerfile's ENTRYPOINT, /app
 * replaced by the tree) with production settings and a clean environment.
 */

const deployRoot = join(import.meta.dirname, '..');
const repoRoot = join(deployRoot, '..');
const dockerfile = readFileSync(join(deployRoot, 'image/Dockerfile'), 'utf8');

/** Every file under `dir` with its size and modification time (to prove a run wrote nothing). */
function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else out.push(`${relative(dir, p)} ${st.size} ${st.mtimeMs}`);
    }
  };
  walk(dir);
  return out.sort();
}

interface Running {
  child: ChildProcess;
  output: () => string;
  stop(): Promise<number | null>;
}

describe('the container image tree (deploy/image/build-app-tree.sh on a fresh copy)', () => {
  const work = mkdtempSync(join(tmpdir(), 'cdn-sched-image-'));
  const src = join(work, 'src');
  // CDN_SCHED_APP_TREE reuses a tree built before (when working on these tests: a build takes
  // minutes); CI always builds.
  const reused = process.env['CDN_SCHED_APP_TREE'];
  const app = reused ?? join(work, 'app');
  const running: Running[] = [];
  const channels: Channel[] = [];
  let etcd: EtcdProcess | undefined;
  let entrypoint: string[];

  /** Starts `service` from the tree as the image would: ENTRYPOINT + args, in /app, clean environment. */
  const start = (service: string, env: Record<string, string>): Running => {
    const [node, ...nodeArgs] = entrypoint;
    expect(node).toBe('node');
    const child = spawn(process.execPath, [...nodeArgs, `services/${service}/dist/main.js`], {
      cwd: app,
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', NODE_ENV: 'production', LOG_LEVEL: 'info', INSTANCE_ID: `${service}-image-test`, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    child.stdout!.on('data', (c: Buffer) => (text = (text + c.toString()).slice(-20_000)));
    child.stderr!.on('data', (c: Buffer) => (text = (text + c.toString()).slice(-20_000)));
    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const r: Running = {
      child,
      output: () => text,
      async stop() {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        const code = await exit;
        clearTimeout(timer);
        return code;
      },
    };
    running.push(r);
    return r;
  };

  const waitReady = async (r: Running, metricsPort: number): Promise<void> => {
    let last = '';
    await waitFor(
      async () => {
        if (r.child.exitCode !== null) throw new Error(`exited ${r.child.exitCode}: ${r.output()}`);
        const res = await fetch(`http://127.0.0.1:${metricsPort}/readyz`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
        last = res ? `${res.status} ${await res.text()}` : 'no answer';
        return res?.status === 200;
      },
      { timeoutMs: 240_000, intervalMs: 200, message: `ready on ${metricsPort} (last /readyz: ${last})` },
    );
  };

  beforeAll(async () => {
    // ENTRYPOINT ["node", "--import", "/app/libs/telemetry/dist/register.js"] → the same with the tree.
    const m = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile);
    expect(m, 'Dockerfile has a JSON ENTRYPOINT').not.toBeNull();
    entrypoint = (JSON.parse(m![1]!) as string[]).map((a) => a.replace(/^\/app\//, `${app}/`));
    if (reused) return;
    // A fresh copy: the files git tracks or would track (what a clone of this commit holds, plus
    // uncommitted edits), nothing built, no node_modules.
    const files = spawnSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: repoRoot, encoding: 'buffer', maxBuffer: 64 << 20 });
    expect(files.status).toBe(0);
    const copy = spawnSync('bash', ['-c', `mkdir -p "${src}" && tar --null -T - -cf - | tar -C "${src}" -xf -`], { cwd: repoRoot, input: files.stdout });
    expect(copy.status, copy.stderr?.toString()).toBe(0);
    expect(existsSync(join(src, 'node_modules'))).toBe(false);
    const t0 = performance.now();
    const build = spawnSync('bash', [join(src, 'deploy/image/build-app-tree.sh'), src, app], { encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, npm_config_loglevel: 'warn' } });
    expect(build.status, `${build.stdout}\n${build.stderr}`).toBe(0);
    console.log(`build-app-tree.sh on a fresh copy: ${((performance.now() - t0) / 1000).toFixed(0)} s; ${build.stdout.trim().split('\n').at(-1)}`);
  }, 1_800_000);

  afterAll(async () => {
    for (const r of running) await r.stop();
    for (const c of channels) c.close();
    await etcd?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('is the script the Dockerfile runs', () => {
    expect(dockerfile).toMatch(/^RUN bash deploy\/image\/build-app-tree\.sh \/src \/app$/m);
    expect(dockerfile).toMatch(/^USER 65532:65532$/m);
  });

  it('holds compiled code, the IP database and production dependencies only', () => {
    for (const s of ['config-watcher', 'prober', 'weight-calculator', 'resolver', 'cdnctl']) expect(existsSync(join(app, 'services', s, 'dist/main.js')), s).toBe(true);
    expect(existsSync(join(app, 'libs/telemetry/dist/register.js'))).toBe(true);
    expect(statSync(join(app, 'libs/geoip/data/ip2region.txt.gz')).size).toBeGreaterThan(1_000_000);
    const files = listing(app).map((l) => l.split(' ')[0]!);
    const own = files.filter((f) => !f.startsWith('node_modules/'));
    expect(own.filter((f) => /\.ts$|\.spec\.js$|\/bench\/|\.map$|tsbuildinfo/.test(f))).toEqual([]);
    for (const dev of ['typescript', 'vitest', 'nx', 'eslint', '@bufbuild/buf', '@bufbuild/protoc-gen-es', 'kubernetes-models', 'vite']) {
      expect(existsSync(join(app, 'node_modules', dev)), `dev dependency ${dev} in the image`).toBe(false);
    }
    for (const prod of ['@grpc/grpc-js', 'nice-grpc', 'prom-client', 'pino', 'opossum', '@bufbuild/protobuf', 'maxmind']) {
      expect(existsSync(join(app, 'node_modules', prod, 'package.json')), `production dependency ${prod}`).toBe(true);
    }
  });

  // The services the next test starts are proven there; the others load every module here.
  it('starts the other services from the tree far enough to print their settings', () => {
    const others = readdirSync(join(app, 'services')).filter((s) => !['config-watcher', 'weight-calculator', 'resolver'].includes(s));
    expect(others).toEqual(expect.arrayContaining(['prober', 'cdnctl']));
    for (const s of others) {
      const run = spawnSync(process.execPath, [...entrypoint.slice(1), `services/${s}/dist/main.js`, '--help'], { cwd: app, encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '', NODE_ENV: 'production' } });
      expect(run.status, `${s} --help: ${run.stderr}`).toBe(0);
      expect(run.stdout.length, s).toBeGreaterThan(100);
    }
  }, 600_000);

  it('serves the mesh from the tree with production settings: etcd → config-watcher → weight-calculator → resolver answers', async () => {
    etcd = await startEtcd();
    const before = listing(app);
    const ports = { cw: await getFreePort(), cwm: await getFreePort(), wc: await getFreePort(), wcm: await getFreePort(), r: await getFreePort(), rm: await getFreePort() };
    const etcdEnv = { ETCD_ENDPOINTS: etcd.endpoint, CDN_PREFIX: '/cdn/' };
    const client = createEtcdClient({ endpoints: [etcd.endpoint] });
    try {
      await client.put('/cdn/nodes/gd-ct-1', JSON.stringify({ id: 'gd-ct-1', address: '192.0.2.10', port: 443, country: 'CN', region: 'CN-GD', isp: 'ct', capacity: 1000, state: 'active', pools: ['music'] }));
      await client.put('/cdn/domains/music.image.example', JSON.stringify({ domain: 'music.image.example', pool: 'music', answers: 1, ttl: 60, strategy: 'weighted', fallback: ['isp+region', 'region', 'country', 'any'] }));
    } finally {
      client.close();
    }
    const cw = start('config-watcher', { ...etcdEnv, GRPC_HOST: '127.0.0.1', GRPC_PORT: String(ports.cw), METRICS_HOST: '127.0.0.1', METRICS_PORT: String(ports.cwm) });
    await waitReady(cw, ports.cwm);
    const cwChannel = createChannel(`127.0.0.1:${ports.cw}`);
    channels.push(cwChannel);
    const health = await createClient(HealthDefinition, cwChannel).check({ service: '' }, { signal: AbortSignal.timeout(30_000) });
    expect(health.status, 'grpc.health.v1 SERVING').toBe(1);

    const upstream = { CONFIG_WATCHER: `127.0.0.1:${ports.cw}`, WEIGHT_CALCULATORS: `127.0.0.1:${ports.wc}` };
    start('weight-calculator', { ...etcdEnv, CONFIG_WATCHER: upstream.CONFIG_WATCHER, GRPC_HOST: '127.0.0.1', GRPC_PORT: String(ports.wc), METRICS_HOST: '127.0.0.1', METRICS_PORT: String(ports.wcm) });
    const resolver = start('resolver', { ...upstream, RESOLVER_WORKERS: '1', GRPC_HOST: '127.0.0.1', GRPC_PORT: String(ports.r), METRICS_HOST: '127.0.0.1', METRICS_PORT: String(ports.rm) });
    await waitReady(resolver, ports.rm);
    const rChannel = createChannel(`127.0.0.1:${ports.r}`);
    channels.push(rChannel);
    // 1.0.8.1 is China Telecom in Guangdong in the shipped ip2region data: the tree's IP database works.
    const answer = await createClient(serviceDefinitions.resolver, rChannel).resolve({ queryId: 1n, clientIp: '1.0.8.1', domain: 'music.image.example' }, { signal: AbortSignal.timeout(30_000) });
    expect(answer.answers.map((a) => a.nodeId)).toEqual(['gd-ct-1']);
    expect(answer.location).toMatchObject({ country: 'CN', region: 'CN-GD', isp: 'ct' });

    // Graceful stop on SIGTERM with Node as PID 1's stand-in: exit code 0 for each service.
    for (const r of [...running].reverse()) expect(await r.stop(), r.output().slice(-2000)).toBe(0);
    // The root file system is read-only in the Deployments: a run must not write into the tree.
    expect(listing(app)).toEqual(before);
  }, 900_000);
});
