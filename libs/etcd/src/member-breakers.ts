import { BrokenCircuitError, circuitBreaker, CircuitState, ConsecutiveBreaker, handleWhen, type CircuitBreakerPolicy, type IDefaultPolicyContext, type IPolicy } from 'cockatiel';
import { isRecoverableError } from 'etcd3';

/**
 * What a live member answers while the cluster elects a leader: `etcdserver: no leader`, `request
 * timed out` (a proposal lost with the old leader, etcd's `ErrTimeoutDueToLeaderFail`), `leader
 * changed`. etcd3's default per-member breaker counted these: during the 1-2 s election after a
 * leader died, every surviving member collected three and was skipped for 5 s, so every call failed
 * with "every member failed recently" for ~5 s after the new leader was already serving.
 */
export function isLeaderlessAnswer(error: Error): boolean {
  return /etcdserver: (no leader|request timed out|leader changed)/.test(error.message);
}

/** Options of {@link createMemberBreakers}. */
export interface MemberBreakerOptions {
  /** Consecutive failures that open a member's breaker. Defaults to 3 (etcd3's default). */
  consecutiveFailures?: number;
  /** How long an open member is skipped before one trial call, milliseconds. Defaults to 5,000 (etcd3's). */
  halfOpenAfterMs?: number;
}

/**
 * The per-member fault handling of the etcd3 pool (its `faultHandling.host` factory): etcd3's
 * default breaker per member (3 consecutive recoverable failures skip the member for 5 s; a
 * member that is frozen — SIGSTOP, a hung disk — then stops eating every call's deadline), minus
 * leaderless answers ({@link isLeaderlessAnswer}), and one rule etcd3 lacks: **the pool never skips
 * every member at once**. When no member's breaker is closed, a call goes through anyway (a
 * half-open member still gets its own trial call first). Without that rule, a leader kill under
 * steady writes — calls to the survivors hanging to their deadline while the cluster elects, each a
 * recoverable failure — opened all three breakers, and every call failed with "every member failed
 * recently" for up to 5 s after the new leader served (the failover bench: kill → first put
 * committed 5.2 s instead of ~1.2 s). Load balancers call this panic mode (Envoy's
 * `healthy_panic_threshold`): when every backend looks unhealthy, the health signal is what is wrong.
 */
export function createMemberBreakers(options: MemberBreakerOptions = {}): () => IPolicy {
  const breakers: CircuitBreakerPolicy[] = [];
  const handled = handleWhen((error) => isRecoverableError(error) && !isLeaderlessAnswer(error));
  return () => {
    const breaker = circuitBreaker(handled, {
      halfOpenAfter: options.halfOpenAfterMs ?? 5000,
      breaker: new ConsecutiveBreaker(options.consecutiveFailures ?? 3),
    });
    breakers.push(breaker);
    const policy: IPolicy = {
      _altReturn: undefined as never,
      onSuccess: breaker.onSuccess,
      onFailure: breaker.onFailure,
      async execute<T>(fn: (context: IDefaultPolicyContext) => PromiseLike<T> | T, signal?: AbortSignal): Promise<T> {
        if (breakers.some((b) => b.state === CircuitState.Closed)) return breaker.execute(fn, signal);
        let ran = false;
        try {
          return await breaker.execute((context) => {
            ran = true;
            return fn(context);
          }, signal);
        } catch (error) {
          if (ran || !(error instanceof BrokenCircuitError)) throw error;
          return fn({ signal: signal ?? new AbortController().signal });
        }
      },
    };
    return policy;
  };
}
