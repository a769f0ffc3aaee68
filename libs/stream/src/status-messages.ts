import { create } from '@bufbuild/protobuf';
import { BreakerStatusSchema, type BreakerStatus } from '@cdn-sched/proto';
import type { TunedBreakerStatus } from '@cdn-sched/resilience';

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

