import { create } from '@bufbuild/protobuf';
import { createElection, type Election, type EtcdClient } from '@cdn-sched/etcd';
import {
  StatusResponseSchema,
  UpstreamHealthSchema,
  type serviceDefinitions,
  type StatusResponse,
  type UpstreamHealth,
} from '@cdn-sched/proto';
import {
  breakerStatusMessage,
  createConfigConsumer,
  createVersionedStore,
  createWeightsEncoder,
  serveVersionedStream,
  nodeChanges,
  weightEntryKey,
  CAPACITIES_KEY,
  type Change,
  type ConfigEntry,
  type StreamConsumer,
  type WeightEntry,
} from '@cdn-sched/stream';
import { createUpstreams, ServiceError } from '@cdn-sched/service-kit';
import { createVersionTraces, formatTraceparent, isSampledContext, parseTraceparent, SpanAttributes, SpanNames } from '@cdn-sched/telemetry';
import { ROOT_CONTEXT, SpanKind, trace, type SpanContext } from '@opentelemetry/api';
import type { Transport } from '@cdn-sched/transport';
import { peerIdentities } from '@cdn-sched/transport';
import { Status, type ServiceImplementation } from 'nice-grpc';
import { createWeightTable, type WeightTableOptions, type WeightTick } from './domain/index.js';
import type { DecodeOutcome } from './report-codec.js';
import { createReporterAuthorization, type RefusalReason, type ReporterAuthorization, type ReporterStream } from './reporter-authorization.js';
import { createWeightPersister, type WeightPersister } from './weight-persistence.js';

const tracer = trace.getTracer('cdn-sched.weight-calculator');

/** Options of {@link createWeightCalculator}. */
export interface WeightCalculatorOptions {
  instanceId: string;
  /** config-watcher address (`host:port`). */
  configTarget: string;
  /** etcd, for the election and persisted weights; absent = no election, never leader (tests). */
  client?: EtcdClient;
  /** Key prefix. Defaults to "/cdn/". */
  prefix?: string;
  /** How often weights are recomputed and published, milliseconds. Defaults to 100. */
  tickIntervalMs?: number;
  /** Progress period on quiet weight streams, milliseconds. Defaults to 1000. */
  progressIntervalMs?: number;
  /** Election lease TTL, seconds. Defaults to 5. */
  electionTtlS?: number;
  /** Past this age the config view is stale, milliseconds. Defaults to 10 s. */
  maxStalenessMs?: number;
  /** Health and weight tuning (see domain/). */
  table?: WeightTableOptions;
  /**
   * Weight changes kept to resume WatchWeights clients with a delta; a client that fell further
   * behind gets a snapshot. Defaults to 100,000 (as the config-watcher's history).
   */
  maxHistoryChanges?: number;
  /**
   * Accept ReportProbes only from current prober members (`<prefix>members/prober/<id>`) and, with
   * mutual TLS, only when the client certificate names that prober. Defaults to true when `client`
   * is given (without etcd there is no membership to check against).
   */
  authorizeReporters?: boolean;
  /** Called for each refused ReportProbes stream (for a metric). */
  onReporterRefused?(reason: RefusalReason, proberId: string, identities: readonly string[], message: string): void;
  /** Most ingest errors echoed per ack. Defaults to 10. */
  maxAckErrors?: number;
  now?: () => number;
  log?(level: 'info' | 'warn', message: string, fields?: Record<string, unknown>): void;
  /** Credentials and limits of its gRPC channels. Defaults to plaintext with default limits. */
  transport?: Transport;
}

/** A running weight-calculator core. */
export interface WeightCalculator {
  readonly service: ServiceImplementation<typeof serviceDefinitions.weightCalculator>;
  readonly config: StreamConsumer<ConfigEntry>;
  readonly version: number;
  readonly isLeader: boolean;
  readonly stats: { ingested: number; rejected: number; refusedReporters: number; ticks: number; reporters: number; persisted: number };
  /** Forces a tick now (tests, benchmarks). */
  tick(): void;
  status(): StatusResponse;
  readiness(): { ready: boolean; reasons: string[] };
  persisterIdle(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The weight-calculator: node documents from the config stream and probe results from every prober
 * (probers send to every replica, so each replica computes the same table and a failover is
 * instant: no weight drops to zero because a new leader has to learn the fleet first) go into the
 * pure weight table; each tick's material changes become one version of the weight stream, and the
 * elected leader persists them to `<prefix>weights/<id>`.
 */
export function createWeightCalculator(options: WeightCalculatorOptions): WeightCalculator {
  const now = options.now ?? Date.now;
  const log = options.log ?? (() => undefined);
  const prefix = options.prefix ?? '/cdn/';
  const startedAtMs = now();
  const table = createWeightTable(options.table);
  const store = createVersionedStore<WeightEntry>({ epoch: `${options.instanceId}@${startedAtMs}`, maxHistoryChanges: options.maxHistoryChanges });
  const stats = { ingested: 0, rejected: 0, refusedReporters: 0, ticks: 0, reporters: 0, persisted: 0 };
  let authorization: ReporterAuthorization | undefined;
  let persister: WeightPersister | undefined;
  let election: Election | undefined;
  const closing = new AbortController();

  const config = createConfigConsumer({
    target: options.configTarget,
    consumerId: options.instanceId,
    transport: options.transport,
    maxStalenessMs: options.maxStalenessMs,
    onApplied(update, entries) {
      const changes = nodeChanges(update, entries);
      if (changes.snapshot) {
        for (const r of table.setNodes([...changes.upserted])) log('warn', 'node document rejected by the weight table', { nodeId: r.nodeId, reason: r.error });
        return;
      }
      for (const node of changes.upserted) {
        const outcome = table.upsertNode(node);
        if (!outcome.accepted) log('warn', 'node document rejected by the weight table', { nodeId: outcome.nodeId, reason: outcome.error });
      }
      for (const id of changes.removedIds) table.removeNode(id);
    },
  });

  // Ingest spans since the last version, linked from the next version's publish span (bounded: a
  // version made of thousands of batches links to the first 64).
  let ingested: SpanContext[] = [];
  const versionTraces = createVersionTraces();
  // Every version gets a span (at most one per tick), kept when a linked batch was sampled or by
  // the ratio: a resolver's decision links to the version it used whether or not probes drove it.
  const tracePublish = (changed: number): void => {
    const span = tracer.startSpan(SpanNames.weightsPublish, {
      kind: SpanKind.PRODUCER,
      links: ingested.map((context) => ({ context })),
      attributes: { [SpanAttributes.weightsVersion]: store.version, [SpanAttributes.batchSize]: changed },
    }, ROOT_CONTEXT);
    ingested = [];
    if (span.isRecording()) versionTraces.set(store.version, span.spanContext());
    span.end();
  };
  const traceIngest = (traceparent: string, proberId: string, size: number, accepted: number): void => {
    // Only a batch whose prober sampled a probe is traced: an untraced batch costs one string check.
    const sender = parseTraceparent(traceparent);
    if (!isSampledContext(sender)) return;
    const span = tracer.startSpan(SpanNames.probesIngest, {
      kind: SpanKind.CONSUMER,
      links: [{ context: sender }],
      attributes: { [SpanAttributes.proberId]: proberId, [SpanAttributes.batchSize]: size, 'cdn.accepted': accepted },
      // A root linked to the prober's batch, not a child of the stream-long ReportProbes call span.
    }, ROOT_CONTEXT);
    if (span.isRecording() && ingested.length < 64) ingested.push(span.spanContext());
    span.end();
  };

  /** Commits one tick's changes as the next version of the weight stream (and to the persister). */
  const commit = (tick: WeightTick): void => {
    if (tick.changed.length === 0 && tick.removedNodeIds.length === 0 && !tick.capacitiesChanged && store.version > 0) return;
    const changes: Change<WeightEntry>[] = tick.changed.map((weight) => ({ key: weightEntryKey(weight.nodeId), value: { kind: 'weight', weight } }));
    for (const id of tick.removedNodeIds) changes.push({ key: weightEntryKey(id), value: undefined });
    if (tick.capacitiesChanged || store.version === 0) changes.push({ key: CAPACITIES_KEY, value: { kind: 'capacities', capacities: tick.capacities } });
    store.commit(store.version + 1, changes);
    tracePublish(changes.length);
    if (election?.isLeader && persister) {
      persister.enqueue(tick.changed, store.version);
      persister.remove(tick.removedNodeIds);
    }
  };
  const publish = (): void => {
    stats.ticks++;
    commit(table.tick(now()));
  };
  // A result that changed a prober's health for a node (the deciding failure of a DOWN, above all)
  // is published once the batches that arrived in this turn of the event loop are ingested, not at
  // the next tick: waiting for the tick added up to a tick interval (100 ms) to probe result →
  // answers (docs/architecture.md "Performance targets"). Batches of one turn share one version.
  let transitionsScheduled = false;
  const publishTransitions = (): void => {
    transitionsScheduled = false;
    if (table.pendingTransitions > 0) commit(table.tickTransitions(now()));
  };
  const scheduleTransitions = (): void => {
    if (transitionsScheduled || table.pendingTransitions === 0) return;
    transitionsScheduled = true;
    setImmediate(publishTransitions);
  };
  const ticker = setInterval(publish, options.tickIntervalMs ?? 100);

  if (options.client) {
    const client = options.client;
    if (options.authorizeReporters ?? true) authorization = createReporterAuthorization({ client, keyPrefix: `${prefix}members/prober/` });
    persister = createWeightPersister({
      client,
      keyPrefix: `${prefix}weights/`,
      leaderId: options.instanceId,
      onError: (error) => log('warn', 'weight persist failed; will retry', { error: String(error) }),
    });
    const p = persister;
    // The reconcile deletes every persisted weight whose node is not in the table, so it must wait
    // until the table holds the configuration: a leader elected before its first config snapshot
    // (a cold start, or a config-watcher that is down) would otherwise wipe `<prefix>weights/`,
    // the table operators and bootstraps read. The tick right after the snapshot publishes every
    // node, so the reconcile then compares the whole fleet.
    const reconcileWhenReady = async (): Promise<void> => {
      await config.ready(closing.signal);
      if (!election?.isLeader) return;
      publish();
      await p.reconcile(table.snapshot().weights, store.version);
    };
    election = createElection({
      client,
      prefix: `${prefix}election/weight-calculator`,
      candidateId: options.instanceId,
      ttlS: options.electionTtlS ?? 5,
      onChange: ({ isLeader, leaderId }) => {
        log('info', isLeader ? 'became leader' : 'following', { leader: leaderId });
        if (isLeader) {
          void reconcileWhenReady().catch((error: unknown) => {
            if (!closing.signal.aborted) log('warn', 'reconcile failed', { error: String(error) });
          });
        }
      },
      onError: (error) => log('warn', 'election', { error: error.message }),
    });
  }

  const upstreams = createUpstreams();
  upstreams.add({ name: 'config-watcher', target: () => options.configTarget, state: () => config.state, meanwhile: 'weighing the last known nodes', requiredForReady: 'configuration' });
  const upstream = (): UpstreamHealth => {
    const c = config.state;
    const reasons = upstreams.reasons();
    if (stats.reporters === 0) reasons.push('no prober connected');
    return create(UpstreamHealthSchema, {
      healthy: reasons.length === 0,
      reason: reasons.join('; '),
      // The weights are as old as the configuration they were computed from (its staleness includes
      // the config-watcher's own distance from etcd). Missing probe results are not staleness: the
      // table's quorum and hold rules already turn them into UNKNOWN health.
      stalenessMs: BigInt(Number.isFinite(c.stalenessMs) ? Math.round(c.stalenessMs) : 0),
      watchLatencyP99Ms: Number.isFinite(c.watchLatencyP99Ms) ? c.watchLatencyP99Ms : 0,
    });
  };
  const traceOf = (version: number): string => {
    const context = versionTraces.get(version);
    return context ? formatTraceparent(context) : '';
  };
  const encoder = createWeightsEncoder(store.epoch, upstream, undefined, traceOf);
  // For clients that read weight and health only (the resolver): no terms (WatchRequest.lean).
  const leanEncoder = createWeightsEncoder(store.epoch, upstream, undefined, traceOf, true);

  const service: ServiceImplementation<typeof serviceDefinitions.weightCalculator> = {
    async *reportProbes(requests, context) {
      stats.reporters++;
      const identities = peerIdentities(context.metadata);
      const stream: ReporterStream = {};
      try {
        for await (const batch of requests) {
          // The wire decoder's findings (report-codec.ts); absent when the generic decoder was used.
          const decoded = batch as typeof batch & Partial<DecodeOutcome>;
          if (decoded.malformed !== undefined) throw new ServiceError(Status.INVALID_ARGUMENT, 'malformed-report', decoded.malformed);
          if (authorization) {
            // Checked before anything reaches the table: a refused caller has no effect on any weight.
            const verdict = await authorization.check(stream, batch.proberId, identities);
            if (!verdict.ok) {
              stats.refusedReporters++;
              options.onReporterRefused?.(verdict.reason, batch.proberId, identities, verdict.message);
              throw new ServiceError(Status.PERMISSION_DENIED, verdict.reason.replaceAll('_', '-'), verdict.message);
            }
          }
          const receivedAtMs = now();
          let accepted = 0;
          const errors: string[] = [];
          for (const result of batch.results) {
            const outcome = table.ingest(batch.proberId, result, receivedAtMs);
            if (outcome.accepted) accepted++;
            else if (errors.length < (options.maxAckErrors ?? 10)) errors.push(outcome.error);
          }
          const invalid = decoded.invalidResults ?? [];
          for (const e of invalid) if (errors.length < (options.maxAckErrors ?? 10)) errors.push(e);
          const rejected = batch.results.length - accepted + invalid.length;
          stats.ingested += accepted;
          stats.rejected += rejected;
          scheduleTransitions();
          if (batch.traceparent !== '') traceIngest(batch.traceparent, batch.proberId, batch.results.length, accepted);
          yield { seq: batch.seq, accepted, rejected, errors };
        }
      } finally {
        stats.reporters--;
      }
    },
    async *watchWeights(request, context) {
      yield* serveVersionedStream({
        store,
        request: { epoch: request.epoch, version: Number(request.version) },
        encoder: request.lean ? leanEncoder : encoder,
        signal: context.signal,
        progressIntervalMs: options.progressIntervalMs ?? 1000,
      });
    },
    async status() {
      return status();
    },
  };

  const readiness = (): { ready: boolean; reasons: string[] } => upstreams.readiness(stats.reporters === 0 ? ['no prober connected'] : []);

  function status(): StatusResponse {
    const r = readiness();
    const c = config.state;
    return create(StatusResponseSchema, {
      service: 'weight-calculator',
      instanceId: options.instanceId,
      startedAtMs: BigInt(startedAtMs),
      ready: r.ready,
      reasons: r.reasons,
      version: BigInt(store.version),
      epoch: store.epoch,
      breakers: [breakerStatusMessage(config.breakerStatus())],
      streams: upstreams.streams(),
      watchLatencyP99Ms: Number.isFinite(c.watchLatencyP99Ms) ? c.watchLatencyP99Ms : 0,
      gauges: {
        leader: election?.isLeader ? 1 : 0,
        nodes: table.nodeCount,
        probe_pairs: table.pairCount,
        results_ingested: stats.ingested,
        results_rejected: stats.rejected,
        reporters_refused: stats.refusedReporters,
        reporters: stats.reporters,
        persisted: persister?.written ?? 0,
      },
    });
  }

  return {
    service,
    config,
    get version() {
      return store.version;
    },
    get isLeader() {
      return election?.isLeader ?? false;
    },
    get stats() {
      return { ...stats, persisted: persister?.written ?? 0 };
    },
    tick: publish,
    status,
    readiness,
    persisterIdle: () => persister?.idle() ?? Promise.resolve(),
    async close() {
      closing.abort();
      clearInterval(ticker);
      await election?.close();
      await persister?.close();
      await authorization?.close();
      await config.close();
    },
  };
}
