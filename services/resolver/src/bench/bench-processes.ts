/**
 * Process plumbing shared by the resolver's benchmarks: services started on port 0 and stopped in
 * reverse order, the config-watcher + weight-calculator pair every mesh bench puts in front of a
 * resolver, and the typed message wait of a forked helper.
 */
import { startServiceProcess, type ServiceProcess, type ServiceProcessOptions } from '@cdn-sched/testing';
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
 * `weightCalculator` adds options of the weight-calculator's process (a profiling wrapper).
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
