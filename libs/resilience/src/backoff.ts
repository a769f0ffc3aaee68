/** Options of {@link createBackoff}. */
export interface BackoffOptions {
  /** First delay, milliseconds. Defaults to 100. */
  baseMs?: number;
  /** Largest delay, milliseconds. Defaults to 5000. */
  maxMs?: number;
  /** Growth per attempt. Defaults to 2. */
  factor?: number;
  /** Random source in [0,1); inject a seeded one in tests. Defaults to Math.random. */
  random?: () => number;
}

/** Jittered exponential backoff ("full jitter", AWS Architecture Blog, 2015). */
export interface Backoff {
  /** Delay before the next attempt, milliseconds. */
  next(): number;
  /** Call after a success. */
  reset(): void;
  readonly attempt: number;
}

/**
 * Full jitter spreads reconnects of many clients evenly in [0, cap) so a restarted server is not
 * hit by all of them in the same instant; a floor of baseMs/2 keeps a tight loop impossible.
 */
export function createBackoff(options: BackoffOptions = {}): Backoff {
  const base = options.baseMs ?? 100;
  const max = options.maxMs ?? 5000;
  const factor = options.factor ?? 2;
  const random = options.random ?? Math.random;
  let attempt = 0;
  return {
    next() {
      const cap = Math.min(max, base * factor ** attempt);
      attempt++;
      return Math.max(base / 2, Math.round(random() * cap));
    },
    reset() {
      attempt = 0;
    },
    get attempt() {
      return attempt;
    },
  };
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. The timer is released either way. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
