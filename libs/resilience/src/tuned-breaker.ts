import CircuitBreaker from 'opossum';
import { deriveBreakerTimings, type BreakerTimings, type BreakerTuning } from './breaker-tuning.js';
import { classifyFailure } from './failure-kind.js';

/** Options of {@link createTunedBreaker}. */
export interface TunedBreakerOptions extends BreakerTuning {
  /** Name in status and metrics ("etcd.range"). */
  name: string;
  /** Current p99 etcd watch latency, milliseconds (NaN when unknown). Read on every call. */
  latencyP99Ms: () => number;
  /**
   * True while the upstream shows signs of life (e.g. watch events or progress seen within the
   * last few seconds). A call that times out while the upstream is alive is slow, not failed.
   * Defaults to "never alive", i.e. every timeout counts.
   */
  upstreamAlive?: () => boolean;
  /** Failures (percent of calls in the rolling window) that open the breaker. Defaults to 50. */
  errorThresholdPercentage?: number;
  /** Calls in the rolling window before the breaker may open. Defaults to 3. */
  volumeThreshold?: number;
  /** Rolling statistics window, milliseconds. Defaults to 10 seconds. */
  rollingCountTimeoutMs?: number;
}

function timeoutError(timeoutMs: number): Error {
  return Object.assign(new Error(`Timed out after ${timeoutMs}ms`), { code: 'ETIMEDOUT' });
}

/**
 * Runs `action` with a signal that aborts at `timeoutMs`, and rejects with an ETIMEDOUT error at that
 * moment whatever the action does with the abort, so nothing is left running past the deadline.
 */
function withDeadline(action: (signal: AbortSignal) => Promise<unknown>, timeoutMs: number): Promise<unknown> {
  const controller = new AbortController();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(timeoutError(timeoutMs));
      controller.abort(timeoutError(timeoutMs));
    }, timeoutMs);
    action(controller.signal).then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** Counters and state of one breaker, as reported in Status and metrics. */
export interface TunedBreakerStatus {
  name: string;
  state: 'closed' | 'open' | 'half_open';
  timeoutMs: number;
  resetTimeoutMs: number;
  failures: number;
  successes: number;
  slowButAlive: number;
  opens: number;
}

/** An opossum breaker whose timings follow the measured watch latency. */
export interface TunedBreaker {
  /** Runs `action` through the breaker with an AbortSignal that fires at the current timeout. */
  fire<T>(action: (signal: AbortSignal) => Promise<T>): Promise<T>;
  status(): TunedBreakerStatus;
  /** Current timings (recomputed from the latency on every call). */
  timings(): BreakerTimings;
  on(event: 'open' | 'close' | 'halfOpen', listener: () => void): void;
  shutdown(): void;
}

/**
 * Wraps opossum so that (1) timeout and reset timeout are re-derived from the measured p99 watch
 * latency before every call (opossum reads `options.timeout` per call and `resetTimeout` when it
 * opens), and (2) only connection failures, and timeouts while the upstream shows no sign of life,
 * count towards opening — opossum's `errorFilter` turns the rest into successes. This is what keeps
 * a slow-but-alive etcd (150 ms injected latency) from tripping the breaker (docs/architecture.md, "Resilience").
 */
export function createTunedBreaker(options: TunedBreakerOptions): TunedBreaker {
  const counters = { failures: 0, successes: 0, slowButAlive: 0, opens: 0 };
  const alive = options.upstreamAlive ?? (() => false);
  const timings = (): BreakerTimings => deriveBreakerTimings(options.latencyP99Ms(), options);
  const breaker = new CircuitBreaker(withDeadline, {
      name: options.name,
      // The deadline is ours (withDeadline), so that the error and the abort of the underlying
      // call happen together; opossum's own timer would race with it.
      timeout: false,
      resetTimeout: timings().resetTimeoutMs,
      errorThresholdPercentage: options.errorThresholdPercentage ?? 50,
      volumeThreshold: options.volumeThreshold ?? 3,
      rollingCountTimeout: options.rollingCountTimeoutMs ?? 10_000,
      errorFilter: (error: unknown) => {
        const kind = classifyFailure(error);
        if (kind === 'application') return true;
        if (kind === 'slow' && alive()) {
          counters.slowButAlive++;
          return true;
        }
        return false;
      },
  });
  const mutable = breaker as unknown as { options: { resetTimeout: number } };
  breaker.on('failure', () => counters.failures++);
  breaker.on('success', () => counters.successes++);
  breaker.on('open', () => counters.opens++);

  return {
    async fire<T>(action: (signal: AbortSignal) => Promise<T>): Promise<T> {
      const t = timings();
      mutable.options.resetTimeout = t.resetTimeoutMs;
      return (await breaker.fire(action, t.timeoutMs)) as T;
    },
    status() {
      const t = timings();
      return {
        name: options.name,
        state: breaker.opened ? 'open' : breaker.halfOpen ? 'half_open' : 'closed',
        timeoutMs: t.timeoutMs,
        resetTimeoutMs: t.resetTimeoutMs,
        ...counters,
      };
    },
    timings,
    on(event, listener) {
      (breaker as unknown as { on(e: string, l: () => void): void }).on(event, listener);
    },
    shutdown() {
      breaker.shutdown();
    },
  };
}
