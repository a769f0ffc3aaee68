/**
 * Process plumbing shared by the resolver's benchmarks: services started on port 0 and stopped in
 * reverse order, the config-watcher + weight-calculator pair every mesh bench puts in front of a
 * resolver, and the typed message wait of a forked helper.
 */
import { serviceNodeOptions, startServiceProcess, type ServiceProcess, type ServiceProcessOptions } from '@cdn-sched/testing';
import { fork, type ChildProcess } from 'node:child_process';

/** Clean-ups of a bench run; each start puts its own first, so they run in reverse start order. */
export type Cleanups = (() => Promise<unknown> | void)[];

/** A service on port 0 (gRPC and metrics) whose stop joins `cleanups`; resolves with its gRPC address once it listens. */
export async function startListening(options: ServiceProcessOptions, cleanups: Cleanups): Promise<{ process: ServiceProcess; target: string }> {
  const process = await startServiceProcess({ ...options, env: { GRPC_PORT: '0', METRICS_PORT: '0', ...options.env } });
  cleanups.unshift(() => process.stop());
  const target = String((await process.waitForLog(`${options.service} listening`))['grpc']);
  return { process, target };
}

/**
 * The config-watcher and weight-calculator in front of a resolver, against etcd at `etcdEndpoint`.
 * `weightCalculator` adds options of the weight-calculator's process (node flags for a CPU profile).
 */
export async function startControlPlane(
  etcdEndpoint: string,
  cleanups: Cleanups,
  weightCalculator: Omit<ServiceProcessOptions, 'service'> = {},
): Promise<{ configTarget: string; weightTarget: string }> {
  const { target: configTarget } = await startListening({ service: 'config-watcher', env: { ETCD_ENDPOINTS: etcdEndpoint } }, cleanups);
  const { target: weightTarget } = await startListening(
    { ...weightCalculator, service: 'weight-calculator', env: { ETCD_ENDPOINTS: etcdEndpoint, CONFIG_WATCHER: configTarget, ...weightCalculator.env } },
    cleanups,
  );
  return { configTarget, weightTarget };
}

/** Waits for messages of a forked helper by their `type`; `label` names the helper in the error when it exits first. */
export function childMessages<Out extends { type: string }>(
  child: ChildProcess,
  label: string,
): { exited: Promise<number | null>; next<T extends Out['type']>(type: T): Promise<Extract<Out, { type: T }>> } {
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const next = <T extends Out['type']>(type: T): Promise<Extract<Out, { type: T }>> =>
    new Promise((resolve, reject) => {
      const onMessage = (message: Out): void => {
        if (message.type !== type) return;
        child.off('message', onMessage);
        resolve(message as Extract<Out, { type: T }>);
      };
      child.on('message', onMessage);
      void exited.then((code) => reject(new Error(`${label} exited (${code}) while the benchmark waited for '${type}'`)));
    });
  return { exited, next };
}

/** A forked helper of a bench (server or load client) that talks in typed messages. */
export interface Child<In, Out extends { type: string }> {
  send(message: In): void;
  /** The next message of `type` (listen before sending what provokes it). */
  next<T extends Out['type']>(type: T): Promise<Extract<Out, { type: T }>>;
  /** The child listens for messages. */
  started: Promise<unknown>;
  exited: Promise<number | null>;
}

/** Forks the helper module at `file` with `execArgv` (node flags) and wraps its messages. */
export function forkChild<In, Out extends { type: string }>(file: URL, execArgv: string[] = []): Child<In, Out> {
  const child: ChildProcess = fork(file, [], { serialization: 'advanced', execArgv });
  const { exited, next } = childMessages<Out>(child, file.pathname);
  return { send: (message) => void child.send(message as object), next, started: next('started'), exited };
}

/**
 * The node flags of the serving benchmarks' server process (`bench-server.ts`): the resolver's own
 * Node options (`services/resolver/package.json`), as it runs everywhere; a V8 CPU profile written
 * to BENCH_CPU_PROF on exit when that names a directory; `extra`; then BENCH_SERVER_NODE_FLAGS,
 * by default `--max-semi-space-size=1`, which override what comes before them.
 *
 * Why 1 MB: the bench server holds the table and the IP data but none of a resolver process's
 * streams, telemetry or metrics, so its heap is smaller, and V8 lets the old generation grow less
 * before a mark-compact. Under full ResolveStream load the batches' ArrayBuffers, which only a
 * scavenge frees, then start a mark-compact every ~70 ms with the resolver's 2 MB young generation —
 * a loop real resolver processes did not enter with the same option (docs/benchmarks.md,
 * "Decision path benchmarks", twenty-third session). A 1 MB young generation, scavenged every
 * ~30 ms at full load, keeps the bench server out of it, so the benches measure the serving path
 * rather than that GC mode; each run still reports its mark-compacts. `BENCH_SERVER_NODE_FLAGS=`
 * (empty) runs the resolver's options alone.
 */
export function benchServerArgv(extra: readonly string[] = []): string[] {
  const profileDir = process.env['BENCH_CPU_PROF'];
  return [
    ...serviceNodeOptions('resolver').split(' ').filter(Boolean),
    ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
    ...extra,
    ...(process.env['BENCH_SERVER_NODE_FLAGS'] ?? '--max-semi-space-size=1').split(' ').filter(Boolean),
  ];
}
