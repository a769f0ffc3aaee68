import { serviceDefinitions, type ProbeStatusResponse, type StatusResponse } from '@cdn-sched/proto';
import { startServiceProcess, waitFor, type ServiceProcess } from '@cdn-sched/local-processes';
import { createChannel, createClient, type Channel } from 'nice-grpc';

/** The four services of the mesh. */
export type ServiceKind = 'config-watcher' | 'prober' | 'weight-calculator' | 'resolver';

const DEFINITION_KEY = {
  'config-watcher': 'configWatcher',
  prober: 'prober',
  'weight-calculator': 'weightCalculator',
  resolver: 'resolver',
} as const;

/** How a service was brought down. */
export type StopSignal = 'SIGTERM' | 'SIGKILL';

/** Timings of one restart, milliseconds. */
export interface RestartFigures {
  /** From the signal to the process being gone. */
  stopMs: number;
  /** From the new spawn to `waitReady` succeeding. */
  startMs: number;
}

/** Options of {@link createMeshService}. */
export interface MeshServiceOptions {
  kind: ServiceKind;
  /** INSTANCE_ID, and the name tests use ("prober-2"). */
  name: string;
  /** Settings of the service (ETCD_ENDPOINTS, CONFIG_WATCHER, ...); GRPC_PORT and METRICS_PORT are set here. */
  env: Record<string, string>;
  /** gRPC port of the first start. Defaults to 0: the kernel chooses, and later starts bind the same port again. */
  grpcPort?: number;
  /** Port of /metrics, /healthz and /readyz. Defaults to 0 (the kernel chooses, on every start). */
  metricsPort?: number;
  /** Bound of one start, milliseconds. Defaults to 60 s (two shared cores, several engineers). */
  startTimeoutMs?: number;
}

/**
 * One service of the mesh as a real process whose address stays the same across restarts: the
 * first start binds `grpcPort` (0 by default) and reads the port from the "<service> listening"
 * log line's `grpc` field; every later start binds that port again, so the peers configured with the address find
 * it (as they would find a restarted pod behind a stable service address).
 */
export interface MeshService {
  readonly kind: ServiceKind;
  readonly name: string;
  /** `127.0.0.1:<port>` (empty before the first start). */
  readonly address: string;
  /** The current process (the last one, when stopped). */
  readonly process: ServiceProcess;
  readonly running: boolean;
  /** Starts the process; resolves once it logged "listening" and {@link waitReady} passed, with the time it took. */
  start(): Promise<number>;
  /** SIGTERM (graceful) or SIGKILL (a crash); resolves when the process is gone, with the time it took. */
  stop(signal?: StopSignal): Promise<number>;
  restart(signal?: StopSignal): Promise<RestartFigures>;
  /** The service's gRPC channel: one per service, reconnecting across restarts (the address stays). */
  channel(): Channel;
  /** Status RPC of the service, with a 3 s deadline. */
  status(): Promise<StatusResponse>;
  /**
   * Polls Status until the service says it is ready; with `healthy`, also until it gives no reason
   * (for a resolver: both streams connected and fresh, so its answers are not degraded).
   */
  waitReady(options?: { healthy?: boolean; timeoutMs?: number }): Promise<void>;
  /** Extra settings for the next starts (merged over the current ones). */
  setEnv(env: Record<string, string>): void;
  /** Stops the process if it runs and closes the status channel. Idempotent. */
  close(): Promise<void>;
}

export function createMeshService(options: MeshServiceOptions): MeshService {
  let env = { ...options.env };
  let port = options.grpcPort ?? 0;
  let started = false;
  let current: ServiceProcess | undefined;
  let channel: Channel | undefined;
  const definition = serviceDefinitions[DEFINITION_KEY[options.kind]];

  const getChannel = (): Channel => {
    if (!started) throw new Error(`${options.name} has not started yet`);
    return (channel ??= createChannel(`127.0.0.1:${port}`));
  };
  const status = async (): Promise<StatusResponse> => {
    // Every service's Status has the same request and response types; the definition only names the path.
    const client = createClient(definition as typeof serviceDefinitions.resolver, getChannel());
    return client.status({}, { signal: AbortSignal.timeout(3000) });
  };

  const waitReady = async ({ healthy = false, timeoutMs = 60_000 }: { healthy?: boolean; timeoutMs?: number } = {}): Promise<void> => {
    let last = '';
    await waitFor(
      async () => {
        const s = await status();
        last = `ready=${s.ready} reasons=${JSON.stringify(s.reasons)}`;
        return s.ready && (!healthy || s.reasons.length === 0);
      },
      { timeoutMs, intervalMs: 50, message: `${options.name} ${healthy ? 'healthy' : 'ready'} (last status: ${last || 'none'})` },
    );
  };

  const start = async (): Promise<number> => {
    if (current && !current.exited) throw new Error(`${options.name} is already running`);
    const t0 = performance.now();
    current = await startServiceProcess({
      service: options.kind,
      env: { ...env, INSTANCE_ID: options.name, GRPC_PORT: String(port), METRICS_PORT: String(options.metricsPort ?? 0), LOG_LEVEL: env['LOG_LEVEL'] ?? 'info' },
      startTimeoutMs: options.startTimeoutMs ?? 60_000,
    });
    const listening = await current.waitForLog(`${options.kind} listening`);
    const address = String(listening['grpc']);
    const bound = Number(address.slice(address.lastIndexOf(':') + 1));
    if (port !== 0 && bound !== port) throw new Error(`${options.name} came back on ${address}, not on port ${port}`);
    port = bound;
    started = true;
    await waitReady();
    return performance.now() - t0;
  };

  const stop = async (signal: StopSignal = 'SIGTERM'): Promise<number> => {
    const t0 = performance.now();
    if (current && !current.exited) {
      if (signal === 'SIGKILL') await current.kill();
      else await current.stop();
    }
    return performance.now() - t0;
  };

  return {
    kind: options.kind,
    name: options.name,
    get address() {
      return started ? `127.0.0.1:${port}` : '';
    },
    get process() {
      if (!current) throw new Error(`${options.name} has not started yet`);
      return current;
    },
    get running() {
      return current !== undefined && !current.exited;
    },
    start,
    stop,
    channel: getChannel,
    async restart(signal = 'SIGTERM') {
      const stopMs = await stop(signal);
      const startMs = await start();
      return { stopMs, startMs };
    },
    status,
    waitReady,
    setEnv(more) {
      env = { ...env, ...more };
    },
    async close() {
      await stop('SIGTERM').catch(() => undefined);
      channel?.close();
      channel = undefined;
    },
  };
}

/** ProbeStatus of a prober (what it probes, and when it last did), with a 3 s deadline. */
export function probeStatus(prober: MeshService): Promise<ProbeStatusResponse> {
  if (prober.kind !== 'prober') throw new Error(`${prober.name} is not a prober`);
  return createClient(serviceDefinitions.prober, prober.channel()).probeStatus({}, { signal: AbortSignal.timeout(3000) });
}
