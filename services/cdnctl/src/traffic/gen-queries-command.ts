import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { CliError, intFlag, type ParsedArgs } from '../cli.js';
import { formatQueryLine } from './query-log.js';
import { generatorFlags, loadQueryGenerator } from './query-source.js';

/** Lines formatted per write: large enough to amortise the write, small enough to stream. */
const CHUNK_LINES = 10_000;

/** `cdnctl gen-queries [--count N] [--seed S] [--domains a,b] [--overseas-share F] [--out file|-]`. */
export async function genQueries(args: ParsedArgs): Promise<void> {
  const count = intFlag(args, 'count', 10_000, 0);
  const flags = generatorFlags(args);
  const outFlag = args.flags.get('out');
  if (outFlag === true) throw new CliError('--out: expected a file name, or - for standard output', 2);
  const toFile = outFlag !== undefined && outFlag !== '-';
  const generator = await loadQueryGenerator(flags);
  const out: Writable = toFile ? createWriteStream(outFlag) : process.stdout;
  // A reader that goes away (`| head`) is not an error of ours: stop quietly.
  let failure: NodeJS.ErrnoException | undefined;
  out.on('error', (error: NodeJS.ErrnoException) => (failure ??= error));
  for (let done = 0; done < count && !failure; done += CHUNK_LINES) {
    const lines = generator.take(Math.min(CHUNK_LINES, count - done)).map(formatQueryLine);
    // Wait for the buffer to drain when it is full: a 1 M-line log is ~30 MB. `once` also
    // rejects on 'error', which the listener above has recorded.
    if (!out.write(`${lines.join('\n')}\n`)) await once(out, 'drain').catch(() => undefined);
  }
  if (toFile) {
    out.end();
    await once(out, 'finish').catch(() => undefined);
  }
  if (failure && failure.code !== 'EPIPE') throw new CliError(`cannot write ${toFile ? outFlag : 'standard output'}: ${failure.message}`);
  if (toFile) {
    const shares = [...generator.shares].map(([name, share]) => `${name} ${(share * 100).toFixed(1)}%`).join(', ');
    process.stderr.write(`wrote ${count.toLocaleString('en-US')} queries to ${outFlag} (seed ${flags.seed}; ${shares})\n`);
  }
}
