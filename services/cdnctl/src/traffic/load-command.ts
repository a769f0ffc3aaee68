import { CliError, endpoints, type ParsedArgs } from '../cli.js';
import { createProgressLine } from './progress-line.js';
import { generatorFlags, loadQueryGenerator } from './query-source.js';
import { createResolverConnection } from './resolver-connection.js';
import { allFailedError } from './run-outcome.js';
import { durationFlag, listFlag, processIo, scheduleFrom, sendFlags, type TrafficCommandIo } from './traffic-flags.js';
import { formatTrafficSummary } from './traffic-report.js';
import { runTraffic } from './traffic-run.js';
import { createTrafficStats, type TrafficSummary } from './traffic-stats.js';

/** Queries generated up front and cycled through: enough variety, bounded memory (~10 MB). */
const MAX_POOL_QUERIES = 100_000;
const MIN_POOL_QUERIES = 1_000;

/** Parses `--step-concurrency 1,4,16`. */
function stepsFlag(args: ParsedArgs): number[] {
  const items = listFlag(args, 'step-concurrency') ?? ['1', '4', '16'];
  return items.map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1) throw new CliError(`--step-concurrency: expected integers >= 1 separated by commas, got '${s}'`, 2);
    return n;
  });
}

/**
 * `cdnctl load --rps R --duration D [--step-concurrency 1,4,16] [--unary] [--batch B] [--seed S] [--domains a,b] [--overseas-share F] [--json]`:
 * synthetic queries from the generator at a fixed offered rate, in steps of rising concurrency.
 */
export async function load(args: ParsedArgs, io: TrafficCommandIo = processIo()): Promise<void> {
  const usage = 'usage: cdnctl load --rps R --duration D [--step-concurrency 1,4,16] [--unary] [--batch B] [--seed S] [--domains a,b] [--overseas-share F] [--json]';
  if (args.flags.get('rps') === undefined) throw new CliError(`--rps is required (0 = as fast as possible); ${usage}`, 2);
  const durationMs = durationFlag(args, 'duration');
  if (durationMs === undefined || durationMs <= 0) throw new CliError(`--duration is required and must be > 0; ${usage}`, 2);
  const send = sendFlags(args);
  const steps = stepsFlag(args);
  const stepMs = durationMs / steps.length;
  const flags = generatorFlags(args);
  const generator = await loadQueryGenerator(flags);
  const wanted = send.rps > 0 ? Math.ceil((send.rps * stepMs) / 1000) : MAX_POOL_QUERIES;
  const queries = generator.take(Math.max(MIN_POOL_QUERIES, Math.min(MAX_POOL_QUERIES, wanted)));

  const e = endpoints(args);
  const target = e.resolver;
  const connection = createResolverConnection(target, e.transport);
  const json = args.flags.get('json') === true;
  const total = createTrafficStats();
  const results: (TrafficSummary & { concurrency: number })[] = [];
  let totalMs = 0;
  let offeredTotal = 0;
  let firstQueryId = 1;
  try {
    await connection.waitReady(io.connectTimeoutMs ?? 5000);
    for (const [i, concurrency] of steps.entries()) {
      if (io.signal?.aborted) break;
      const schedule = scheduleFrom({ rps: send.rps, batchSize: send.batchSize, durationMs: stepMs });
      const label = `load step ${i + 1}/${steps.length} (concurrency ${concurrency})`;
      const progress = createProgressLine(io.stderr, label, send.rps);
      const run = await runTraffic({
        connection,
        queries,
        schedule,
        mode: send.mode,
        concurrency,
        signal: io.signal,
        firstQueryId,
        progressIntervalMs: io.progressIntervalMs,
        onProgress: (sample, elapsedMs) => progress.update(sample, elapsedMs, io.progressIntervalMs ?? 1000),
      });
      progress.done();
      firstQueryId += run.stats.queriesSent;
      run.stats.addTo(total);
      totalMs += run.elapsedMs;
      offeredTotal += run.summary.offered.queries;
      results.push({ concurrency, ...run.summary });
      if (!json) io.stdout.write(`${formatTrafficSummary(label, run.summary, send.mode)}\n\n`);
    }
    const summary = total.summary(totalMs, { rps: send.rps, queries: offeredTotal });
    if (json) {
      const context = { command: 'load', target, mode: send.mode, batch: send.batchSize, stepDurationS: stepMs / 1000, seed: flags.seed };
      io.stdout.write(`${JSON.stringify({ ...context, steps: results, total: summary })}\n`);
    } else io.stdout.write(`${formatTrafficSummary(`load total (${results.length} steps) -> ${target} (${send.mode})`, summary, send.mode)}\n`);
    const failed = allFailedError(summary, target);
    if (failed) throw failed;
  } finally {
    connection.close();
  }
}
