import { create } from '@bufbuild/protobuf';
import {
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
import type { StreamEncoder } from './serve-stream.js';
import { createStreamConsumer, withChannel, type StreamConsumer, type StreamConsumerOptions, type StreamMessage } from './stream-consumer.js';

/**
 * Entries of the weight stream: `weight/<nodeId>` per node, and one `capacities` entry holding the
 * whole per-(pool, tier, location) capacity table (it changes as a whole with every tick).
 */
export type WeightEntry = { kind: 'weight'; weight: NodeWeight } | { kind: 'capacities'; capacities: readonly TierCapacity[] };

export const weightEntryKey = (nodeId: string): string => `weight/${nodeId}`;
export const CAPACITIES_KEY = 'capacities';

/** Builds WeightCalculatorService.WatchWeights messages from a weight store. */
export function createWeightsEncoder(epoch: string, upstream: () => UpstreamHealth): StreamEncoder<WeightEntry, WatchWeightsResponse> {
  return {
    snapshot(version, entries, reason) {
      const weights: NodeWeight[] = [];
      let capacities: readonly TierCapacity[] = [];
      for (const e of entries.values()) {
        if (e.kind === 'weight') weights.push(e.weight);
        else capacities = e.capacities;
      }
      return create(WatchWeightsResponseSchema, {
        epoch,
        kind: { case: 'snapshot', value: create(WeightSnapshotSchema, { version: BigInt(version), weights, capacities: [...capacities], reason }) },
      });
    },
    delta(fromVersion, version, changes) {
      const d = create(WeightDeltaSchema, { fromVersion: BigInt(fromVersion), version: BigInt(version) });
      for (const { key, value } of changes) {
        if (value === undefined) {
          if (key.startsWith('weight/')) d.removedNodeIds.push(key.slice('weight/'.length));
        } else if (value.kind === 'weight') d.upserted.push(value.weight);
        else d.capacities = [...value.capacities];
      }
      return create(WatchWeightsResponseSchema, { epoch, kind: { case: 'delta', value: d } });
    },
    progress(version) {
      return create(WatchWeightsResponseSchema, {
        epoch,
        kind: { case: 'progress', value: { version: BigInt(version), upstream: upstream(), serverTimeMs: BigInt(Date.now()) } },
      });
    },
  };
}

/** Decodes a WatchWeights message for {@link createStreamConsumer}. */
export function decodeWeightsMessage(message: WatchWeightsResponse): StreamMessage<WeightEntry> {
  const k = message.kind;
  switch (k.case) {
    case 'snapshot': {
      const entries: [string, WeightEntry][] = k.value.weights.map((weight) => [weightEntryKey(weight.nodeId), { kind: 'weight', weight }]);
      entries.push([CAPACITIES_KEY, { kind: 'capacities', capacities: k.value.capacities }]);
      return { kind: 'snapshot', epoch: message.epoch, version: Number(k.value.version), entries, reason: k.value.reason };
    }
    case 'delta': {
      const d = k.value;
      const changes: { key: string; value: WeightEntry | undefined }[] = [
        ...d.upserted.map((weight) => ({ key: weightEntryKey(weight.nodeId), value: { kind: 'weight', weight } as WeightEntry })),
        ...d.removedNodeIds.map((id) => ({ key: weightEntryKey(id), value: undefined })),
      ];
      if (d.capacities.length > 0) changes.push({ key: CAPACITIES_KEY, value: { kind: 'capacities', capacities: d.capacities } });
      return { kind: 'delta', epoch: message.epoch, fromVersion: Number(d.fromVersion), version: Number(d.version), changes };
    }
    case 'progress':
      return {
        kind: 'progress',
        epoch: message.epoch,
        version: Number(k.value.version),
        watchLatencyP99Ms: k.value.upstream?.watchLatencyP99Ms,
        upstreamHealthy: k.value.upstream?.healthy,
        upstreamStalenessMs: k.value.upstream ? Number(k.value.upstream.stalenessMs) : undefined,
      };
    default:
      throw new Error('weight stream: message without a kind');
  }
}

/** Options of {@link createWeightsConsumer}. */
export type WeightsConsumerOptions = Omit<StreamConsumerOptions<WatchWeightsResponse, WeightEntry>, 'open' | 'decode' | 'name' | 'versionsGlobal'> & {
  /** weight-calculator address, `host:port`. */
  target: string;
  consumerId: string;
  channel?: Channel;
  /** Credentials and limits of the channel the consumer makes. Defaults to plaintext with default limits. */
  transport?: Transport;
};

/**
 * The weight stream client (the resolver's): versions are per weight-calculator epoch, so a failover
 * to another replica arrives as a snapshot of its epoch.
 */
export function createWeightsConsumer(options: WeightsConsumerOptions): StreamConsumer<WeightEntry> & { readonly target: string } {
  const channel = options.channel ?? (options.transport ?? plaintextTransport()).channel(options.target);
  const client = createClient(serviceDefinitions.weightCalculator, channel);
  const consumer = createStreamConsumer<WatchWeightsResponse, WeightEntry>({
    ...options,
    name: 'weight-calculator',
    versionsGlobal: false,
    open: (request, signal) => client.watchWeights({ consumerId: options.consumerId, epoch: request.epoch, version: BigInt(request.version) }, { signal }),
    decode: decodeWeightsMessage,
  });
  return withChannel(consumer, options.target, options.channel ? undefined : channel);
}
