import cluster from 'node:cluster';
import type { SettingSpec } from './config.js';

/**
 * The `--workers N` setting any service can add to its spec: N processes of the service sharing its
 * gRPC port through Node's cluster module (gRPC balances per connection). `runService` reads it.
 *
 * @param env - the environment variable (`RESOLVER_WORKERS`).
 */
export function workersSetting(env: string) {
  return {
    workers: { type: 'int', env, flag: 'workers', default: 1, min: 1, max: 64, description: 'processes sharing the gRPC port (Node cluster; gRPC balances per connection)' },
  } as const satisfies Record<string, SettingSpec>;
}

/** Options of {@link runWorkerPrimary}. */
export interface WorkerPrimaryOptions {
  /** Service name, for messages and the default instance id. */
  name: string;
  workers: number;
  /** The metrics port setting: worker i serves metrics on `metricsPort + i` (0 stays 0, any port). */
  metricsPort: number;
  /** The instance id setting; worker i is `<instanceId>-w<i>`. Defaults to `<name>-<pid>`. */
  instanceId: string;
}

/**
 * The cluster primary: forks the workers, restarts one that dies (after 0.5 s), and passes SIGTERM,
 * SIGINT and SIGHUP on to them; exits 0 once every worker has stopped after a stop signal. Each
 * worker has its own streams and tables, and its own metrics port (a shared metrics port would
 * answer from a random worker).
 */
export function runWorkerPrimary(options: WorkerPrimaryOptions): void {
  const workers = new Set<ReturnType<typeof cluster.fork>>();
  const base = options.metricsPort;
  const instanceId = options.instanceId || `${options.name}-${process.pid}`;
  let stopping = false;
  const fork = (i: number): void => {
    const w = cluster.fork({ WORKER_INDEX: String(i), METRICS_PORT: String(base === 0 ? 0 : base + i), INSTANCE_ID: `${instanceId}-w${i}` });
    workers.add(w);
    w.on('exit', (code) => {
      workers.delete(w);
      if (!stopping) {
        process.stderr.write(`${options.name} worker ${i} exited with ${code}; restarting\n`);
        setTimeout(() => fork(i), 500);
      } else if (workers.size === 0) process.exit(0);
    });
  };
  for (let i = 0; i < options.workers; i++) fork(i);
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.on(sig, () => {
      stopping = true;
      for (const w of workers) w.process.kill('SIGTERM');
    });
  }
  process.on('SIGHUP', () => {
    for (const w of workers) w.process.kill('SIGHUP');
  });
}

/** True in a process that should fork workers instead of serving: the primary, with N > 1. */
export function isWorkerPrimary(workers: unknown): workers is number {
  return cluster.isPrimary && typeof workers === 'number' && workers > 1;
}

/** In a worker: a primary that died (SIGKILL) must not leave it running as an orphan holding the port. */
export function stopWithPrimary(): void {
  if (cluster.isWorker) process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}
