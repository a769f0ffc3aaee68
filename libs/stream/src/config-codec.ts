import { create } from '@bufbuild/protobuf';
import {
  shareEncoding,
  ConfigDeltaSchema,
  ConfigSnapshotSchema,
  serviceDefinitions,
  WatchResponseSchema,
  type Domain,
  type Node,
  type RejectedDocument,
  type UpstreamHealth,
  type WatchResponse,
} from '@cdn-sched/proto';
import { plaintextTransport, type Transport } from '@cdn-sched/transport';
import { createClient, type Channel } from 'nice-grpc';
import { domainEntryKey, nodeEntryKey, rejectedEntryKey, type ConfigEntry } from './config-entries.js';
import { decodeProgress, encodeProgress } from './progress.js';
import { chunkBySize, DEFAULT_CHUNK_BYTES, estimateBytes } from './chunking.js';
import type { StreamEncoder } from './serve-stream.js';
import { createStreamConsumer, withChannel, type StreamConsumer, type StreamConsumerOptions, type StreamMessage } from './stream-consumer.js';

/** Estimated wire size of one config entry (see chunking.ts). */
function entryBytes(e: ConfigEntry): number {
  if (e.kind === 'node') {
    const n = e.node;
    return estimateBytes(64, n.id, n.address, n.country, n.region, n.isp, n.pools, n.probe?.path ?? '');
  }
  if (e.kind === 'domain') return estimateBytes(48, e.domain.domain, e.domain.pool);
  return estimateBytes(16, e.rejected.key, e.rejected.reason);
}

/**
 * Builds ConfigWatcherService.Watch messages from the config-watcher's store. Snapshots and deltas
 * larger than `chunkBytes` (estimated; defaults to {@link DEFAULT_CHUNK_BYTES}) are split into
 * several messages marked `more`, which the consumer applies together when the last arrives: a
 * 250 k-node fleet (~25 MB) then streams within grpc's default 4 MiB message limit, where one
 * message would stop every consumer at about 75 k nodes.
 */
export function createConfigEncoder(
  epoch: string,
  upstream: () => UpstreamHealth,
  chunkBytes = DEFAULT_CHUNK_BYTES,
  traceOf: (version: number) => string = () => '',
): StreamEncoder<ConfigEntry, WatchResponse> {
  // Every new consumer of the same version gets the same snapshot objects, encoded once
  // (shareEncoding): fan-out of a 10 k-node snapshot costs one encoding, not one per client.
  let last: { version: number; reason: string; size: number; messages: WatchResponse[] } | undefined;
  return {
    snapshot(version, entries, reason) {
      if (last && last.version === version && last.reason === reason && last.size === entries.size) return last.messages;
      const chunks = chunkBySize(entries.values(), entryBytes, chunkBytes);
      const traceparent = traceOf(version);
      const messages = chunks.map((chunk, i) => shareEncoding(buildSnapshot(version, chunk, reason, i < chunks.length - 1, traceparent)));
      last = { version, reason, size: entries.size, messages };
      return messages;
    },
    delta(fromVersion, version, changes) {
      const chunks = chunkBySize(changes, (c) => (c.value === undefined ? estimateBytes(0, c.key) : entryBytes(c.value)), chunkBytes);
      const traceparent = traceOf(version);
      return chunks.map((chunk, i) => buildDelta(fromVersion, version, chunk, i < chunks.length - 1, traceparent));
    },
    progress(version) {
      return create(WatchResponseSchema, { epoch, kind: { case: 'progress', value: encodeProgress(version, upstream()) } });
    },
  };

  // The trace context of the version rides on the chunk that completes it (the one the client applies).
  function buildSnapshot(version: number, entries: readonly ConfigEntry[], reason: string, more: boolean, traceparent: string): WatchResponse {
    const nodes: Node[] = [];
    const domains: Domain[] = [];
    const rejected: RejectedDocument[] = [];
    for (const e of entries) {
      if (e.kind === 'node') nodes.push(e.node);
      else if (e.kind === 'domain') domains.push(e.domain);
      else rejected.push(e.rejected);
    }
    return create(WatchResponseSchema, {
      epoch,
      kind: { case: 'snapshot', value: create(ConfigSnapshotSchema, { version: BigInt(version), nodes, domains, rejected, reason, more }) },
      traceparent: more ? '' : traceparent,
    });
  }

  function buildDelta(fromVersion: number, version: number, changes: readonly { key: string; value: ConfigEntry | undefined }[], more: boolean, traceparent: string): WatchResponse {
    const d = create(ConfigDeltaSchema, { fromVersion: BigInt(fromVersion), version: BigInt(version), more });
    for (const { key, value } of changes) {
      const slash = key.indexOf('/');
      const kind = key.slice(0, slash);
      const id = key.slice(slash + 1);
      if (value === undefined) {
        if (kind === 'node') d.removedNodeIds.push(id);
        else if (kind === 'domain') d.removedDomains.push(id);
        else d.clearedRejections.push(id);
      } else if (value.kind === 'node') d.upsertedNodes.push(value.node);
      else if (value.kind === 'domain') d.upsertedDomains.push(value.domain);
      else d.rejected.push(value.rejected);
    }
    return create(WatchResponseSchema, { epoch, kind: { case: 'delta', value: d }, traceparent: more ? '' : traceparent });
  }
}

/** Decodes a ConfigWatcherService.Watch message for {@link createStreamConsumer}. */
export function decodeConfigMessage(message: WatchResponse): StreamMessage<ConfigEntry> {
  const k = message.kind;
  switch (k.case) {
    case 'snapshot': {
      const entries: [string, ConfigEntry][] = [];
      for (const node of k.value.nodes) entries.push([nodeEntryKey(node.id), { kind: 'node', node }]);
      for (const domain of k.value.domains) entries.push([domainEntryKey(domain.domain), { kind: 'domain', domain }]);
      for (const rejected of k.value.rejected) entries.push([rejectedEntryKey(rejected.key), { kind: 'rejected', rejected }]);
      return { kind: 'snapshot', epoch: message.epoch, version: Number(k.value.version), entries, reason: k.value.reason, more: k.value.more, traceparent: message.traceparent };
    }
    case 'delta': {
      const d = k.value;
      const changes = [
        ...d.upsertedNodes.map((node) => ({ key: nodeEntryKey(node.id), value: { kind: 'node', node } as ConfigEntry })),
        ...d.removedNodeIds.map((id) => ({ key: nodeEntryKey(id), value: undefined })),
        ...d.upsertedDomains.map((domain) => ({ key: domainEntryKey(domain.domain), value: { kind: 'domain', domain } as ConfigEntry })),
        ...d.removedDomains.map((fqdn) => ({ key: domainEntryKey(fqdn), value: undefined })),
        ...d.rejected.map((rejected) => ({ key: rejectedEntryKey(rejected.key), value: { kind: 'rejected', rejected } as ConfigEntry })),
        ...d.clearedRejections.map((key) => ({ key: rejectedEntryKey(key), value: undefined })),
      ];
      return { kind: 'delta', epoch: message.epoch, fromVersion: Number(d.fromVersion), version: Number(d.version), changes, more: d.more, traceparent: message.traceparent };
    }
    case 'progress':
      return decodeProgress(message.epoch, k.value);
    default:
      throw new Error('config stream: message without a kind');
  }
}

/** Options of {@link createConfigConsumer}. */
export type ConfigConsumerOptions = Omit<StreamConsumerOptions<WatchResponse, ConfigEntry>, 'open' | 'decode' | 'name' | 'versionsGlobal'> & {
  /** config-watcher address, `host:port`. */
  target: string;
  /** Who is asking, for the server's logs. */
  consumerId: string;
  /** Reuse a channel (one per peer); by default the consumer makes and closes its own. */
  channel?: Channel;
  /** Credentials and limits of the channel the consumer makes. Defaults to plaintext with default limits. */
  transport?: Transport;
};

/**
 * The config stream client every service uses: one channel to the config-watcher, versions are etcd
 * revisions (global across config-watcher replicas and restarts, so a reconnect never goes back).
 */
export function createConfigConsumer(options: ConfigConsumerOptions): StreamConsumer<ConfigEntry> & { readonly target: string } {
  const channel = options.channel ?? (options.transport ?? plaintextTransport()).channel(options.target);
  const client = createClient(serviceDefinitions.configWatcher, channel);
  const consumer = createStreamConsumer<WatchResponse, ConfigEntry>({
    ...options,
    name: 'config-watcher',
    versionsGlobal: true,
    open: (request, signal) => client.watch({ consumerId: options.consumerId, epoch: request.epoch, version: BigInt(request.version) }, { signal }),
    decode: decodeConfigMessage,
  });
  return withChannel(consumer, options.target, options.channel ? undefined : channel);
}
