import { createEtcdClient } from '@cdn-sched/etcd';
import { reflectionFiles, serviceDefinitions } from '@cdn-sched/proto';
import { configWatcherSetting, etcdSettings, grpcSettings, registerStatusMetrics, resolveEtcdConnection, runService, startServiceServer } from '@cdn-sched/service-kit';
import { createProber } from './prober.js';

const spec = {
  ...etcdSettings,
  ...configWatcherSetting,
  ...grpcSettings(50052),
  weightCalculators: { type: 'list', env: 'WEIGHT_CALCULATORS', flag: 'weight-calculators', default: ['127.0.0.1:50053'], description: 'every weight-calculator replica (results go to all): host:port entries, or dns:///name:port for every address of a name (re-resolved every 5 s)' },
  replicationFactor: { type: 'int', env: 'REPLICATION_FACTOR', flag: 'replication-factor', default: 2, min: 1, description: 'probers per node (capped by the number of probers)' },
  memberTtlS: { type: 'int', env: 'MEMBER_TTL_S', flag: 'member-ttl-s', default: 5, min: 1, description: 'membership lease TTL, seconds: a dead prober\'s nodes move within this' },
  intervalMs: { type: 'int', env: 'PROBE_INTERVAL_MS', flag: 'probe-interval-ms', default: 5000, min: 100, description: 'default probe interval, milliseconds' },
  timeoutMs: { type: 'int', env: 'PROBE_TIMEOUT_MS', flag: 'probe-timeout-ms', default: 2000, min: 10, description: 'default probe timeout, milliseconds' },
  maxConcurrency: { type: 'int', env: 'PROBE_CONCURRENCY', flag: 'probe-concurrency', default: 512, min: 1, description: 'probes in flight at most' },
} as const;

await runService({
  name: 'prober',
  summary: 'Probes its share of the edge fleet over keep-alive connections and streams results to every weight-calculator.',
  spec,
  metricsPort: 9462,
  async main({ config, instanceId, logger, metrics, shutdown, transport }) {
    const client = createEtcdClient(resolveEtcdConnection(config));
    shutdown.add('etcd-client', () => client.close());
    const prober = createProber({
      proberId: instanceId,
      client,
      prefix: config.prefix,
      configTarget: config.configWatcher,
      weightTargets: config.weightCalculators,
      replicationFactor: config.replicationFactor,
      memberTtlS: config.memberTtlS,
      defaults: { intervalMs: config.intervalMs, timeoutMs: config.timeoutMs },
      maxConcurrency: config.maxConcurrency,
      transport,
      log: (level, message, fields) => logger[level](fields ?? {}, message),
    });
    shutdown.add('prober', () => prober.close());
    metrics.gauge({ name: 'cdn_prober_assigned_nodes', help: 'Nodes this prober probes', collect() { this.set(prober.assigned.length); } });
    metrics.gauge({ name: 'cdn_prober_probes_per_second', help: 'Probes completed per second', collect() { this.set(prober.scheduler.stats().probesPerS); } });
    metrics.gauge({ name: 'cdn_prober_pool_sockets', help: 'Open keep-alive sockets', collect() { this.set(prober.scheduler.stats().openSockets); } });
    // A running total is a counter (rate() needs one); the scheduler keeps the totals, the
    // counter adds what is new at each scrape.
    const resultsSeen = new Map<string, number>();
    metrics.counter({
      name: 'cdn_prober_results_total',
      help: 'Probe results by class since start',
      labelNames: ['class'],
      collect() {
        for (const [k, v] of Object.entries(prober.scheduler.stats().resultsByClass)) {
          const delta = v - (resultsSeen.get(k) ?? 0);
          resultsSeen.set(k, v);
          this.inc({ class: k }, delta > 0 ? delta : 0);
        }
      },
    });
    registerStatusMetrics(metrics, () => prober.status());
    const server = await startServiceServer({
      host: config.grpcHost,
      port: config.grpcPort,
      register: (s) => s.add(serviceDefinitions.prober, prober.service),
      reflection: [reflectionFiles.prober],
      transport,
      onInsecureBind: (warning) => logger.warn({}, warning),
      serviceNames: ['cdn.sched.v1.ProberService'],
    });
    shutdown.add('grpc-server', () => server.close(2000));
    server.setServing(true);
    logger.info({ grpc: server.address, weightCalculators: config.weightCalculators }, 'prober listening');
    return { readiness: () => prober.readiness() };
  },
});
