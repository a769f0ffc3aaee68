import { BrokenCircuitError, EventEmitter, type IDefaultPolicyContext, type IFailureEvent, type IPolicy, type ISuccessEvent } from 'cockatiel';
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
  /** How often a member whose breaker is open is probed, milliseconds. Defaults to 250. */
  probeIntervalMs?: number;
  /**
   * Is the member serving again: alive, and following a leader? Asked (one probe at a time) while
   * its breaker is open; the breaker closes on the first `true`. etcd-client asks the member's
   * Maintenance.Status, which a member answers without a leader (its `leader` field says whether it
   * has one); a frozen member (SIGSTOP, a hung disk) answers nothing, a dead one refuses.
   */
  probe(member: string): Promise<boolean>;
}

/** The pool's per-member fault handling, and the probes it runs. */
export interface MemberBreakers {
  /** etcd3's `faultHandling.host` factory: one breaker per member (etcd3 passes the member's URL). */
  host(member: string): IPolicy;
  /** Stops every probe (the client is closing). */
  close(): void;
}

/**
 * Per-member fault handling of the etcd3 pool, replacing etcd3's default breaker (3 consecutive
 * recoverable failures skip the member for 5 s, then one real call tries it again).
 *
 * Counted: recoverable failures of the member itself (refused, reset, a call that hung to its
 * deadline: a frozen member must stop eating every call's deadline), not leaderless answers
 * ({@link isLeaderlessAnswer}). An open member gets no calls; instead it is probed every
 * `probeIntervalMs` and closes as soon as the probe says it serves. Why not a timed half-open:
 * puts that a follower forwarded to a leader that then died hang to their deadline, so under steady
 * writes a leader's death can open every survivor's breaker; etcd3 then refused every call with
 * "every member failed recently" until one half-opened, up to 5 s after the new leader was elected
 * (the failover bench saw it in 4 of 20 idle trials: kill -> first commit 4.1 s). A shorter timed
 * half-open sends a real call to a frozen member every period, which hangs to its deadline (tried:
 * the leader-SIGSTOP test lost writes). A probe costs no call; the survivors close the moment a new
 * leader exists, and a frozen member stays open until it answers again.
 */
export function createMemberBreakers(options: MemberBreakerOptions): MemberBreakers {
  const breakers = new Set<MemberBreaker>();
  return {
    host(member) {
      const breaker = new MemberBreaker(member, options);
      breakers.add(breaker);
      return breaker;
    },
    close() {
      for (const b of breakers) b.close();
      breakers.clear();
    },
  };
}

class MemberBreaker implements IPolicy {
  declare readonly _altReturn: never;
  private readonly successes = new EventEmitter<ISuccessEvent>();
  private readonly failures = new EventEmitter<IFailureEvent>();
  readonly onSuccess = this.successes.addListener;
  readonly onFailure = this.failures.addListener;
  private consecutive = 0;
  private open = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly member: string,
    private readonly options: MemberBreakerOptions,
  ) {}

  async execute<T>(fn: (context: IDefaultPolicyContext) => PromiseLike<T> | T, signal: AbortSignal = new AbortController().signal): Promise<T> {
    if (this.open) throw new BrokenCircuitError(`etcd member ${this.member} failed ${this.options.consecutiveFailures ?? 3} times in a row and has not answered a probe since`);
    const started = performance.now();
    try {
      const result = await fn({ signal });
      this.consecutive = 0;
      this.successes.emit({ duration: performance.now() - started });
      return result;
    } catch (error) {
      const handled = error instanceof Error && isRecoverableError(error) && !isLeaderlessAnswer(error);
      this.failures.emit({ duration: performance.now() - started, handled, reason: { error: error as Error } });
      if (handled && ++this.consecutive >= (this.options.consecutiveFailures ?? 3)) this.trip();
      throw error;
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private trip(): void {
    if (this.open || this.closed) return;
    this.open = true;
    const next = (): void => {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.options.probe(this.member).then(
          (serving) => {
            if (this.closed) return;
            if (!serving) return next();
            this.open = false;
            this.consecutive = 0;
          },
          () => {
            if (!this.closed) next();
          },
        );
      }, this.options.probeIntervalMs ?? 250);
      this.timer.unref();
    };
    next();
  }
}
