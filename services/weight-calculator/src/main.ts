import { createEtcdClient } from '@cdn-sched/etcd';
import { reflectionFiles } from '@cdn-sched/proto';
import { configWatcherSetting, etcdSettings, grpcSettings, registerStatusMetrics, resolveEtcdConnection, runService, startServiceServer } from '@cdn-sched/service-kit';
import { weightCalculatorServiceDefinition } from './report-codec.js';
import { createWeightCalculator } from './weight-calculator.js';

const spec = {
  ...etcdSettings,
  ...configWatcherSetting,
  ...grpcSettings(50053),
  tickIntervalMs: { type: 'int', env: 'TICK_INTERVAL_MS', flag: 'tick-interval-ms', default: 100, min: 10, description: 'weight recomputation period, milliseconds' },
  electionTtlS: { type: 'int', env: 'ELECTION_TTL_S', flag: 'election-ttl-s', default: 5, min: 1, description: 'leader lease TTL, seconds (failover bound)' },
  fallThreshold: { type: 'int', env: 'FALL_THRESHOLD', flag: 'fall-threshold', default: 3, min: 1, description: 'failures in the window that mark a (node, prober) down' },
  riseThreshold: { type: 'int', env: 'RISE_THRESHOLD', flag: 'rise-threshold', default: 2, min: 1, description: 'consecutive successes that mark it up again' },
} as const;

await runService({
  name: 'weight-calculator',
  summary: 'Turns probe results and node documents into health and weights; streams them; the leader persists them to etcd.',
  spec,
  metricsPort: 9463,
  async main({ config, instanceId, logger, metrics, shutdown, transport }) {
    const client = createEtcdClient(resolveEtcdConnection(config));
    shutdown.add('etcd-client', () => client.close());
    const refused = metrics.counter({ name: 'cdn_probe_reports_refused_total', help: 'ReportProbes streams refused: caller not a current prober member, or its certificate names another prober', labelNames: ['reason'] });
    const calc = createWeightCalculator({
      instanceId,
      client,
      prefix: config.prefix,
      configTarget: config.configWatcher,
      tickIntervalMs: config.tickIntervalMs,
      electionTtlS: config.electionTtlS,
      transport,
      onReporterRefused: (reason, proberId, identities, message) => {
        refused.inc({ reason });
        logger.warn({ reason, proberId, identities }, `ReportProbes refused: ${message}`);
      },
      table: { fallThreshold: config.fallThreshold, riseThreshold: config.riseThreshold },
      log: (level, message, fields) => logger[level](fields ?? {}, message),
    });
    shutdown.add('weight-calculator', () => calc.close());
    metrics.gauge({ name: 'cdn_weights_version', help: 'Version of the weight stream', collect() { this.set(calc.version); } });
    metrics.gauge({ name: 'cdn_weights_leader', help: '1 on the elected leader', collect() { this.set(calc.isLeader ? 1 : 0); } });
    // Running totals are counters (rate() needs one): add what is new at each scrape.
    const seen = { accepted: 0, rejected: 0 };
    metrics.counter({
      name: 'cdn_probe_results_total',
      help: 'Probe results received from probers since start, by outcome (accepted, rejected)',
      labelNames: ['outcome'],
      collect() {
        const { ingested, rejected } = calc.stats;
        this.inc({ outcome: 'accepted' }, Math.max(0, ingested - seen.accepted));
        this.inc({ outcome: 'rejected' }, Math.max(0, rejected - seen.rejected));
        seen.accepted = Math.max(seen.accepted, ingested);
        seen.rejected = Math.max(seen.rejected, rejected);
      },
    });
    registerStatusMetrics(metrics, () => calc.status());
    const server = await startServiceServer({
      host: config.grpcHost,
      port: config.grpcPort,
      register: (s) => s.add(weightCalculatorServiceDefinition, calc.service),
      reflection: [reflectionFiles.weightCalculator],
      transport,
      onInsecureBind: (warning) => logger.warn({}, warning),
      serviceNames: ['cdn.sched.v1.WeightCalculatorService'],
    });
    shutdown.add('grpc-server', () => server.close(2000));
    server.setServing(true);
    logger.info({ grpc: server.address, configWatcher: config.configWatcher }, 'weight-calculator listening');
    return { readiness: () => calc.readiness() };
  },
});
