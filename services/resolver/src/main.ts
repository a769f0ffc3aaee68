import { createGeoIpProvider } from '@cdn-sched/geoip';
import { reflectionFiles } from '@cdn-sched/proto';
import { configWatcherSetting, grpcSettings, registerStatusMetrics, runService, startServiceServer, workersSetting } from '@cdn-sched/service-kit';
import { capacityByLocation } from './serving/capacity-by-location.js';
import { createDecisionTally } from './serving/decision-tally.js';
import { createResolveCore } from './serving/resolve-core.js';
import { createResolverService, createResolverServiceDefinition, resolverStatus, useResolverBufferPool } from './serving/resolver-service.js';
import { createRoutingState } from './serving/routing-state.js';

const spec = {
  ...configWatcherSetting,
  ...grpcSettings(50054),
  weightCalculators: { type: 'list', env: 'WEIGHT_CALCULATORS', flag: 'weight-calculators', default: ['127.0.0.1:50053'], description: 'weight-calculator replicas, tried in order' },
  ...workersSetting('RESOLVER_WORKERS'),
  geoipDb: { type: 'string', env: 'GEOIP_DB', flag: 'geoip-db', default: '', description: 'IP database (ip2region text/.gz/.xdb or MaxMind .mmdb); empty = the shipped ip2region data. SIGHUP reloads it' },
  maxStalenessMs: { type: 'int', env: 'MAX_STALENESS_MS', flag: 'max-staleness-ms', default: 10_000, min: 100, description: 'upstream state older than this is degraded and reported in /readyz, milliseconds' },
  spillThreshold: { type: 'number', env: 'SPILL_THRESHOLD', flag: 'spill-threshold', default: 0.5, min: 0, max: 1, description: 'a tier answers only while its healthy capacity share is at least this' },
  maxBatch: { type: 'int', env: 'MAX_BATCH', flag: 'max-batch', default: 5000, min: 1, description: 'most queries per ResolveStream batch (checked while decoding: decoding stops at the first query over it)' },
  maxBatchBytes: { type: 'int', env: 'MAX_BATCH_BYTES', flag: 'max-batch-bytes', default: 1024 * 1024, min: 1024, description: 'largest ResolveStream batch, bytes (refused before decoding)' },
  traceRatio: { type: 'number', env: 'TRACE_RATIO', flag: 'trace-ratio', default: 0.01, min: 0, max: 1, description: 'share of calls/batches traced with a cdn.request span' },
} as const;

await runService({
  name: 'resolver',
  summary: 'Answers routing decisions (unary Resolve and batched ResolveStream) from memory: IP location, policy tiers, weighted or consistent picks.',
  spec,
  metricsPort: 9464,
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
    const tally = createDecisionTally();
    const counted = new Map<string, number>();
    metrics.counter({
      name: 'cdn_resolver_decisions_total',
      help: 'Decisions made, by outcome (ok, degraded, error), tier that answered and reason (or error code)',
      labelNames: ['outcome', 'tier', 'reason'],
      collect() {
        // The tally counts on the hot path without labels; the counter catches up at scrape time.
        for (const e of tally.entries()) {
          const key = `${e.outcome}|${e.tier}|${e.reason}`;
          const delta = e.count - (counted.get(key) ?? 0);
          counted.set(key, e.count);
          if (delta > 0) this.inc({ outcome: e.outcome, tier: e.tier, reason: e.reason }, delta);
        }
      },
    });
    const duration = metrics.histogram({
      name: 'cdn_resolver_request_duration_seconds',
      help: 'Time to decide and encode one unary Resolve call or one ResolveStream batch, seconds',
      labelNames: ['method'],
      // The P99 budget of a decision is 85 ms; a batch of thousands takes milliseconds.
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.085, 0.25],
    });
    const durationOf = { resolve: duration.labels('resolve'), resolve_stream: duration.labels('resolve_stream') };
    useResolverBufferPool();
    const service = createResolverService({
      core,
      state,
      instanceId,
      maxBatch: config.maxBatch,
      traceRatio: config.traceRatio,
      tally,
      onDecisions: (_n, _errors, durationS, method) => durationOf[method].observe(durationS),
    });
    const startedAtMs = Date.now();
    registerStatusMetrics(metrics, () => resolverStatus({ state, instanceId }, startedAtMs));
    const capacityRows = () => (state.table ? capacityByLocation(state.table.nodes) : []);
    metrics.gauge({
      name: 'cdn_resolver_capacity_rps',
      help: 'Capacity of the routing table\'s nodes by pool, location and health (sum by the tier\'s labels for its healthy capacity)',
      labelNames: ['pool', 'country', 'region', 'isp', 'health'],
      collect() {
        this.reset();
        for (const r of capacityRows()) this.set({ pool: r.pool, country: r.country, region: r.region, isp: r.isp, health: r.health }, r.capacityRps);
      },
    });
    metrics.gauge({
      name: 'cdn_resolver_weight',
      help: 'Sum of the weights decisions use, by pool, location and health',
      labelNames: ['pool', 'country', 'region', 'isp', 'health'],
      collect() {
        this.reset();
        for (const r of capacityRows()) this.set({ pool: r.pool, country: r.country, region: r.region, isp: r.isp, health: r.health }, r.weight);
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
      directUnary: [service.directResolve],
      directStream: [service.directResolveStream],
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
      // Stale but answering: still ready (answers are marked degraded), and /readyz says why.
      readiness: () => (state.table ? state.upstreams.readiness() : { ready: false, reasons: ['no routing state yet', ...state.reasons()] }),
    };
  },
});
