import { hostname } from 'node:os';
import { createLogger, createMetrics, shutdownTracing, startMetricsServer, type Logger, type Metrics, type Readiness } from '@cdn-sched/telemetry';
import { ConfigError, formatHelp, parseConfig, type ConfigOf, type SettingSpec } from './config.js';
import { quietIpServernameWarning, type Transport } from '@cdn-sched/transport';
import { resolveEtcdConnection, type EtcdConnectionSettings } from './etcd-connection.js';
import { createShutdown, type Shutdown } from './shutdown.js';
import { transportFromConfig, transportSettings } from './transport-settings.js';
import { isWorkerPrimary, runWorkerPrimary, stopWithPrimary } from './workers.js';

/** Settings every service has. */
const commonSpec = {
  instanceId: { type: 'string', env: 'INSTANCE_ID', flag: 'instance-id', default: '', description: 'instance id in logs, metrics and etcd keys; empty means <service>-<host>-<pid>' },
  metricsHost: { type: 'string', env: 'METRICS_HOST', flag: 'metrics-host', default: '127.0.0.1', description: 'address of the /metrics, /healthz, /readyz HTTP server' },
  shutdownTimeoutMs: { type: 'int', env: 'SHUTDOWN_TIMEOUT_MS', flag: 'shutdown-timeout-ms', default: 10_000, min: 100, description: 'longest graceful shutdown, milliseconds' },
} satisfies Record<string, SettingSpec>;

/** What a service's main function receives. */
export interface ServiceContext<C> {
  config: C & ConfigOf<typeof commonSpec>;
  instanceId: string;
  logger: Logger;
  metrics: Metrics;
  /** Register teardown steps; `shutdown.signal` aborts when the service stops. */
  shutdown: Shutdown;
  /**
   * Credentials and limits for the service's gRPC server and every channel it opens, built from
   * the transport settings of `grpcSettings` (plaintext with default limits for a spec without them).
   */
  transport: Transport;
}

/** A service's main: starts everything and returns how to judge readiness. */
export type ServiceMain<C> = (ctx: ServiceContext<C>) => Promise<{ readiness: () => Readiness }>;

/**
 * The one way every service starts: settings from flags and env (with --help), a JSON logger,
 * a metrics registry and its HTTP server (/metrics, /healthz, /readyz), and a shutdown on
 * SIGTERM/SIGINT that runs the service's teardown steps within a bound, then exits 0. A service
 * whose spec has `workersSetting` and is started with more than one worker becomes a cluster
 * primary that runs that many copies of itself.
 */
export async function runService<S extends Record<string, SettingSpec>>(options: {
  name: string;
  summary: string;
  spec: S;
  /** Default port of the metrics server (0 = any). */
  metricsPort: number;
  main: ServiceMain<ConfigOf<S>>;
  argv?: readonly string[];
}): Promise<void> {
  const spec = {
    ...commonSpec,
    metricsPort: { type: 'int', env: 'METRICS_PORT', flag: 'metrics-port', default: options.metricsPort, min: 0, max: 65535, description: 'port of the metrics HTTP server' },
    ...options.spec,
  } as const;
  const argv = options.argv ?? process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(formatHelp(options.name, options.summary, spec));
    return;
  }
  let config: ConfigOf<typeof spec>;
  try {
    config = parseConfig(spec, argv);
    // A bad etcd connection (missing file, expired certificate, key without certificate...) is a
    // startup error naming the setting, before anything starts; main resolves it again to connect.
    if ('etcdEndpoints' in config) resolveEtcdConnection(config as unknown as EtcdConnectionSettings);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${options.name}: ${error.message}\n`);
      process.exitCode = 2;
      return;
    }
    throw error;
  }
  stopWhenLauncherGoes();
  const workers = (config as Record<string, unknown>)['workers'];
  if (isWorkerPrimary(workers)) {
    runWorkerPrimary({ name: options.name, workers, metricsPort: config.metricsPort, instanceId: config.instanceId });
    return;
  }
  stopWithPrimary();
  quietIpServernameWarning();
  const instanceId = config.instanceId || `${options.name}-${hostname()}-${process.pid}`;
  const logger = createLogger({ service: options.name, instanceId });
  const metrics = createMetrics({ service: options.name, instanceId });
  const shutdown = createShutdown({
    timeoutMs: config.shutdownTimeoutMs,
    log: (message, fields) => logger.info(fields ?? {}, message),
  });
  // Registered first, so it runs last: spans of the shutdown itself are flushed too.
  shutdown.add('tracing', () => shutdownTracing());
  shutdown.add('metrics', () => metrics.close());
  try {
    const denied = metrics.counter({ name: 'cdn_grpc_denied_calls_total', help: 'gRPC calls refused because the client identity is not allowed', labelNames: ['method'] });
    const log = (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void => logger[level](fields ?? {}, message);
    const transport = transportFromConfig(withTransportDefaults(config), { log, onDenied: (method, identities) => {
      denied.inc({ method });
      logger.warn({ method, identities }, 'gRPC call refused: client not on the allow-list');
    } });
    shutdown.add('transport', () => transport.close());
    const { readiness } = await options.main({ config: { ...config, instanceId } as ServiceContext<ConfigOf<S>>['config'], instanceId, logger, metrics, shutdown, transport });
    const server = await startMetricsServer({ port: config.metricsPort, host: config.metricsHost, registry: metrics.registry, readiness });
    shutdown.add('metrics-server', () => server.close());
    logger.info({ metrics: server.url }, 'metrics server listening');
  } catch (error) {
    if (error instanceof ConfigError || (error as Error).name === 'TlsConfigError') {
      logger.error({ error: (error as Error).message }, 'start failed: bad setting');
      process.stderr.write(`${options.name}: ${(error as Error).message}\n`);
      await shutdown.run('start failed');
      process.exit(2);
    }
    logger.error({ err: error }, 'start failed');
    const code = await shutdown.run('start failed');
    process.exit(code === 0 ? 1 : code);
  }
}

/** The transport settings of `config`, their defaults where the service's spec has none (no gRPC). */
function withTransportDefaults(config: Record<string, unknown>): ConfigOf<typeof transportSettings> {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(transportSettings)) out[key] = key in config ? config[key] : spec.default;
  return out as ConfigOf<typeof transportSettings>;
}

/**
 * With `EXIT_WITH_STDIN=1` (set by the local mesh and the test launchers, never needed in
 * production), stdin is a pipe from the process that launched this one: its end-of-file means the
 * launcher is gone — even SIGKILLed, when it could not stop its children — so the service stops
 * itself as on SIGTERM (graceful, bounded) rather than living on as an orphan. A cluster primary and
 * its workers share that stdin, so each stops itself.
 */
function stopWhenLauncherGoes(): void {
  if (process.env['EXIT_WITH_STDIN'] !== '1') return;
  const gone = (): void => {
    process.kill(process.pid, 'SIGTERM');
  };
  process.stdin.once('end', gone);
  process.stdin.once('error', gone);
  process.stdin.resume();
}
