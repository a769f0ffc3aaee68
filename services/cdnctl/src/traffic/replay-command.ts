import { readFile } from 'node:fs/promises';
import { text } from 'node:stream/consumers';
import { CliError, endpoints, intFlag, type ParsedArgs } from '../cli.js';
import { createProgressLine } from './progress-line.js';
import { parseQueryLog, type QueryLogError } from './query-log.js';
import { createResolverConnection } from './resolver-connection.js';
import { allFailedError } from './run-outcome.js';
import { durationFlag, processIo, scheduleFrom, sendFlags, type TrafficCommandIo } from './traffic-flags.js';
import { formatTrafficSummary } from './traffic-report.js';
import { runTraffic } from './traffic-run.js';

/** Bad lines listed before "and N more". */
const BAD_LINES_SHOWN = 10;

function badLinesReport(source: string, errors: readonly QueryLogError[]): string {
  const shown = errors.slice(0, BAD_LINES_SHOWN).map((e) => `${source}:${e.line}: ${e.reason}: ${e.text}`);
  if (errors.length > BAD_LINES_SHOWN) shown.push(`... and ${errors.length - BAD_LINES_SHOWN} more bad lines`);
  return `${shown.join('\n')}\n`;
}

/**
 * `cdnctl replay <file|-> [--rps R] [--concurrency C] [--batch B] [--unary] [--duration D] [--json]`:
 * plays a query log against the resolver once (or looping for `--duration`), paced open-loop.
 */
export async function replay(args: ParsedArgs, io: TrafficCommandIo = processIo()): Promise<void> {
  const file = args.positionals[0];
  if (!file) throw new CliError('usage: cdnctl replay <file|-> [--rps R] [--concurrency C] [--batch B] [--unary] [--duration D] [--json]', 2);
  const send = sendFlags(args);
  const concurrency = intFlag(args, 'concurrency', 4, 1);
  const durationMs = durationFlag(args, 'duration');
  if (durationMs === 0) throw new CliError('--duration must be more than 0', 2);
  let content: string;
  try {
    content = file === '-' ? await text(process.stdin) : await readFile(file, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, 2);
  }
  const log = parseQueryLog(content);
  if (log.errors.length > 0) io.stderr.write(badLinesReport(file, log.errors));
  if (log.queries.length === 0) throw new CliError(`${file}: no queries to replay (expected lines 'client_ip domain')`, 2);
  const schedule = scheduleFrom({ rps: send.rps, batchSize: send.batchSize, durationMs, totalQueries: durationMs === undefined ? log.queries.length : undefined });

  const e = endpoints(args);
  const target = e.resolver;
  const connection = createResolverConnection(target, e.transport);
  try {
    await connection.waitReady(io.connectTimeoutMs ?? 5000);
    const progress = createProgressLine(io.stderr, 'replay', send.rps);
    const { summary } = await runTraffic({
      connection,
      queries: log.queries,
      schedule,
      mode: send.mode,
      concurrency,
      signal: io.signal,
      progressIntervalMs: io.progressIntervalMs,
      onProgress: (sample, elapsedMs) => progress.update(sample, elapsedMs, io.progressIntervalMs ?? 1000),
    });
    progress.done();
    const context = { command: 'replay', file, target, mode: send.mode, concurrency, batch: send.batchSize, badLines: log.errors.length };
    if (args.flags.get('json')) io.stdout.write(`${JSON.stringify({ ...context, ...summary })}\n`);
    else {
      const how = send.mode === 'stream' ? `${concurrency} streams, batches of ${send.batchSize}` : `${concurrency} concurrent callers`;
      io.stdout.write(`${formatTrafficSummary(`replay ${file} -> ${target} (${send.mode}, ${how})`, summary, send.mode)}\n`);
    }
    const failed = allFailedError(summary, target);
    if (failed) throw failed;
  } finally {
    connection.close();
  }
}
