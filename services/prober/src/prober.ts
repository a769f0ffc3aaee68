import { create } from '@bufbuild/protobuf';
import type { EtcdClient } from '@cdn-sched/etcd';
import {
  AssignedNodeSchema,
  ProbeStatusResponseSchema,
  StatusResponseSchema,
  type Node,
  type serviceDefinitions,
  type StatusResponse,
} from '@cdn-sched/proto';
import { createUpstreams } from '@cdn-sched/service-kit';
import { breakerStatusMessage, createConfigConsumer, nodeChanges, type ConfigEntry, type StreamConsumer } from '@cdn-sched/stream';
import type { ServiceImplementation } from 'nice-grpc';
import { createMembership, type Membership } from './membership.js';
import {
  assignedNodes,
  countUnderReplicated,
  createProbeScheduler,
  DEFAULT_REPLICATION_FACTOR,
  effectiveProbe,
  effectiveReplication,
  probeTargetOf,
  type ProbeDefaults,
  type ProbeScheduler,
  type ProbeRunnerOptions,
} from './probing/index.js';
import type { Transport } from '@cdn-sched/transport';
import { createReportTargets, type ReportTarget } from './report-targets.js';
import { createProbeTracing } from './probe-tracing.js';
import { createReporter, type Reporter } from './reporter.js';

/** Options of {@link createProber}. */
export interface ProberOptions {
  proberId: string;
  /** config-watcher address. */
  configTarget: string;
  /** Every weight-calculator replica (`host:port`, or `dns:///name:port` for every address of the name): results go to all of them. */
  weightTargets: readonly string[];
  /** How often `dns:///` weight-calculator names are resolved again, milliseconds. Defaults to 5000. */
  resolveIntervalMs?: number;
  /** etcd for membership; absent = this prober alone probes everything (tests, single node). */
  client?: EtcdClient;
  /** Key prefix. Defaults to "/cdn/". */
  prefix?: string;
  /** Probers per node. Defaults to 2 (capped by the number of probers). */
  replicationFactor?: number;
  /** Membership lease TTL, seconds. Defaults to 5. */
  memberTtlS?: number;
  defaults?: ProbeDefaults;
  maxConcurrency?: number;
  pool?: ProbeRunnerOptions;
  log?(level: 'info' | 'warn', message: string, fields?: Record<string, unknown>): void;
  /** Credentials and limits of its gRPC channels. Defaults to plaintext with default limits. */
  transport?: Transport;
}

/** A running prober. */
export interface Prober {
  readonly service: ServiceImplementation<typeof serviceDefinitions.prober>;
  readonly scheduler: ProbeScheduler;
  readonly config: StreamConsumer<ConfigEntry>;
  readonly reporters: readonly Reporter[];
  readonly members: readonly string[];
  readonly assigned: readonly string[];
  status(): StatusResponse;
  readiness(): { ready: boolean; reasons: string[] };
  close(): Promise<void>;
}

/**
 * The prober: node documents from the config stream, the member set from etcd, and rendezvous
 * hashing decide which nodes this replica probes; the scheduler probes them; every result goes to
 * every weight-calculator replica.
 */
export function createProber(options: ProberOptions): Prober {
  const log = options.log ?? (() => undefined);
  const startedAtMs = Date.now();
  const r = options.replicationFactor ?? DEFAULT_REPLICATION_FACTOR;
  const nodes = new Map<string, Node>();
  let members: readonly string[] = options.client ? [] : [options.proberId];
  let assigned: string[] = [];
  let membership: Membership | undefined;

  const config: StreamConsumer<ConfigEntry> = createConfigConsumer({
    target: options.configTarget,
    consumerId: options.proberId,
    transport: options.transport,
    onApplied(update, entries) {
      const changes = nodeChanges(update, entries);
      if (changes.snapshot) nodes.clear();
      for (const node of changes.upserted) nodes.set(node.id, node);
      for (const id of changes.removedIds) nodes.delete(id);
      reassign();
    },
  });
  const probeTracing = createProbeTracing();
  // One reporter per weight-calculator replica; `dns:///` entries are expanded to every address.
  const reporterMap = new Map<string, Reporter>();
  let reporters: Reporter[] = [];
  const newReporter = (t: ReportTarget): Reporter =>
    createReporter({
      proberId: options.proberId,
      target: t.target,
      serverName: t.serverName,
      transport: options.transport,
      traceBatch: (results) => probeTracing.batch(results, options.proberId, t.target),
      onStateChange: (connected, error) => log(connected ? 'info' : 'warn', connected ? 'reporting to weight-calculator' : 'weight-calculator unreachable; buffering latest result per node', { target: t.target, error }),
      onAck: (ack) => {
        if (ack.rejected > 0) log('warn', 'weight-calculator rejected results', { target: t.target, rejected: ack.rejected, errors: ack.errors });
      },
    });
  const reportTargets = createReportTargets({
    entries: options.weightTargets,
    resolveIntervalMs: options.resolveIntervalMs,
    onChange: (targets) => {
      const wanted = new Set(targets.map((t) => t.target));
      for (const [key, reporter] of reporterMap) {
        if (wanted.has(key)) continue;
        reporterMap.delete(key);
        void reporter.close();
      }
      for (const t of targets) if (!reporterMap.has(t.target)) reporterMap.set(t.target, newReporter(t));
      reporters = [...reporterMap.values()];
      log('info', 'weight-calculator replicas', { targets: [...wanted] });
    },
    onError: (entry, error) => log('warn', 'weight-calculator name did not resolve; keeping the last addresses', { entry, error: error.message }),
  });
  const scheduler = createProbeScheduler({
    defaults: options.defaults,
    maxConcurrency: options.maxConcurrency,
    pool: options.pool,
    onResult: (result, target) => {
      probeTracing.probed(result, effectiveProbe(target, options.defaults).type);
      for (const reporter of reporters) reporter.push(result);
    },
  });

  function reassign(): void {
    const next = assignedNodes(options.proberId, members, nodes.keys(), r);
    const before = new Set(assigned);
    const moved = next.filter((id) => !before.has(id)).length + assigned.filter((id) => !next.includes(id)).length;
    assigned = next;
    scheduler.setTargets(next.map((id) => probeTargetOf(nodes.get(id)!)));
    if (moved > 0) log('info', 'assignment changed', { assigned: next.length, moved, members: members.length });
  }

  if (options.client) {
    membership = createMembership({
      client: options.client,
      keyPrefix: `${options.prefix ?? '/cdn/'}members/prober/`,
      memberId: options.proberId,
      ttlS: options.memberTtlS,
      onChange: (m) => {
        members = m;
        log('info', 'prober members', { members: m });
        reassign();
      },
      onError: (error) => log('warn', 'membership', { error: String(error) }),
    });
  }

  const probeStatus = () => {
    const stats = scheduler.stats();
    return create(ProbeStatusResponseSchema, {
      proberId: options.proberId,
      members: [...members],
      replicationFactor: effectiveReplication(members.length, r),
      nodes: scheduler.targets().map((t) => create(AssignedNodeSchema, { nodeId: t.nodeId, probeType: t.type, intervalMs: t.intervalMs, lastResult: t.lastResult, lastRttMs: t.lastRttMs, lastProbeAtMs: BigInt(t.lastProbeAtMs) })),
      probesPerS: stats.probesPerS,
      rttP50Ms: stats.rttP50Ms,
      rttP99Ms: stats.rttP99Ms,
      resultsByClass: Object.fromEntries(Object.entries(stats.resultsByClass).map(([k, v]) => [k, BigInt(v)])),
      poolSockets: stats.openSockets,
      underReplicatedNodes: countUnderReplicated({ nodeIds: nodes.keys(), members, replicationFactor: r }),
    });
  };

  const upstreams = createUpstreams();
  upstreams.add({ name: 'config-watcher', target: () => options.configTarget, state: () => config.state, meanwhile: 'probing the last known nodes', requiredForReady: 'configuration' });
  const readiness = (): { ready: boolean; reasons: string[] } => {
    const extra: string[] = [];
    if (options.client && !membership?.registered) extra.push('not registered in etcd (membership lease missing)');
    const down = reporters.filter((x) => !x.connected && x.pending > 0).map((x) => x.breakerStatus().name.slice('report.'.length));
    if (down.length > 0) extra.push(`weight-calculator unreachable: ${down.join(', ')} (keeping the latest result per node)`);
    return upstreams.readiness(extra);
  };

  function status(): StatusResponse {
    const stats = scheduler.stats();
    const c = config.state;
    const rd = readiness();
    const breakers = [config.breakerStatus(), ...reporters.map((x) => x.breakerStatus())];
    return create(StatusResponseSchema, {
      service: 'prober',
      instanceId: options.proberId,
      startedAtMs: BigInt(startedAtMs),
      ready: rd.ready,
      reasons: rd.reasons,
      version: BigInt(c.version),
      epoch: c.epoch,
      breakers: breakers.map(breakerStatusMessage),
      streams: upstreams.streams(),
      watchLatencyP99Ms: Number.isFinite(c.watchLatencyP99Ms) ? c.watchLatencyP99Ms : 0,
      gauges: {
        assigned_nodes: assigned.length,
        members: members.length,
        probes_per_s: stats.probesPerS,
        in_flight: stats.inFlight,
        queued: stats.queued,
        pool_sockets: stats.openSockets,
        rtt_p50_ms: stats.rttP50Ms,
        rtt_p99_ms: stats.rttP99Ms,
        report_pending: reporters.reduce((a, x) => a + x.pending, 0),
      },
    });
  }

  return {
    service: {
      async status() {
        return status();
      },
      async probeStatus() {
        return probeStatus();
      },
    },
    scheduler,
    config,
    get reporters() {
      return reporters;
    },
    get members() {
      return members;
    },
    get assigned() {
      return assigned;
    },
    status,
    readiness,
    async close() {
      await membership?.close();
      await config.close();
      await scheduler.close();
      reportTargets.close();
      for (const x of reporters) await x.close();
    },
  };
}
