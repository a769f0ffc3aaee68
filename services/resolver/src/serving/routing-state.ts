import type { Domain, Node, NodeWeight, TierCapacity } from '@cdn-sched/proto';
import {
  createConfigConsumer,
  createWeightsConsumer,
  type ConfigEntry,
  type ConsumerState,
  type StreamConsumer,
  type WeightEntry,
} from '@cdn-sched/stream';
import type { Transport } from '@cdn-sched/transport';
import { buildRoutingTable, type RoutingTable, type RoutingTableOptions } from '../decision/index.js';

/** Options of {@link createRoutingState}. */
export interface RoutingStateOptions {
  consumerId: string;
  /** config-watcher address. */
  configTarget: string;
  /** weight-calculator replicas; the first reachable one is used, in order. */
  weightTargets: readonly string[];
  /** Past this age without confirmation an upstream view is stale, milliseconds. Defaults to 10 s. */
  maxStalenessMs?: number;
  table?: RoutingTableOptions;
  onRebuild?(table: RoutingTable, ms: number): void;
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
  /** True while decisions rest on stale or missing upstream state. */
  degraded(): boolean;
  /** Why degraded, for /readyz and Status. */
  reasons(): string[];
  /** Resolves when the first table exists (config received). */
  ready(signal?: AbortSignal): Promise<void>;
  rebuilds: number;
  close(): Promise<void>;
}

const staleReason = (name: string, s: ConsumerState): string =>
  `${name} ${s.connected ? 'stale' : 'unreachable'}${Number.isFinite(s.stalenessMs) ? ` for ${Math.round(s.stalenessMs / 1000)} s` : ''}${s.lastError ? ` (${s.lastError})` : ''}; answering from last-known-good state`;

/**
 * Keeps the routing table in step with the config and weight streams. Updates are coalesced: a
 * burst of deltas leads to one rebuild on the next turn of the event loop, not one per delta,
 * so a 10 k-node snapshot followed by its first weights costs two rebuilds.
 */
export function createRoutingState(options: RoutingStateOptions): RoutingState {
  let table: RoutingTable | undefined;
  let scheduled = false;
  let rebuilds = 0;
  let weightIndex = 0;
  let readyResolve!: () => void;
  const readyPromise = new Promise<void>((r) => (readyResolve = r));

  const rebuild = (): void => {
    scheduled = false;
    if (config.state.version === 0) return;
    const t0 = performance.now();
    const nodes: Node[] = [];
    const domains: Domain[] = [];
    for (const e of config.entries.values()) {
      if (e.kind === 'node') nodes.push(e.node);
      else if (e.kind === 'domain') domains.push(e.domain);
    }
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
      });
      rebuilds++;
      options.onRebuild?.(table, performance.now() - t0);
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

  const config = createConfigConsumer({
    target: options.configTarget,
    consumerId: options.consumerId,
    maxStalenessMs: options.maxStalenessMs,
    onApplied: schedule,
    transport: options.transport,
  });
  const makeWeights = (target: string): StreamConsumer<WeightEntry> =>
    createWeightsConsumer({ target, transport: options.transport, consumerId: options.consumerId, maxStalenessMs: options.maxStalenessMs, onApplied: schedule });
  let weights = makeWeights(options.weightTargets[0]!);
  // Fail over between weight-calculator replicas: every replica computes the same weights.
  const failover = setInterval(() => {
    if (options.weightTargets.length < 2 || weights.state.connected) return;
    if (weights.state.version !== 0 && weights.state.stalenessMs < (options.maxStalenessMs ?? 10_000) / 2) return;
    const old = weights;
    weightIndex = (weightIndex + 1) % options.weightTargets.length;
    weights = makeWeights(options.weightTargets[weightIndex]!);
    void old.close();
  }, 1000);
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
    degraded() {
      return config.state.stale || weights.state.stale;
    },
    reasons() {
      const out: string[] = [];
      if (config.state.stale) out.push(staleReason(`config-watcher ${options.configTarget}`, config.state));
      if (weights.state.stale) out.push(staleReason(`weight-calculator ${options.weightTargets[weightIndex]}`, weights.state));
      return out;
    },
    ready(signal) {
      if (!signal) return readyPromise;
      return Promise.race([readyPromise, new Promise<void>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }))]);
    },
    get rebuilds() {
      return rebuilds;
    },
    async close() {
      clearInterval(failover);
      await config.close();
      await weights.close();
    },
  };
}
