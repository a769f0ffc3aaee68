import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * A parser that works in bounded steps: `step(budget)` handles up to `budget` records and
 * returns true once the input is consumed. Parsing 683 k ranges takes a few hundred milliseconds;
 * run in one go during a hot reload that would stall every request of the resolver, so the async
 * loaders yield to the event loop between steps.
 */
export type ParseStep = (budget: number) => boolean;

/** Options of the async (sliced) loaders. */
export interface SlicedParseOptions {
  /** Aborts the load between two slices (the old database stays in use). */
  readonly signal?: AbortSignal;
  /**
   * Records (lines, index entries) parsed per slice before yielding to the event loop.
   * Defaults to 20,000 (about 5–15 ms per slice on this machine).
   */
  readonly recordsPerSlice?: number;
}

/** Default of {@link SlicedParseOptions.recordsPerSlice}. */
export const DEFAULT_RECORDS_PER_SLICE = 20_000;

/** Runs `step` to completion synchronously. */
export function runToEnd(step: ParseStep): void {
  while (!step(Number.POSITIVE_INFINITY));
}

/** Runs `step` in slices, yielding to the event loop (`setImmediate`) between them. */
export async function runSliced(step: ParseStep, options: SlicedParseOptions = {}): Promise<void> {
  const budget = options.recordsPerSlice ?? DEFAULT_RECORDS_PER_SLICE;
  for (;;) {
    options.signal?.throwIfAborted();
    if (step(budget)) return;
    await nextTurn();
  }
}
