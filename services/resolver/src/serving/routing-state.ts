import type { NodeWeight, TierCapacity } from '@cdn-sched/proto';
import {
  CAPACITIES_KEY,
  configView,
  createConfigConsumer,
  createWeightsConsumer,
  type ConfigEntry,
  type StreamConsumer,
  type WeightEntry,
} from '@cdn-sched/stream';
import { createUpstreams, type Upstreams } from '@cdn-sched/service-kit';
import type { Transport } from '@cdn-sched/transport';
import { createVersionTracing, type VersionTracing } from './version-tracing.js';
import {
  buildRoutingTable,
  weightUpdateSteps,
  createLookupRefresher,
  type RoutingTable,
  type RoutingTableOptions,
} from '../decision/index.js';

/** Options of {@link createRoutingState}. */
export interface RoutingStateOptions {
  consumerId: string;
  /** config-watcher address. */
  configTarget: string;
  /**
   * weight-calculator replicas. The first is used; when its stream breaks and a reconnect fails, the
   * next replica's stream is opened and takes over once its snapshot is applied.
   */
  weightTargets: readonly string[];
  /** Past this age without confirmation an upstream view is stale, milliseconds. Defaults to 10 s. */
  maxStalenessMs?: number;
  table?: RoutingTableOptions;
  /**
   * Longest stretch the background build of consistent lookup tables holds the event loop,
   * milliseconds. Defaults to 1.
   */
  lookupSliceMs?: number;
  /**
   * Longest stretch a weight-only update of the table holds the event loop, milliseconds: a larger
   * update goes on in the next turns while decisions keep using the current table. Defaults to 1.
   */
  updateSliceMs?: number;
  /**
   * How long weights must stay unchanged before a lookup table built from older (not yet stale)
   * weights is rebuilt from them, so that replicas converge on the same answers, milliseconds.
   * Defaults to 5000 (LOOKUP_SETTLE_MS).
   */
  lookupSettleMs?: number;
  /**
   * Largest lookup table built for a group before a consistent pick asked for it, bytes; larger
   * ones are built on their first pick. Defaults to 1 MiB (LOOKUP_EAGER_MAX_BYTES).
   */
  lookupEagerMaxBytes?: number;
  /** After each table change; `incremental` when it was a weight-only update (weight-update.ts). */
  onRebuild?(table: RoutingTable, ms: number, incremental: boolean): void;
  onError?(error: unknown): void;
  /** Credentials and limits of its gRPC channels. Defaults to plaintext with default limits. */
  transport?: Transport;
}

/** The resolver's in-memory view: the current routing table, rebuilt when config or weights change. */
export interface RoutingState {
  /** The table decisions use; replaced as a whole (never mutated), so no reader sees half of one. */
  readonly table: RoutingTable | undefined;
  readonly config: StreamConsumer<ConfigEntry>;
  readonly weights: StreamConsumer<WeightEntry>;
  /** The config-watcher the config stream comes from. */
  readonly configTarget: string;
  /** Which weight-calculator replica the weight stream uses now. */
  readonly weightTarget: string;
  /** The config and weight streams as upstreams: readiness, reasons and `Status.streams` come from here. */
  readonly upstreams: Upstreams;
  /** True while decisions rest on stale or missing upstream state. */
  degraded(): boolean;
  /** Why degraded, for /readyz and Status. */
  reasons(): string[];
  /** Resolves when the first table exists (config received). */
  ready(signal?: AbortSignal): Promise<void>;
  rebuilds: number;
  /** How many of `rebuilds` were weight-only updates applied to the groups they touch. */
  incrementalUpdates: number;
  /** Consistent lookup tables waiting to be (re)built in the background. */
  readonly lookupsPending: number;
  /** Which spans produced the config and weight versions held (for `cdn.request` links). */
  readonly versionTracing: VersionTracing;
  close(): Promise<void>;
}

/**
 * Keeps the routing table in step with the config and weight streams. Updates are coalesced: a
 * burst of deltas leads to one rebuild on the next turn of the event loop, not one per delta,
 * so a 10 k-node snapshot followed by its first weights costs two rebuilds.
 *
 * Only a config change (membership, documents, policy), a weight snapshot or a removed weight
 * rebuilds the whole table; weight and capacity deltas — every step of a slow start — go through
 * `weightUpdateSteps`, which copies just the groups holding a changed node, run in slices of
 * `updateSliceMs` across turns of the event loop (the current table serves meanwhile; deltas that
 * arrive during an update start the next one when it lands). Consistent lookup
 * tables are (re)built in the background in slices of `lookupSliceMs`, for the groups consistent
 * picks use, and land when complete (consistent-lookups.ts).
 */
export function createRoutingState(options: RoutingStateOptions): RoutingState {
  let table: RoutingTable | undefined;
  let scheduled = false;
  let rebuilds = 0;
  let incrementalUpdates = 0;
  // What changed since the last table: anything but weight/capacity deltas needs a full rebuild.
  let fullRebuild = true;
  // Weights received since the last table, in arrival order (a node may appear more than once; the
  // update applies them in order, so its last one wins). An array, not a Map by node id: in a whole
  // fleet's slow start 10 k of them arrive a version, and a Map cleared and refilled that often
  // reallocated its hash table each time (~10 MB of the ramp's old-generation garbage in a sampling
  // heap profile of `npm run bench -- slow-start`; the array's pushes show ~2 MB).
  let changedWeights: NodeWeight[] = [];
  let capacitiesChanged = false;
  const refresher = createLookupRefresher({ settleMs: options.lookupSettleMs, eagerMaxBytes: options.lookupEagerMaxBytes });
  const sliceMs = options.lookupSliceMs ?? 1;
  let lookupsScheduled = false;
  let closed = false;
  let weightIndex = 0;
  let readyResolve!: () => void;
  const readyPromise = new Promise<void>((r) => (readyResolve = r));

  const runLookups = (): void => {
    lookupsScheduled = false;
    if (closed) return;
    if (!refresher.run(sliceMs)) scheduleLookups();
  };
  const scheduleLookups = (): void => {
    if (lookupsScheduled || closed) return;
    lookupsScheduled = true;
    setImmediate(runLookups);
  };
  // A few times a second: best-effort groups a pick flagged (pick.ts), and tables whose weights settled.
  const lookupScan = setInterval(() => {
    if (table === undefined) return;
    refresher.offer(table.consistentGroups);
    if (refresher.pending > 0) scheduleLookups();
  }, 200);
  lookupScan.unref();

  // A weight-only update in progress (weight-update.ts `weightUpdateSteps`), run a slice at a time.
  let job: { steps: Generator<undefined, RoutingTable | undefined, void>; startedAt: number } | undefined;
  const updateSliceMs = options.updateSliceMs ?? 1;

  /**
   * Starts a weight-only update from the changes received so far, or goes on with the one in
   * progress, for about `updateSliceMs`. Returns 'done' when the table was swapped (or nothing
   * needed doing), 'later' when the update goes on in a later turn, 'full' when only a full rebuild
   * gives the right table.
   */
  const update = (): 'done' | 'later' | 'full' => {
    if (table === undefined || fullRebuild) return 'full';
    if (job === undefined) {
      if (changedWeights.length === 0 && !capacitiesChanged) return 'done';
      let capacities: readonly TierCapacity[] | undefined;
      if (capacitiesChanged) {
        const e = weights.entries.get(CAPACITIES_KEY);
        capacities = e?.kind === 'capacities' ? e.capacities : [];
      }
      const changes = changedWeights;
      changedWeights = [];
      capacitiesChanged = false;
      job = { steps: weightUpdateSteps(table, { weights: changes, capacities, weightsVersion: BigInt(weights.state.version) }), startedAt: performance.now() };
    }
    const deadline = performance.now() + updateSliceMs;
    let r: IteratorResult<undefined, RoutingTable | undefined>;
    do r = job.steps.next();
    while (!r.done && performance.now() < deadline);
    if (!r.done) return 'later';
    const { startedAt } = job;
    job = undefined;
    // The update started from the table still in use: only it and full rebuilds swap the table, and
    // a full rebuild drops the update first.
    if (r.value === undefined) return 'full';
    table = r.value;
    versionTracing.tableBuilt(table, weights.state.epoch);
    rebuilds++;
    incrementalUpdates++;
    options.onRebuild?.(table, performance.now() - startedAt, true);
    return 'done';
  };

  const rebuild = (): void => {
    scheduled = false;
    if (config.state.version === 0) return;
    try {
      const step = update();
      if (step === 'later') return schedule();
      if (step === 'done') {
        refresher.offer(table!.consistentGroups);
        if (refresher.pending > 0) scheduleLookups();
        // Changes that came in while the update ran start the next one.
        if (changedWeights.length > 0 || capacitiesChanged) schedule();
        return;
      }
    } catch (error) {
      // The full rebuild below still gives a correct table; the error says what went wrong.
      options.onError?.(error);
    }
    // The full rebuild reads every weight, so an update in progress has nothing left to add.
    job = undefined;
    fullRebuild = true;
    const t0 = performance.now();
    const view = configView(config.entries);
    const nodes = [...view.nodes.values()];
    const domains = [...view.domains.values()];
    const weightList: NodeWeight[] = [];
    let capacities: readonly TierCapacity[] = [];
    for (const e of weights.entries.values()) {
      if (e.kind === 'weight') weightList.push(e.weight);
      else capacities = e.capacities;
    }
    try {
      table = buildRoutingTable({
        nodes,
        domains,
        weights: weightList,
        capacities,
        configVersion: BigInt(config.state.version),
        weightsVersion: BigInt(weights.state.version),
        options: options.table,
        lookups: 'later',
        previous: table,
      });
      versionTracing.tableBuilt(table, weights.state.epoch);
      fullRebuild = false;
      changedWeights = [];
      capacitiesChanged = false;
      rebuilds++;
      options.onRebuild?.(table, performance.now() - t0, false);
      refresher.offer(table.consistentGroups);
      if (refresher.pending > 0) scheduleLookups();
      readyResolve();
    } catch (error) {
      // Keep the last good table; the error says what is wrong.
      options.onError?.(error);
    }
  };
  const schedule = (): void => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(rebuild);
  };

  const versionTracing = createVersionTracing();
  const config = createConfigConsumer({
    target: options.configTarget,
    consumerId: options.consumerId,
    maxStalenessMs: options.maxStalenessMs,
    onApplied: (update) => {
      versionTracing.configApplied(update.version, update.traceparent, update.snapshot);
      fullRebuild = true;
      schedule();
    },
    transport: options.transport,
  });
  // What a weight delta changed, for the weight-only update; a snapshot or a removed weight (back to
  // cold start, which scales every cold weight) needs the full rebuild.
  const onWeights = (applied: { snapshot: boolean; changes: readonly { key: string; value: WeightEntry | undefined }[] }): void => {
    if (applied.snapshot) fullRebuild = true;
    for (const c of applied.changes) {
      if (c.key === CAPACITIES_KEY) capacitiesChanged = true;
      else if (c.value === undefined) fullRebuild = true;
      else if (c.value.kind === 'weight') changedWeights.push(c.value.weight);
    }
    // The full rebuild reads every weight: nothing to keep for it (and nothing piles up while the
    // first config is awaited).
    if (fullRebuild) changedWeights = [];
    schedule();
  };
  // Fail over between weight-calculator replicas (every replica computes the same weights from the
  // same probe results), make-before-break: as soon as the stream in use breaks, a standby stream is
  // opened to the next replica while decisions keep using the last table; the standby takes over when
  // its snapshot is applied, and the broken one is closed. No moment without weights, no waiting for
  // the old view to age: the switch takes a failed connect plus one snapshot.
  const weightsFrom = (index: number): StreamConsumer<WeightEntry> => {
    const consumer: StreamConsumer<WeightEntry> = createWeightsConsumer({
      target: options.weightTargets[index]!,
      transport: options.transport,
      consumerId: options.consumerId,
      // The tables read weight and health only; the terms would be a third of what is decoded and kept.
      lean: true,
      maxStalenessMs: options.maxStalenessMs,
      onApplied: (update) => {
        versionTracing.weightsApplied(update.epoch, update.version, update.traceparent, update.snapshot);
        if (consumer === weights) onWeights(update);
        else if (consumer === standby?.consumer && update.snapshot) promote();
      },
      onStateChange: () => {
        if (consumer === weights) checkFailover();
      },
    });
    return consumer;
  };
  let standby: { consumer: StreamConsumer<WeightEntry>; index: number; sinceMs: number } | undefined;
  const promote = (): void => {
    const old = weights;
    weights = standby!.consumer;
    weightIndex = standby!.index;
    standby = undefined;
    // Another replica's view: rebuild from its snapshot rather than patching the old replica's table.
    fullRebuild = true;
    schedule();
    void old.close();
  };
  const openStandby = (index: number): void => {
    standby = { consumer: weightsFrom(index), index, sinceMs: performance.now() };
  };
  const checkFailover = (): void => {
    const n = options.weightTargets.length;
    if (n < 2 || closed) return;
    if (weights.state.connected) {
      // The replica in use is back (e.g. restarted on the same address) before the standby answered.
      if (standby) void standby.consumer.close();
      standby = undefined;
      return;
    }
    // Only after an attempt failed: at start-up the first replica gets its chance.
    if (weights.state.lastError === undefined) return;
    if (!standby) return openStandby((weightIndex + 1) % n);
    // With three or more replicas, a standby that cannot connect either moves on to the next one.
    if (n > 2 && !standby.consumer.state.connected && standby.consumer.state.lastError !== undefined && performance.now() - standby.sinceMs > standbyPatienceMs) {
      const next = (standby.index + 1) % n === weightIndex ? (standby.index + 2) % n : (standby.index + 1) % n;
      void standby.consumer.close();
      openStandby(next);
    }
  };
  const standbyPatienceMs = 1000;
  let weights = weightsFrom(0);
  const meanwhile = 'answering from last-known-good state';
  const upstreams = createUpstreams();
  upstreams.add({ name: 'config-watcher', target: () => options.configTarget, state: () => config.state, meanwhile, requiredForReady: 'configuration' });
  // The weight stream in use now: after a failover, the replica that took over.
  upstreams.add({ name: 'weight-calculator', target: () => options.weightTargets[weightIndex]!, state: () => weights.state, meanwhile });
  // Also re-checked on a timer: a standby that keeps failing raises no state change of the stream in use.
  const failover = setInterval(checkFailover, 250);
  failover.unref();

  return {
    get table() {
      return table;
    },
    config,
    configTarget: options.configTarget,
    get weights() {
      return weights;
    },
    get weightTarget() {
      return options.weightTargets[weightIndex]!;
    },
    upstreams,
    degraded: () => upstreams.degraded(),
    reasons: () => upstreams.reasons(),
    ready(signal) {
      if (!signal) return readyPromise;
      return Promise.race([readyPromise, new Promise<void>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }))]);
    },
    get rebuilds() {
      return rebuilds;
    },
    get incrementalUpdates() {
      return incrementalUpdates;
    },
    get lookupsPending() {
      return refresher.pending;
    },
    versionTracing,
    async close() {
      closed = true;
      clearInterval(failover);
      clearInterval(lookupScan);
      await config.close();
      await weights.close();
      await standby?.consumer.close();
    },
  };
}
