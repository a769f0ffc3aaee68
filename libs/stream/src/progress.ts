import { create } from '@bufbuild/protobuf';
import { ProgressSchema, type Progress, type UpstreamHealth } from '@cdn-sched/proto';
import type { StreamMessage } from './stream-consumer.js';

/**
 * The progress message both versioned streams send (config and weights share the `Progress` type):
 * the current version, the server's upstream health, and its clock.
 */
export function encodeProgress(version: number, upstream: UpstreamHealth): Progress {
  return create(ProgressSchema, { version: BigInt(version), upstream, serverTimeMs: BigInt(Date.now()) });
}

/** A received `Progress` as the stream consumer takes it, for either stream. */
export function decodeProgress(epoch: string, progress: Progress): StreamMessage<never> {
  const upstream = progress.upstream;
  return {
    kind: 'progress',
    epoch,
    version: Number(progress.version),
    watchLatencyP99Ms: upstream?.watchLatencyP99Ms,
    upstreamHealthy: upstream?.healthy,
    upstreamStalenessMs: upstream ? Number(upstream.stalenessMs) : undefined,
  };
}
