import { loadGeoIpDatabase, resolveDatabasePath } from '@cdn-sched/geoip';
import { CliError, type ParsedArgs } from '../cli.js';
import { createQueryGenerator, DEFAULT_DOMAINS, type QueryGenerator } from './query-generator.js';
import { domainProblem } from './query-log.js';
import { listFlag, numberFlag } from './traffic-flags.js';

/** Generator settings shared by `gen-queries` and `load`. */
export interface GeneratorFlags {
  readonly seed: string;
  readonly domains: readonly string[];
  readonly overseasShare: number;
}

/** Reads `--seed` (default 1), `--domains` (default the demo domains) and `--overseas-share` (default 0.1). */
export function generatorFlags(args: ParsedArgs): GeneratorFlags {
  const seed = args.flags.get('seed');
  if (seed === true) throw new CliError('--seed: expected a value', 2);
  const domains = listFlag(args, 'domains') ?? DEFAULT_DOMAINS;
  for (const d of domains) {
    const problem = domainProblem(d);
    if (problem !== undefined) throw new CliError(`--domains: ${problem}`, 2);
  }
  return {
    seed: seed ?? '1',
    domains,
    overseasShare: numberFlag(args, 'overseas-share', 0.1, 0, 1),
  };
}

/**
 * Loads the geoip database (`$GEOIP_DB`, else the one shipped with `@cdn-sched/geoip`) and builds
 * a generator from the flags.
 */
export async function loadQueryGenerator(flags: GeneratorFlags): Promise<QueryGenerator> {
  const path = resolveDatabasePath();
  let database;
  try {
    database = await loadGeoIpDatabase(path);
  } catch (error) {
    throw new CliError(`cannot load the geoip database: ${(error as Error).message} (set $GEOIP_DB to an ip2region or .mmdb file)`);
  }
  try {
    return createQueryGenerator({ database, seed: flags.seed, domains: flags.domains, overseasShare: flags.overseasShare });
  } catch (error) {
    throw new CliError(`${path}: ${(error as Error).message}`, 2);
  }
}
