import cluster from 'node:cluster';
import { createGeoIpProvider } from '@cdn-sched/geoip';
import { reflectionFiles } from '@cdn-sched/proto';
import { configWatcherSetting, grpcSettings, runService, startServiceServer } from '@cdn-sched/service-kit';
import { createResolveCore } from './serving/resolve-core.js';
import { createResolverService, createResolverServiceDefinition } from './serving/resolver-service.js';
import { createRoutingState } from './serving/routing-state.js';

const spec = {
  ...configWatcherSetting,
  ...grpcSettings(50054),
  weightCalculators: { type: 'list', env: 'WEIGHT_CALCULATORS', flag: 'weight-calculators', default: ['127.0.0.1:50053'], description: 'weight-calculator replicas, tried in order' },
  workers: { type: 'int', env: 'RESOLVER_WORKERS', flag: 'workers', default: 1, min: 1, max: 64, description: 'processes sharing the gRPC port (Node cluster; gRPC balances per connection)' },
  geoipDb: { type: 'string', env: 'GEOIP_DB', flag: 'geoip-db', default: '', description: 'IP database (ip2region text/.gz/.xdb or MaxMind .mmdb); empty = the shipped ip2region data. SIGHUP reloads it' },
  maxStalenessMs: { type: 'int', env: 'MAX_STALENESS_MS', flag: 'max-staleness-ms', default: 10_000, min: 100, description: 'upstream state older than this is degraded and reported in /readyz, milliseconds' },
  spillThreshold: { type: 'number', env: 'SPILL_THRESHOLD', flag: 'spill-threshold', default: 0.5, min: 0, max: 1, description: 'a tier answers only while its healthy capacity share is at least this' },
  maxBatch: { type: 'int', env: 'MAX_BATCH', flag: 'max-batch', default: 5000, min: 1, description: 'most queries per ResolveStream batch (checked while decoding: decoding stops at the first query over it)' },
  maxBatchBytes: { type: 'int', env: 'MAX_BATCH_BYTES', flag: 'max-batch-bytes', default: 1024 * 1024, min: 1024, description: 'largest ResolveStream batch, bytes (refused before decoding)' },
  traceRatio: { type: 'number', env: 'TRACE_RATIO', flag: 'trace-ratio', default: 0.01, min: 0, max: 1, description: 'share of calls/batches traced with a cdn.request span' },
} as const;

const argv = process.argv.slice(2);
const workersFlag = (() => {
  const i = argv.findIndex((a) => a === '--workers' || a.startsWith('--workers='));
  if (i < 0) return Number(process.env['RESOLVER_WORKERS'] ?? 1);
  return Number(argv[i]!.includes('=') ? argv[i]!.split('=')[1] : argv[i + 1]);
})();

if (cluster.isPrimary && workersFlag > 1 && !argv.includes('--help')) {
  // Multi-core: N workers share the gRPC port through the cluster module; each has its own
  // streams and tables. Worker i serves metrics on METRICS_PORT + i (a shared metrics port would
  // answer from a random worker).
  const basePort = Number(process.env['METRICS_PORT'] ?? 9464);
  const workers = new Set<ReturnType<typeof cluster.fork>>();
  let stopping = false;
  const fork = (i: number): void => {
    const w = cluster.fork({ RESOLVER_WORKER_INDEX: String(i), METRICS_PORT: String(basePort === 0 ? 0 : basePort + i), INSTANCE_ID: `${process.env['INSTANCE_ID'] || `resolver-${process.pid}`}-w${i}` });
    workers.add(w);
    w.on('exit', (code) => {
      workers.delete(w);
      if (!stopping) {
        process.stderr.write(`resolver worker ${i} exited with ${code}; restarting\n`);
        setTimeout(() => fork(i), 500);
      } else if (workers.size === 0) process.exit(0);
    });
  };
  for (let i = 0; i < workersFlag; i++) fork(i);
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.on(sig, () => {
      stopping = true;
      for (const w of workers) w.process.kill('SIGTERM');
    });
  }
  process.on('SIGHUP', () => {
    for (const w of workers) w.process.kill('SIGHUP');
  });
} else {
  // A worker whose primary died (SIGKILL) must not linger as an orphan holding the port.
  if (cluster.isWorker) process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
  await runService({
    name: 'resolver',
    summary: 'Answers routing decisions (unary Resolve and batched ResolveStream) from memory: IP location, policy tiers, weighted or consistent picks.',
    spec,
    metricsPort: 9464,
    argv,
    async main({ config, instanceId, logger, metrics, shutdown, transport }) {
      const geo = await createGeoIpProvider({
        path: config.geoipDb || undefined,
        logger: { info: (fields, msg) => logger.info(fields, msg), error: (fields, msg) => logger.error(fields, msg) },
        signal: shutdown.signal,
      });
      shutdown.add('geoip', () => geo.close());
      const onHup = (): void => void geo.reload();
      process.on('SIGHUP', onHup);
      shutdown.add('sighup', () => void process.off('SIGHUP', onHup));
      logger.info({ path: geo.path, ...geo.database.stats() }, 'ip database loaded');

      const rebuildMs = metrics.histogram({ name: 'cdn_resolver_table_rebuild_seconds', help: 'Routing table rebuild time', buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1] });
      const state = createRoutingState({
        consumerId: instanceId,
        configTarget: config.configWatcher,
        weightTargets: config.weightCalculators,
        maxStalenessMs: config.maxStalenessMs,
        transport,
        table: { spillThreshold: config.spillThreshold },
        onRebuild: (_t, ms) => rebuildMs.observe(ms / 1000),
        onError: (error) => logger.error({ err: error }, 'routing table rebuild failed; keeping the last good table'),
      });
      shutdown.add('routing-state', () => state.close());
      const core = createResolveCore({ table: () => state.table, geo: () => geo.database, stale: () => state.degraded() });
      const decisions = metrics.counter({ name: 'cdn_resolver_decisions_total', help: 'Decisions made', labelNames: ['outcome'] });
      const service = createResolverService({
        core,
        state,
        instanceId,
        maxBatch: config.maxBatch,
        traceRatio: config.traceRatio,
        onDecisions: (n, errors) => {
          if (n > errors) decisions.inc({ outcome: 'ok' }, n - errors);
          if (errors > 0) decisions.inc({ outcome: 'error' }, errors);
        },
      });
      metrics.gauge({ name: 'cdn_resolver_degraded', help: '1 while answers rest on stale upstream state', collect() { this.set(state.degraded() ? 1 : 0); } });
      metrics.gauge({ name: 'cdn_resolver_config_version', help: 'Config version of the routing table', collect() { this.set(Number(state.table?.configVersion ?? 0n)); } });
      metrics.gauge({ name: 'cdn_resolver_weights_version', help: 'Weight version of the routing table', collect() { this.set(Number(state.table?.weightsVersion ?? 0n)); } });
      const server = await startServiceServer({
        host: config.grpcHost,
        port: config.grpcPort,
        register: (s) => s.add(createResolverServiceDefinition({ maxBatch: config.maxBatch, maxBatchBytes: config.maxBatchBytes }), service),
        reflection: [reflectionFiles.resolver],
        transport,
      onInsecureBind: (warning) => logger.warn({}, warning),
      serviceNames: ['cdn.sched.v1.ResolverService'],
      });
      shutdown.add('grpc-server', () => server.close(2000));
      logger.info({ grpc: server.address, configWatcher: config.configWatcher, weightCalculators: config.weightCalculators }, 'resolver listening');
      void state.ready(shutdown.signal).then(
        () => {
          server.setServing(true);
          logger.info({ configVersion: Number(state.table?.configVersion ?? 0n) }, 'routing table ready');
        },
        () => undefined,
      );
      return {
        readiness: () => {
          if (!state.table) return { ready: false, reasons: ['no routing state yet (waiting for the config-watcher)', ...state.reasons()] };
          // Stale but answering: still ready (answers are marked degraded), and /readyz says why.
          return { ready: true, reasons: state.reasons() };
        },
      };
    },
  });
}
