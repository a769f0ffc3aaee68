import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Status } from 'nice-grpc';

/** Parsed command line: positionals and `--flag value` / `--flag=value` / boolean `--flag`. */
export interface ParsedArgs {
  positionals: string[];
  flags: Map<string, string | true>;
}

/** Flags that never take a value. */
const BOOLEAN_FLAGS = new Set(['json', 'help', 'watch', 'keep', 'no-demo', 'unary', 'stream']);

export function parseArgs(argv: readonly string[]): ParsedArgs {
  const positionals: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h') flags.set('help', true);
    else if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = a.slice(2, eq === -1 ? undefined : eq);
      if (eq !== -1) flags.set(name, a.slice(eq + 1));
      else if (BOOLEAN_FLAGS.has(name) || argv[i + 1] === undefined || argv[i + 1]!.startsWith('--')) flags.set(name, true);
      else flags.set(name, argv[++i]!);
    } else positionals.push(a);
  }
  return { positionals, flags };
}

/** A failure the CLI reports as one line and a non-zero exit (2 = usage, 1 = the request failed). */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

/** The endpoints every command may need, from flags, then env, then the local mesh's defaults. */
export interface Endpoints {
  etcd: string[];
  prefix: string;
  configWatcher: string;
  weightCalculator: string;
  resolver: string;
  probers: string[];
  /** The dns-gateway's metrics server (its /readyz), `http://host:port`. */
  dnsGatewayMetrics: string;
}

export function endpoints(args: ParsedArgs, env: NodeJS.ProcessEnv = process.env): Endpoints {
  const running = readMeshState();
  const s = (flag: string, envName: string, def: string): string => {
    const v = args.flags.get(flag);
    if (typeof v === 'string') return v;
    return env[envName] || def;
  };
  return {
    // A running local mesh (npm start) publishes its throwaway etcd's address.
    etcd: s('etcd-endpoints', 'ETCD_ENDPOINTS', running?.etcd ?? 'http://127.0.0.1:2379').split(',').map((x) => x.trim()).filter(Boolean),
    prefix: s('prefix', 'CDN_PREFIX', '/cdn/'),
    configWatcher: s('config-watcher', 'CONFIG_WATCHER', '127.0.0.1:50051'),
    weightCalculator: s('weight-calculator', 'WEIGHT_CALCULATOR', '127.0.0.1:50053'),
    resolver: s('resolver', 'RESOLVER', '127.0.0.1:50054'),
    probers: s('probers', 'PROBERS', '127.0.0.1:50052,127.0.0.1:50062').split(',').map((x) => x.trim()).filter(Boolean),
    dnsGatewayMetrics: s('dns-gateway-metrics', 'DNS_GATEWAY_METRICS', 'http://127.0.0.1:9465'),
  };
}

/** Where `npm start` records its etcd, so `cdnctl` in another terminal finds it. */
export const MESH_STATE_FILE = join(tmpdir(), 'cdn-sched-mesh.json');

/** The running mesh's state, if its process is alive. */
export function readMeshState(): { etcd: string; pid: number } | undefined {
  try {
    const state = JSON.parse(readFileSync(MESH_STATE_FILE, 'utf8')) as { etcd?: unknown; pid?: unknown };
    if (typeof state.etcd !== 'string' || typeof state.pid !== 'number') return undefined;
    process.kill(state.pid, 0);
    return { etcd: state.etcd, pid: state.pid };
  } catch {
    return undefined;
  }
}

/** Prints a result: one JSON object per line with --json, else the human form. */
export function print(args: ParsedArgs, value: unknown, human: () => string): void {
  if (args.flags.get('json')) process.stdout.write(`${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v))}\n`);
  else process.stdout.write(`${human()}\n`);
}

/** Turns a gRPC error into a CLI error naming the status ("NOT_FOUND: unknown domain ..."). */
export function grpcFailure(error: unknown, target: string): CliError {
  const e = error as { code?: number; details?: string; message?: string };
  if (typeof e.code === 'number') {
    const name = Status[e.code] ?? String(e.code);
    const hint = e.code === Status.UNAVAILABLE ? ` (is the service running at ${target}? start the mesh with \`npm start\`)` : '';
    return new CliError(`${name}: ${e.details ?? e.message ?? ''}${hint}`);
  }
  return new CliError(String(e.message ?? error));
}

export function intFlag(args: ParsedArgs, name: string, def: number, min = 0): number {
  const v = args.flags.get(name);
  if (v === undefined) return def;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isInteger(n) || n < min) throw new CliError(`--${name}: expected an integer >= ${min}, got ${String(v)}`, 2);
  return n;
}
