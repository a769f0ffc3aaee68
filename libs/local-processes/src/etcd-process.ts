import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getFreePort } from './free-port.js';
import { killWithParent } from './kill-with-parent.js';

/** Options of {@link startEtcd}. */
export interface EtcdOptions {
  /** etcd binary. Defaults to `$ETCD_BIN`, else `etcd` on PATH. */
  binary?: string;
  /** Data directory; defaults to a new temporary directory, removed by `stop()`. */
  dataDir?: string;
  /** How long to wait for /health to answer. Defaults to 15 seconds. */
  startTimeoutMs?: number;
  /** Extra command-line flags. */
  extraArgs?: readonly string[];
}

/** A throwaway etcd member on loopback. */
export interface EtcdProcess {
  /** `http://127.0.0.1:<port>`, for clients. */
  readonly endpoint: string;
  readonly clientPort: number;
  readonly dataDir: string;
  readonly pid: number | undefined;
  /** SIGKILLs the process (data dir kept): a crash. */
  kill(): Promise<void>;
  /** Starts it again on the same ports and data dir (after `kill`). */
  restart(): Promise<void>;
  /** Freezes (SIGSTOP) and thaws (SIGCONT) the process: alive but unresponsive. */
  pause(): void;
  resume(): void;
  /** Stops the process and removes a temporary data dir. Idempotent. */
  stop(): Promise<void>;
}

/** Resolves the etcd binary or throws an error that says how to get one. */
export function findEtcdBinary(binary = process.env['ETCD_BIN'] ?? 'etcd'): string {
  const probe = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      `etcd binary "${binary}" not found or not runnable (${probe.error?.message ?? `exit ${probe.status}`}). ` +
        'Install it (Debian: apt-get install etcd-server) or set ETCD_BIN to its path.',
    );
  }
  return binary;
}

async function waitHealthy(endpoint: string, child: ChildProcess, timeoutMs: number, log: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`etcd exited with code ${child.exitCode} during start:\n${log()}`);
    try {
      const res = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(500) });
      const body = (await res.json()) as { health?: string };
      if (body.health === 'true') return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`etcd did not become healthy within ${timeoutMs} ms:\n${log()}`);
}

/**
 * Spawns a single-member etcd on free loopback ports with a temporary data dir, and waits until
 * its /health endpoint answers. Used by `npm start` (the local mesh) and by integration tests.
 */
export async function startEtcd(options: EtcdOptions = {}): Promise<EtcdProcess> {
  // A port can still be taken between the check and etcd's bind: try again with new ports.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startEtcdOnce(options);
    } catch (error) {
      if (attempt >= 3 || !/address already in use/.test(String((error as Error).message))) throw error;
    }
  }
}

async function startEtcdOnce(options: EtcdOptions): Promise<EtcdProcess> {
  const binary = findEtcdBinary(options.binary);
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'cdn-sched-etcd-')));
  const clientPort = await getFreePort();
  const peerPort = await getFreePort();
  const endpoint = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const args = [
    '--name', 'test',
    '--data-dir', dataDir,
    '--listen-client-urls', endpoint,
    '--advertise-client-urls', endpoint,
    '--listen-peer-urls', peer,
    '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `test=${peer}`,
    '--initial-cluster-state', 'new',
    '--logger', 'zap',
    '--log-level', 'error',
    ...(options.extraArgs ?? []),
  ];
  let child: ChildProcess;
  let output = '';
  const launch = async (): Promise<void> => {
    output = '';
    child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    // etcd must not outlive a test runner that is killed before its teardown.
    killWithParent(child);
    child.stderr?.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4000);
    });
    await waitHealthy(endpoint, child, options.startTimeoutMs ?? 15_000, () => output);
  };
  const waitExit = (): Promise<void> =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
  try {
    await launch();
  } catch (error) {
    child!.kill('SIGKILL');
    if (ownDir) await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  let stopped = false;
  return {
    endpoint,
    clientPort,
    dataDir,
    get pid() {
      return child.pid;
    },
    async kill() {
      child.kill('SIGKILL');
      await waitExit();
    },
    async restart() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await waitExit();
      }
      await launch();
    },
    pause() {
      child.kill('SIGSTOP');
    },
    resume() {
      child.kill('SIGCONT');
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT');
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await waitExit();
        clearTimeout(timer);
      }
      if (ownDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
