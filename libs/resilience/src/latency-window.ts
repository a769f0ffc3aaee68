/** Options of {@link createLatencyWindow}. */
export interface LatencyWindowOptions {
  /** Samples older than this are forgotten, milliseconds. Defaults to 60 seconds. */
  windowMs?: number;
  /** At most this many samples are kept (oldest dropped first). Defaults to 4096. */
  maxSamples?: number;
}

/** Percentiles over a sliding time window of latency samples. */
export interface LatencyWindow {
  /** Records one sample (milliseconds) taken at `nowMs`. Non-finite or negative samples are ignored. */
  record(latencyMs: number, nowMs: number): void;
  /** The q-quantile (0..1) of the samples younger than the window at `nowMs`; NaN when empty. */
  quantile(q: number, nowMs: number): number;
  /** Number of samples inside the window at `nowMs`. */
  count(nowMs: number): number;
  /** Time of the newest sample, or -Infinity. */
  readonly lastSampleAtMs: number;
}

/**
 * A ring buffer of (time, latency) pairs in typed arrays. Quantiles sort a copy of the live part:
 * at 1 sample/s over 60 s that is 60 numbers, cheap enough to compute on every progress message.
 */
export function createLatencyWindow(options: LatencyWindowOptions = {}): LatencyWindow {
  const windowMs = options.windowMs ?? 60_000;
  const capacity = options.maxSamples ?? 4096;
  const times = new Float64Array(capacity);
  const values = new Float64Array(capacity);
  let head = 0;
  let size = 0;
  let lastSampleAtMs = -Infinity;

  const live = (nowMs: number): Float64Array => {
    const out = new Float64Array(size);
    let n = 0;
    for (let i = 0; i < size; i++) {
      const idx = (head - size + i + capacity) % capacity;
      if (nowMs - times[idx]! <= windowMs) out[n++] = values[idx]!;
    }
    return out.subarray(0, n);
  };

  return {
    record(latencyMs, nowMs) {
      if (!Number.isFinite(latencyMs) || latencyMs < 0) return;
      times[head] = nowMs;
      values[head] = latencyMs;
      head = (head + 1) % capacity;
      size = Math.min(size + 1, capacity);
      lastSampleAtMs = nowMs;
    },
    quantile(q, nowMs) {
      const samples = live(nowMs).sort();
      if (samples.length === 0) return Number.NaN;
      // Nearest-rank definition: the smallest sample with at least q of the samples at or below it.
      const rank = Math.min(samples.length - 1, Math.max(0, Math.ceil(q * samples.length) - 1));
      return samples[rank]!;
    },
    count(nowMs) {
      return live(nowMs).length;
    },
    get lastSampleAtMs() {
      return lastSampleAtMs;
    },
  };
}
