import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is libs/local-processes/{src,dist}/service-process.*). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/**
 * The Node options a service runs with wherever it runs: `cdnSched.nodeOptions` of its
 * `services/<name>/package.json` ('' when none). The Deployments and systemd units carry the same
 * value (deploy/test checks it), and {@link startServiceProcess} puts it first in NODE_OPTIONS, so
 * tests, benchmarks and the local mesh run a service as production does. Only options Node accepts
 * in NODE_OPTIONS belong there (for V8: `--max-old-space-size`, `--max-semi-space-size`, …).
 */
export function serviceNodeOptions(service: string): string {
  const manifest = JSON.parse(readFileSync(join(repoRoot, 'services', service, 'package.json'), 'utf8')) as { cdnSched?: { nodeOptions?: string } };
  return manifest.cdnSched?.nodeOptions ?? '';
}

/** Options of {@link startServiceProcess}. */
export interface ServiceProcessOptions {
  /** Service folder name under services/ ("config-watcher"). */
  service: string;
  /** Environment added to the test's own (settings of the service: GRPC_PORT, ETCD_ENDPOINTS, ...). */
  env?: Record<string, string>;
  args?: readonly string[];
  /**
   * Command prefix that runs the service somewhere else, e.g. `['ip', 'netns', 'exec', 'host-1']`
   * for another network namespace; it must exec the service (so the pid, signals and exit code are
   * the service's own). Defaults to none.
   */
  wrap?: readonly string[];
  /**
   * Flags for node's own command line, before the service's modules (`--cpu-prof`, which Node
   * refuses in NODE_OPTIONS; V8 flags; `--import` of a measuring module). Defaults to none.
   */
  nodeArgs?: readonly string[];
  /** Resolves once a JSON log line with this `msg` appears. Defaults to "<service> listening". */
  readyMessage?: string;
  /**
   * Bound of the start (spawn to the ready log line), milliseconds; generous because a loaded shared
   * machine can take tens of seconds to load a service. Defaults to 60 seconds.
   */
  startTimeoutMs?: number;
}

/** A service running as a real process (built code, `services/<name>/dist/main.js`). */
export interface ServiceProcess {
  readonly pid: number;
  /** Log lines seen so far (JSON objects). */
  readonly logs: readonly Record<string, unknown>[];
  /** Waits for a log line whose `msg` matches. */
  waitForLog(match: string | RegExp, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** SIGKILL: a crash. Resolves when the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM and wait; resolves with the exit code. */
  stop(): Promise<number | null>;
  readonly exited: boolean;
}

/**
 * Spawns a built service the way an operator runs it (`node services/<name>/dist/main.js`), with
 * its JSON logs parsed so a test can wait for "listening" or any other event.
 */
export async function startServiceProcess(options: ServiceProcessOptions): Promise<ServiceProcess> {
  const main = join(repoRoot, 'services', options.service, 'dist', 'main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: build first (npm run build)`);
  // Tracing is registered before the service (and grpc-js) loads, as in production.
  const register = join(repoRoot, 'libs', 'telemetry', 'dist', 'register.js');
  const argv = [process.execPath, ...(options.nodeArgs ?? []), '--import', register, main, ...(options.args ?? [])];
  const command = [...(options.wrap ?? []), ...argv];
  // The service's own Node options first: a NODE_OPTIONS of the caller's or of `env` comes after
  // them, and for a V8 flag given twice the later one wins.
  const nodeOptions = [serviceNodeOptions(options.service), process.env['NODE_OPTIONS'] ?? '', options.env?.['NODE_OPTIONS'] ?? ''].filter(Boolean).join(' ');
  // stdin is a pipe that is never written: when this process ends, however it ends (a test runner's
  // timeout, SIGKILL), the service reads end-of-file and stops itself (EXIT_WITH_STDIN, service kit)
  // instead of living on as an orphan.
  const child: ChildProcess = spawn(command[0]!, command.slice(1), {
    env: { ...process.env, LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'info', EXIT_WITH_STDIN: '1', ...options.env, ...(nodeOptions === '' ? {} : { NODE_OPTIONS: nodeOptions }) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const waiters = new Set<{ match: string | RegExp; resolve: (l: Record<string, unknown>) => void }>();
  let stderr = '';
  let buffer = '';
  const matches = (line: Record<string, unknown>, match: string | RegExp): boolean =>
    typeof match === 'string' ? line['msg'] === match : match.test(String(line['msg']));
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let nl: number;
    while ((nl = buffer.indexOf('\n')) !== -1) {
      const text = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      try {
        const line = JSON.parse(text) as Record<string, unknown>;
        logs.push(line);
        if (logs.length > 5000) logs.shift();
        for (const w of waiters) {
          if (!matches(line, w.match)) continue;
          waiters.delete(w);
          w.resolve(line);
        }
      } catch {
        // not JSON
      }
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  let exited = false;
  const exit = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      exited = true;
      resolve(code);
    }),
  );

  const waitForLog = (match: string | RegExp, timeoutMs = 20_000): Promise<Record<string, unknown>> => {
    const seen = logs.find((l) => matches(l, match));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = {
        match,
        resolve: (l: Record<string, unknown>) => {
          clearTimeout(timer);
          resolve(l);
        },
      };
      const timer = setTimeout(() => {
        waiters.delete(w);
        reject(new Error(`${options.service}: no log "${String(match)}" within ${timeoutMs} ms${exited ? ' (process exited)' : ''}\nstderr: ${stderr}\nlast logs: ${logs.slice(-5).map((l) => JSON.stringify(l)).join('\n')}`));
      }, timeoutMs);
      waiters.add(w);
      void exit.then(() => {
        if (waiters.has(w)) {
          clearTimeout(timer);
          waiters.delete(w);
          reject(new Error(`${options.service} exited before logging "${String(match)}"\nstderr: ${stderr}\nlast logs: ${logs.slice(-3).map((l) => JSON.stringify(l)).join('\n')}`));
        }
      });
    });
  };
  try {
    await waitForLog(options.readyMessage ?? `${options.service} listening`, options.startTimeoutMs ?? 60_000);
  } catch (error) {
    // A start that failed must not leave its process behind for the rest of the run.
    if (!exited) child.kill('SIGKILL');
    await exit;
    throw error;
  }
  return {
    pid: child.pid!,
    logs,
    waitForLog,
    get exited() {
      return exited;
    },
    async kill() {
      if (!exited) child.kill('SIGKILL');
      await exit;
    },
    async stop() {
      if (!exited) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exit;
      clearTimeout(timer);
      return code;
    },
  };
}
