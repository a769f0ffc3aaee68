import { CliError, intFlag, type ParsedArgs } from '../cli.js';
import { parseDuration } from './duration.js';
import type { ProgressOutput } from './progress-line.js';
import { createSchedule, type Schedule, type ScheduleOptions } from './pacing.js';
import type { TrafficMode } from './traffic-run.js';

/** Where a traffic command writes, and its tunables that have no flag (tests shorten them). */
export interface TrafficCommandIo {
  readonly stdout: { write(text: string): unknown };
  /** Progress lines and warnings. */
  readonly stderr: ProgressOutput;
  /** How long to wait for the first connection to the resolver, in ms. Defaults to 5 seconds. */
  readonly connectTimeoutMs?: number;
  /** Interval of the progress line, in ms. Defaults to 1 second. */
  readonly progressIntervalMs?: number;
  /** Stops the run early (Ctrl-C). Defaults to the process's SIGINT. */
  readonly signal?: AbortSignal;
}

/** The process's own streams, with Ctrl-C ending the run and still printing its report. */
export function processIo(): TrafficCommandIo {
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort());
  return { stdout: process.stdout, stderr: process.stderr, signal: ac.signal };
}

/** A number flag (fractions allowed), at least `min`. */
export function numberFlag(args: ParsedArgs, name: string, def: number, min = 0, max = Infinity): number {
  const v = args.flags.get(name);
  if (v === undefined) return def;
  const n = typeof v === 'string' ? Number(v) : NaN;
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new CliError(`--${name}: expected a number${max === Infinity ? ` >= ${min}` : ` from ${min} to ${max}`}, got ${String(v)}`, 2);
  }
  return n;
}

/** A duration flag (`30s`, `2m`, `500ms`, plain seconds) in ms; `undefined` when not given. */
export function durationFlag(args: ParsedArgs, name: string): number | undefined {
  const v = args.flags.get(name);
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new CliError(`--${name}: expected a duration such as 30s, 2m or 500ms`, 2);
  try {
    return parseDuration(v);
  } catch (error) {
    throw new CliError(`--${name}: ${(error as Error).message}`, 2);
  }
}

/** A comma-separated list flag, trimmed, without empty items. */
export function listFlag(args: ParsedArgs, name: string): string[] | undefined {
  const v = args.flags.get(name);
  if (v === undefined) return undefined;
  const items = typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : [];
  if (items.length === 0) throw new CliError(`--${name}: expected a comma-separated list`, 2);
  return items;
}

/** Mode, concurrency and batch size shared by `replay` and `load`. */
export interface SendFlags {
  readonly mode: TrafficMode;
  /** Queries per request: `--batch` for streams, 1 for unary. */
  readonly batchSize: number;
  /** Offered rate, queries per second; 0 = as fast as possible. */
  readonly rps: number;
}

/** Reads `--unary`, `--batch` (default 100) and `--rps` (default 0 = unpaced). */
export function sendFlags(args: ParsedArgs): SendFlags {
  const mode: TrafficMode = args.flags.get('unary') === true ? 'unary' : 'stream';
  const batch = intFlag(args, 'batch', 100, 1);
  return { mode, batchSize: mode === 'unary' ? 1 : batch, rps: numberFlag(args, 'rps', 0) };
}

/** A schedule from flags, with flag-named errors. */
export function scheduleFrom(options: ScheduleOptions): Schedule {
  try {
    return createSchedule(options);
  } catch (error) {
    throw new CliError((error as Error).message, 2);
  }
}
