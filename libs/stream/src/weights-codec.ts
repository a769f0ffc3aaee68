import { create } from '@bufbuild/protobuf';
import {
  NodeWeightSchema,
  serviceDefinitions,
  WatchWeightsResponseSchema,
  WeightDeltaSchema,
  WeightSnapshotSchema,
  type NodeWeight,
  type TierCapacity,
  type UpstreamHealth,
  type WatchWeightsResponse,
} from '@cdn-sched/proto';
import { plaintextTransport, type Transport } from '@cdn-sched/transport';
import { createClient, type Channel } from 'nice-grpc';
import { chunkBySize, DEFAULT_CHUNK_BYTES, estimateBytes } from './chunking.js';
import { decodeProgress, encodeProgress } from './progress.js';
import type { StreamEncoder } from './serve-stream.js';
import { decodeWatchWeightsResponse } from './weights-wire.js';
import { createStreamConsumer, withChannel, type StreamConsumer, type StreamConsumerOptions, type StreamMessage } from './stream-consumer.js';

/**
 * Entries of the weight stream: `weight/<nodeId>` per node, and one `capacities` entry holding the
 * whole per-(pool, tier, location) capacity table (it changes as a whole with every tick).
 */
export type WeightEntry = { kind: 'weight'; weight: NodeWeight } | { kind: 'capacities'; capacities: readonly TierCapacity[] };

export const weightEntryKey = (nodeId: string): string => `weight/${nodeId}`;

/** The node id of a `weight/<nodeId>` key; undefined for any other key. */
export function weightEntryNodeId(key: string): string | undefined {
  return key.startsWith('weight/') ? key.slice('weight/'.length) : undefined;
}
export const CAPACITIES_KEY = 'capacities';

const weightBytes = (w: NodeWeight): number => estimateBytes(110, w.nodeId);

// One lean copy per published weight, shared by every lean stream (published weights never change).
const leanCopies = new WeakMap<NodeWeight, NodeWeight>();

/** `w` without its terms, as a lean stream (WatchRequest.lean) sends it. */
export function leanWeight(w: NodeWeight): NodeWeight {
  if (w.terms === undefined) return w;
  let lean = leanCopies.get(w);
  if (lean === undefined) {
    lean = create(NodeWeightSchema, { nodeId: w.nodeId, weight: w.weight, health: w.health, updatedAtMs: w.updatedAtMs });
    leanCopies.set(w, lean);
  }
  return lean;
}

/**
 * Builds WeightCalculatorService.WatchWeights messages from a weight store; snapshots and deltas
 * over `chunkBytes` (estimated; defaults to {@link DEFAULT_CHUNK_BYTES}) are sent in chunks marked
 * `more`, with the capacity table whole in the last one (it is bounded by pools × locations).
 * `lean`: weights without their terms, for streams whose client asked for that (WatchRequest.lean).
 */
export function createWeightsEncoder(
  epoch: string,
  upstream: () => UpstreamHealth,
  chunkBytes = DEFAULT_CHUNK_BYTES,
  traceOf: (version: number) => string = () => '',
  lean = false,
): StreamEncoder<WeightEntry, WatchWeightsResponse> {
  const send = lean ? leanWeight : (w: NodeWeight): NodeWeight => w;
  return {
    snapshot(version, entries, reason) {
      const weights: NodeWeight[] = [];
      let capacities: readonly TierCapacity[] = [];
      for (const e of entries.values()) {
        if (e.kind === 'weight') weights.push(send(e.weight));
        else capacities = e.capacities;
      }
      const chunks = chunkBySize(weights, weightBytes, chunkBytes);
      return chunks.map((chunk, i) => {
        const more = i < chunks.length - 1;
        return create(WatchWeightsResponseSchema, {
          epoch,
          kind: { case: 'snapshot', value: create(WeightSnapshotSchema, { version: BigInt(version), weights: chunk, capacities: more ? [] : [...capacities], reason, more }) },
          // The version's trace context rides on the chunk that completes it.
          traceparent: more ? '' : traceOf(version),
        });
      });
    },
    delta(fromVersion, version, changes) {
      let capacities: readonly TierCapacity[] | undefined;
      const items: { key: string; weight?: NodeWeight }[] = [];
      for (const { key, value } of changes) {
        if (value === undefined) {
          if (weightEntryNodeId(key) !== undefined) items.push({ key });
        } else if (value.kind === 'weight') items.push({ key, weight: send(value.weight) });
        else capacities = value.capacities;
      }
      const chunks = chunkBySize(items, (x) => (x.weight ? weightBytes(x.weight) : estimateBytes(0, x.key)), chunkBytes);
      return chunks.map((chunk, i) => {
        const more = i < chunks.length - 1;
        const d = create(WeightDeltaSchema, { fromVersion: BigInt(fromVersion), version: BigInt(version), more });
        for (const x of chunk) {
          if (x.weight) d.upserted.push(x.weight);
          else d.removedNodeIds.push(weightEntryNodeId(x.key)!);
        }
        if (!more && capacities) d.capacities = [...capacities];
        return create(WatchWeightsResponseSchema, { epoch, kind: { case: 'delta', value: d }, traceparent: more ? '' : traceOf(version) });
      });
    },
    progress(version) {
      return create(WatchWeightsResponseSchema, { epoch, kind: { case: 'progress', value: encodeProgress(version, upstream()) } });
    },
  };
}

/** Decodes a WatchWeights message for {@link createStreamConsumer}. */
export function decodeWeightsMessage(message: WatchWeightsResponse): StreamMessage<WeightEntry> {
  const k = message.kind;
  switch (k.case) {
    case 'snapshot': {
      const entries: [string, WeightEntry][] = k.value.weights.map((weight) => [weightEntryKey(weight.nodeId), { kind: 'weight', weight }]);
      // The capacity table comes whole with the last chunk.
      if (!k.value.more) entries.push([CAPACITIES_KEY, { kind: 'capacities', capacities: k.value.capacities }]);
      return { kind: 'snapshot', epoch: message.epoch, version: Number(k.value.version), entries, reason: k.value.reason, more: k.value.more, traceparent: message.traceparent };
    }
    case 'delta': {
      const d = k.value;
      const changes: { key: string; value: WeightEntry | undefined }[] = [
        ...d.upserted.map((weight) => ({ key: weightEntryKey(weight.nodeId), value: { kind: 'weight', weight } as WeightEntry })),
        ...d.removedNodeIds.map((id) => ({ key: weightEntryKey(id), value: undefined })),
      ];
      if (d.capacities.length > 0) changes.push({ key: CAPACITIES_KEY, value: { kind: 'capacities', capacities: d.capacities } });
      return { kind: 'delta', epoch: message.epoch, fromVersion: Number(d.fromVersion), version: Number(d.version), changes, more: d.more, traceparent: message.traceparent };
    }
    case 'progress':
      return decodeProgress(message.epoch, k.value);
    default:
      throw new Error('weight stream: message without a kind');
  }
}

/** The weight-calculator's definition as a weight stream client uses it: WatchWeights decoded by weights-wire.ts. */
const weightsClientDefinition = {
  ...serviceDefinitions.weightCalculator,
  watchWeights: { ...serviceDefinitions.weightCalculator.watchWeights, responseDeserialize: decodeWatchWeightsResponse },
};

/** Options of {@link createWeightsConsumer}. */
export type WeightsConsumerOptions = Omit<StreamConsumerOptions<WatchWeightsResponse, WeightEntry>, 'open' | 'decode' | 'name' | 'versionsGlobal'> & {
  /** weight-calculator address, `host:port`. */
  target: string;
  consumerId: string;
  channel?: Channel;
  /** Credentials and limits of the channel the consumer makes. Defaults to plaintext with default limits. */
  transport?: Transport;
  /** Ask for weights without their terms (WatchRequest.lean): for a consumer that reads weight and health only. */
  lean?: boolean;
};

/**
 * The weight stream client (the resolver's): versions are per weight-calculator epoch, so a failover
 * to another replica arrives as a snapshot of its epoch.
 */
export function createWeightsConsumer(options: WeightsConsumerOptions): StreamConsumer<WeightEntry> & { readonly target: string } {
  const channel = options.channel ?? (options.transport ?? plaintextTransport()).channel(options.target);
  const client = createClient(weightsClientDefinition, channel);
  const consumer = createStreamConsumer<WatchWeightsResponse, WeightEntry>({
    ...options,
    name: 'weight-calculator',
    versionsGlobal: false,
    open: (request, signal) =>
      client.watchWeights({ consumerId: options.consumerId, epoch: request.epoch, version: BigInt(request.version), lean: options.lean ?? false }, { signal }),
    decode: decodeWeightsMessage,
  });
  return withChannel(consumer, options.target, options.channel ? undefined : channel);
}
