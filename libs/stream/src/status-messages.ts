import { create } from '@bufbuild/protobuf';
import { BreakerStatusSchema, StreamStatusSchema, type BreakerStatus, type StreamStatus } from '@cdn-sched/proto';
import type { TunedBreakerStatus } from '@cdn-sched/resilience';
import type { ConsumerState } from './stream-consumer.js';

/** A breaker's state as the operator Status RPC reports it. */
export function breakerStatusMessage(b: TunedBreakerStatus): BreakerStatus {
  return create(BreakerStatusSchema, {
    name: b.name,
    state: b.state,
    timeoutMs: b.timeoutMs,
    resetTimeoutMs: b.resetTimeoutMs,
    failures: BigInt(b.failures),
    successes: BigInt(b.successes),
    opens: BigInt(b.opens),
  });
}

/** A consumed stream's state as the operator Status RPC reports it. */
export function streamStatusMessage(name: string, target: string, s: ConsumerState): StreamStatus {
  return create(StreamStatusSchema, {
    name,
    target,
    connected: s.connected,
    version: BigInt(s.version),
    epoch: s.epoch,
    stalenessMs: BigInt(Number.isFinite(s.stalenessMs) ? Math.round(s.stalenessMs) : 0),
    stale: s.stale,
  });
}
