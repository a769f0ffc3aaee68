import type { ProgressSample } from './traffic-stats.js';

/** Where progress goes: stderr, or a test's buffer. */
export interface ProgressOutput {
  write(text: string): unknown;
  /** True for a terminal: the line is rewritten in place instead of appended. */
  readonly isTTY?: boolean;
}

/** A once-a-second progress line of a traffic run. */
export interface ProgressLine {
  /** Shows the figures of the last interval (`intervalMs` long) at `elapsedMs` into the run. */
  update(sample: ProgressSample, elapsedMs: number, intervalMs: number): void;
  /** Ends the line (a newline after an in-place line), so the report starts on its own. */
  done(): void;
}

const n = (v: number): string => Math.round(v).toLocaleString('en-US');

/**
 * The text of one progress line: `[12s] offered 1,000 q/s, achieved 998 q/s, 4 in flight,
 * errors 3, degraded 0, p99 1.25 ms`.
 *
 * @param offeredRps - the run's rate; 0 for an unpaced run (then only achieved is shown).
 */
export function formatProgress(label: string, sample: ProgressSample, elapsedMs: number, intervalMs: number, offeredRps: number): string {
  const perS = 1000 / Math.max(intervalMs, 1);
  const offered = offeredRps > 0 ? `offered ${n(offeredRps)} q/s, ` : '';
  return (
    `${label} [${Math.round(elapsedMs / 1000)}s] ${offered}achieved ${n(sample.decisions * perS)} q/s, ` +
    `${n(sample.inFlight)} in flight, errors ${n(sample.failed)}, degraded ${n(sample.degraded)}, p99 ${sample.p99Ms.toFixed(2)} ms`
  );
}

/**
 * Creates the progress line: rewritten in place (`\r`, erase to end of line) on a terminal, one
 * plain line per update otherwise (a log file or CI output then stays readable).
 */
export function createProgressLine(output: ProgressOutput, label: string, offeredRps: number): ProgressLine {
  let open = false;
  return {
    update(sample, elapsedMs, intervalMs) {
      const text = formatProgress(label, sample, elapsedMs, intervalMs, offeredRps);
      if (output.isTTY) {
        output.write(`\r${text}\x1b[K`);
        open = true;
      } else output.write(`${text}\n`);
    },
    done() {
      if (open) output.write('\n');
      open = false;
    },
  };
}
