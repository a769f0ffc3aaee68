import { create } from '@bufbuild/protobuf';
import { createReflector, type EtcdClient, type Reflector } from '@cdn-sched/etcd';
import { StatusResponseSchema, UpstreamHealthSchema, type serviceDefinitions, type StatusResponse, type UpstreamHealth } from '@cdn-sched/proto';
import { breakerProfiles, createTunedBreaker, type TunedBreaker } from '@cdn-sched/resilience';
import { breakerStatusMessage, createConfigEncoder, createVersionedStore, serveVersionedStream, type ConfigEntry, type VersionedStore } from '@cdn-sched/stream';
import { createUpstreams, type UpstreamState } from '@cdn-sched/service-kit';
import { createVersionTraces, formatTraceparent, parseTraceparent, sampledLinks, SpanAttributes, SpanNames } from '@cdn-sched/telemetry';
import { ROOT_CONTEXT, SpanKind, trace, type Attributes, type Link } from '@opentelemetry/api';
import type { ServiceImplementation } from 'nice-grpc';
import { createConfigState } from './config-state.js';
import { createWatchLatencyProbe, type WatchLatencyProbe } from './watch-latency.js';

const tracer = trace.getTracer('cdn-sched.config-watcher');

/** Options of {@link createConfigWatcher}. */
export interface ConfigWatcherOptions {
  client: EtcdClient;
  instanceId: string;
  /** Key prefix. Defaults to "/cdn/". */
  prefix?: string;
  /** Progress message period on quiet streams, milliseconds. Defaults to 1000. */
  progressIntervalMs?: number;
  /** Heartbeat (watch-latency sample) period, milliseconds. Defaults to 1000. */
  heartbeatIntervalMs?: number;
  /** Without contact with etcd for this long, the view is stale, milliseconds. Defaults to 5000. */
  staleAfterMs?: number;
  /** Changes kept for resuming clients with deltas. Defaults to 100,000. */
  maxHistoryChanges?: number;
  /** etcd watch idle timeout before a progress request, milliseconds. Defaults to 3000. */
  watchIdleTimeoutMs?: number;
  onRejected?(key: string, reason: string, revision: number): void;
  onEtcdStateChange?(state: string, error?: Error): void;
  now?: () => number;
}

/** A running config-watcher core (no gRPC server of its own: see main.ts). */
export interface ConfigWatcher {
  readonly store: VersionedStore<ConfigEntry>;
  readonly reflector: Reflector;
  readonly latency: WatchLatencyProbe;
  readonly breakers: readonly TunedBreaker[];
  readonly consumers: number;
  /** The ConfigWatcherService implementation. */
  readonly service: ServiceImplementation<typeof serviceDefinitions.configWatcher>;
  upstream(): UpstreamHealth;
  status(): StatusResponse;
  readiness(): { ready: boolean; reasons: string[] };
  /** Resolves after the first list has been published. */
  ready(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The config-watcher: the only reader of configuration in etcd. One reflector (list+watch) feeds a
 * versioned store of validated documents; every Watch stream is served from that store, so etcd
 * load does not grow with consumers.
 */
export function createConfigWatcher(options: ConfigWatcherOptions): ConfigWatcher {
  const now = options.now ?? Date.now;
  const prefix = options.prefix ?? '/cdn/';
  const staleAfterMs = options.staleAfterMs ?? 5000;
  const startedAtMs = now();
  const store = createVersionedStore<ConfigEntry>({ epoch: `${options.instanceId}@${startedAtMs}`, maxHistoryChanges: options.maxHistoryChanges });
  let lastContactMs = 0;
  let consumers = 0;
  let etcdState = 'listing';
  let lastError: string | undefined;
  let readyResolve!: () => void;
  const readyPromise = new Promise<void>((r) => (readyResolve = r));

  // The breakers read the p99 of the heartbeat echo; the probe needs a breaker in turn, so it is
  // created after them and reached through this holder.
  const latencyRef: { probe?: WatchLatencyProbe } = {};
  const alive = (): boolean => now() - lastContactMs < Math.max(2000, 3 * (options.heartbeatIntervalMs ?? 1000));
  const makeBreaker = (name: string): TunedBreaker =>
    createTunedBreaker({ name, latencyP99Ms: () => latencyRef.probe?.p99() ?? Number.NaN, ...breakerProfiles.etcd, upstreamAlive: alive });
  const listBreaker = makeBreaker('etcd.list');
  const heartbeatBreaker = makeBreaker('etcd.heartbeat');

  const touch = (): void => {
    lastContactMs = now();
  };
  // One span per committed version (config changes are rare: sampled by the process ratio); its
  // traceparent rides with the version on every Watch stream.
  const versionTraces = createVersionTraces();
  const publish = (revision: number, attributes: Attributes, links: Link[]): void => {
    const span = tracer.startSpan(SpanNames.configPublish, {
      kind: SpanKind.PRODUCER,
      attributes: { [SpanAttributes.configVersion]: revision, ...attributes },
      links,
      // A root: the etcd watch callback's context (a stream-long call) is not this version's cause.
      // The writers' spans are its causes, several per version: links, as the OpenTelemetry
      // specification models a batch ("Links between spans", Span API).
    }, ROOT_CONTEXT);
    if (span.isRecording()) versionTraces.set(revision, span.spanContext());
    span.end();
  };
  const state = createConfigState({
    store,
    prefix,
    onRejected: options.onRejected,
    onCommit: (revision, changes, writers) =>
      publish(
        revision,
        {
          [SpanAttributes.batchSize]: changes.length,
          [SpanAttributes.rejectedCount]: changes.filter((c) => c.value?.kind === 'rejected').length,
          [SpanAttributes.snapshot]: false,
        },
        // Bounded (sampledLinks keeps at most 64): a bulk change must not make a span of thousands of links.
        sampledLinks(writers.map(parseTraceparent)),
      ),
    // The startup list is a version like any other: a decision made on it links to this span.
    onReset: (revision, size) => publish(revision, { [SpanAttributes.batchSize]: size, [SpanAttributes.snapshot]: true }, []),
    onHeartbeat: (key, value) => {
      touch();
      latencyRef.probe?.onHeartbeat(key, value);
    },
  });
  const reflector = createReflector({
    client: options.client,
    prefix,
    idleTimeoutMs: options.watchIdleTimeoutMs ?? 3000,
    backoff: { baseMs: 100, maxMs: 2000 },
    list: (signal) =>
      listBreaker.fire((deadline) => options.client.list(prefix, { signal: AbortSignal.any([signal, deadline]), timeoutMs: 60_000 })),
    onSnapshot: (kvs, revision) => {
      touch();
      state.applyList(kvs, revision);
      readyResolve();
    },
    onEvents: (events, revision) => {
      touch();
      state.applyEvents(events, revision);
    },
    onProgress: touch,
    onStateChange: (s, error) => {
      etcdState = s;
      if (error) lastError = error.message;
      if (s === 'watching') lastError = undefined;
      options.onEtcdStateChange?.(s, error);
    },
  });
  const probe = createWatchLatencyProbe({
    client: options.client,
    key: `${prefix}heartbeat/${options.instanceId}`,
    instanceId: options.instanceId,
    intervalMs: options.heartbeatIntervalMs,
    breaker: heartbeatBreaker,
    now,
  });
  latencyRef.probe = probe;

  const etcdUpstream = (): UpstreamState => {
    const stalenessMs = lastContactMs === 0 ? now() - startedAtMs : now() - lastContactMs;
    const connected = etcdState === 'watching';
    return { connected, version: store.version, epoch: store.epoch, stalenessMs, stale: !connected || stalenessMs >= staleAfterMs, lastError: lastError ? `${etcdState}: ${lastError}` : etcdState };
  };
  const upstreams = createUpstreams();
  upstreams.add({
    name: 'etcd',
    target: () => options.client.endpoints.join(','),
    state: etcdUpstream,
    meanwhile: () => `serving the last snapshot at revision ${store.version}`,
    requiredForReady: 'configuration',
  });
  const upstream = (): UpstreamHealth => {
    const e = etcdUpstream();
    const stalenessMs = e.stalenessMs;
    const healthy = !e.stale;
    const reason = upstreams.reasons().join('; ');
    const p50 = probe.p50();
    const p99 = probe.p99();
    return create(UpstreamHealthSchema, {
      healthy,
      reason,
      stalenessMs: BigInt(Math.max(0, stalenessMs)),
      watchLatencyP50Ms: Number.isFinite(p50) ? p50 : 0,
      watchLatencyP99Ms: Number.isFinite(p99) ? p99 : 0,
    });
  };
  const encoder = createConfigEncoder(store.epoch, upstream, undefined, (version) => {
    const context = versionTraces.get(version);
    return context ? formatTraceparent(context) : '';
  });
  const breakers = [listBreaker, heartbeatBreaker];

  const service: ServiceImplementation<typeof serviceDefinitions.configWatcher> = {
    async *watch(request, context) {
      consumers++;
      try {
        yield* serveVersionedStream({
          store,
          request: { epoch: request.epoch, version: Number(request.version) },
          encoder,
          signal: context.signal,
          progressIntervalMs: options.progressIntervalMs ?? 1000,
          versionsGlobal: true,
        });
      } finally {
        consumers--;
      }
    },
    async status() {
      return status();
    },
  };

  // Stale but serving: still ready (consumers keep working), and /readyz says why it is degraded.
  const readiness = (): { ready: boolean; reasons: string[] } => upstreams.readiness();

  function status(): StatusResponse {
    const u = upstream();
    const r = readiness();
    return create(StatusResponseSchema, {
      service: 'config-watcher',
      instanceId: options.instanceId,
      startedAtMs: BigInt(startedAtMs),
      ready: r.ready,
      reasons: r.reasons,
      version: BigInt(store.version),
      epoch: store.epoch,
      breakers: breakers.map((b) => breakerStatusMessage(b.status())),
      streams: upstreams.streams(),
      watchLatencyP50Ms: u.watchLatencyP50Ms,
      watchLatencyP99Ms: u.watchLatencyP99Ms,
      gauges: {
        consumers,
        entries: store.entries.size,
        staleness_ms: Number(u.stalenessMs),
        etcd_healthy: u.healthy ? 1 : 0,
      },
    });
  }

  return {
    store,
    reflector,
    latency: probe,
    breakers,
    get consumers() {
      return consumers;
    },
    service,
    upstream,
    status,
    readiness,
    ready: () => readyPromise,
    async close() {
      await probe.close();
      await reflector.close();
      for (const b of breakers) b.shutdown();
    },
  };
}
