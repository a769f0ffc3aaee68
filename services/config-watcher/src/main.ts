import { createEtcdClient } from '@cdn-sched/etcd';
import { reflectionFiles, serviceDefinitions } from '@cdn-sched/proto';
import { etcdSettings, grpcSettings, registerStatusMetrics, resolveEtcdConnection, runService, startServiceServer } from '@cdn-sched/service-kit';
import { createConfigWatcher } from './config-watcher.js';

const spec = {
  ...etcdSettings,
  ...grpcSettings(50051),
  progressIntervalMs: { type: 'int', env: 'PROGRESS_INTERVAL_MS', flag: 'progress-interval-ms', default: 1000, min: 50, description: 'progress message period on quiet streams, milliseconds' },
  heartbeatIntervalMs: { type: 'int', env: 'HEARTBEAT_INTERVAL_MS', flag: 'heartbeat-interval-ms', default: 1000, min: 50, description: 'etcd heartbeat (watch-latency sample) period, milliseconds' },
  staleAfterMs: { type: 'int', env: 'STALE_AFTER_MS', flag: 'stale-after-ms', default: 5000, min: 100, description: 'without contact with etcd for this long the snapshot is reported stale, milliseconds' },
  maxHistoryChanges: { type: 'int', env: 'MAX_HISTORY_CHANGES', flag: 'max-history-changes', default: 100_000, min: 0, description: 'changes kept to resume clients with deltas' },
} as const;

await runService({
  name: 'config-watcher',
  summary: 'Watches node and domain documents in etcd and streams validated, versioned snapshots and deltas.',
  spec,
  metricsPort: 9461,
  async main({ config, instanceId, logger, metrics, shutdown, transport }) {
    const client = createEtcdClient(resolveEtcdConnection(config));
    shutdown.add('etcd-client', () => client.close());
    const rejected = metrics.counter({ name: 'cdn_config_rejected_documents_total', help: 'Documents rejected by validation', labelNames: ['kind'] });
    const watcher = createConfigWatcher({
      client,
      instanceId,
      prefix: config.prefix,
      progressIntervalMs: config.progressIntervalMs,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      staleAfterMs: config.staleAfterMs,
      maxHistoryChanges: config.maxHistoryChanges,
      onRejected: (key, reason, revision) => {
        rejected.inc({ kind: key.slice(config.prefix.length).split('/')[0] ?? 'other' });
        logger.warn({ key, reason, revision }, 'document rejected; last good value kept');
      },
      onEtcdStateChange: (state, error) => logger.info({ state, error: error?.message }, 'etcd watch state'),
    });
    shutdown.add('config-watcher', () => watcher.close());
    metrics.gauge({ name: 'cdn_config_version', help: 'etcd revision of the configuration served', collect() { this.set(watcher.store.version); } });
    metrics.gauge({ name: 'cdn_config_consumers', help: 'Open Watch streams', collect() { this.set(watcher.consumers); } });
    metrics.gauge({ name: 'cdn_config_staleness_seconds', help: 'Time since the last contact with etcd', collect() { this.set(Number(watcher.upstream().stalenessMs) / 1000); } });
    // Two gauges rather than one with a `quantile` label: that label belongs to summaries
    // (`promtool check metrics`), and the window is ours, as for the event-loop delay gauges.
    metrics.gauge({
      name: 'cdn_etcd_watch_latency_p50_seconds',
      help: 'Median etcd watch latency (heartbeat put to watch event) over a sliding window, seconds',
      collect() {
        const p50 = watcher.latency.p50();
        if (Number.isFinite(p50)) this.set(p50 / 1000);
      },
    });
    metrics.gauge({
      name: 'cdn_etcd_watch_latency_p99_seconds',
      help: '99th percentile etcd watch latency over a sliding window, seconds',
      collect() {
        const p99 = watcher.latency.p99();
        if (Number.isFinite(p99)) this.set(p99 / 1000);
      },
    });
    registerStatusMetrics(metrics, () => watcher.status());
    const server = await startServiceServer({
      host: config.grpcHost,
      port: config.grpcPort,
      register: (s) => s.add(serviceDefinitions.configWatcher, watcher.service),
      reflection: [reflectionFiles.configWatcher],
      transport,
      onInsecureBind: (warning) => logger.warn({}, warning),
      serviceNames: ['cdn.sched.v1.ConfigWatcherService'],
    });
    // Registered last, stopped first: stop accepting and drain streams before the watch stops.
    shutdown.add('grpc-server', () => server.close(2000));
    logger.info({ grpc: server.address, etcd: config.etcdEndpoints, prefix: config.prefix }, 'config-watcher listening');
    void watcher.ready().then(() => {
      server.setServing(true);
      logger.info({ version: watcher.store.version }, 'initial configuration loaded');
    });
    return { readiness: () => watcher.readiness() };
  },
});
