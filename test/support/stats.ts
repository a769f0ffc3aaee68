/** Summary of a sample of durations, milliseconds. */
export interface Summary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/**
 * Nearest-rank percentile (the smallest value with at least p % of the sample at or below it), so
 * "p99 over 50 trials" is the 50th value — the worst — rather than an interpolation that would
 * hide it. NaN for an empty sample.
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1]!;
}

/** Count, p50/p90/p99, max and mean of `values`. */
export function summarize(values: readonly number[]): Summary {
  const mean = values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
  return {
    count: values.length,
    p50: percentile(values, 50),
    p90: percentile(values, 90),
    p99: percentile(values, 99),
    max: values.length === 0 ? Number.NaN : Math.max(...values),
    mean,
  };
}

/** "p50 1.2 / p99 3.4 / max 5.6 ms over 50": one figure line for a test's console output. */
export function formatSummary(s: Summary, unit = 'ms'): string {
  const f = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '-');
  return `p50 ${f(s.p50)} / p99 ${f(s.p99)} / max ${f(s.max)} ${unit} over ${s.count}`;
}
