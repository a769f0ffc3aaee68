import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isProcessAlive } from '@cdn-sched/local-processes';
import { ConfigError, etcdConnectionSettings, reasonOf, resolveEtcdConnection, statusReason, type EtcdConnection, type EtcdConnectionSettings } from '@cdn-sched/service-kit';
import { createTransport, type Transport } from '@cdn-sched/transport';
import { Status } from 'nice-grpc';
import { CliError, type ParsedArgs } from './args.js';

export { CliError, parseArgs, type ParsedArgs } from './args.js';

/** The endpoints every command may need, from flags, then env, then the local mesh's defaults. */
export interface Endpoints {
  etcd: string[];
  /** The etcd connection settings as given (files not read yet): see {@link etcdConnection}. */
  etcdSettings: EtcdConnectionSettings;
  prefix: string;
  configWatcher: string;
  weightCalculator: string;
  resolver: string;
  probers: string[];
  /**
   * Credentials for every gRPC call: mutual TLS from --tls-ca-file/--tls-cert-file/--tls-key-file
   * ($TLS_CA_FILE, $TLS_CERT_FILE, $TLS_KEY_FILE), else plaintext.
   */
  transport: Transport;
  /**
   * The dns-gateway's metrics server (its /readyz), `http://host:port`; empty = no gateway to check.
   * Defaults to the local mesh's gateway while `npm start` runs, else empty.
   */
  dnsGatewayMetrics: string;
}

export function endpoints(args: ParsedArgs, env: NodeJS.ProcessEnv = process.env): Endpoints {
  const running = readMeshState();
  const s = (flag: string, envName: string, def: string): string => {
    const v = args.flags.get(flag);
    if (typeof v === 'string') return v;
    return env[envName] || def;
  };
  // A running local mesh (npm start) publishes its throwaway etcd's address, its services'
  // addresses and, with --tls, its CA and a client certificate for cdnctl.
  const etcd = s('etcd-endpoints', 'ETCD_ENDPOINTS', running?.etcd ?? 'http://127.0.0.1:2379').split(',').map((x) => x.trim()).filter(Boolean);
  const setting = (k: Exclude<keyof EtcdConnectionSettings, 'etcdEndpoints'>): string => s(etcdConnectionSettings[k].flag, etcdConnectionSettings[k].env, '');
  const at = running?.services;
  const tlsGiven = ['tls-ca-file', 'tls-cert-file', 'tls-key-file'].some((f) => args.flags.has(f)) || ['TLS_CA_FILE', 'TLS_CERT_FILE', 'TLS_KEY_FILE'].some((n) => env[n]);
  const meshTls = tlsGiven ? undefined : running?.tls;
  return {
    etcd,
    etcdSettings: {
      etcdEndpoints: etcd,
      etcdCaFile: setting('etcdCaFile'),
      etcdCertFile: setting('etcdCertFile'),
      etcdKeyFile: setting('etcdKeyFile'),
      etcdUsername: setting('etcdUsername'),
      etcdPassword: setting('etcdPassword'),
      etcdPasswordFile: setting('etcdPasswordFile'),
    },
    prefix: s('prefix', 'CDN_PREFIX', '/cdn/'),
    configWatcher: s('config-watcher', 'CONFIG_WATCHER', at?.configWatcher ?? '127.0.0.1:50051'),
    weightCalculator: s('weight-calculator', 'WEIGHT_CALCULATOR', at?.weightCalculator ?? '127.0.0.1:50053'),
    resolver: s('resolver', 'RESOLVER', at?.resolver ?? '127.0.0.1:50054'),
    probers: s('probers', 'PROBERS', at?.probers.join(',') ?? '127.0.0.1:50052,127.0.0.1:50062').split(',').map((x) => x.trim()).filter(Boolean),
    transport: meshTls
      ? cliTransport(meshTls.caFile, meshTls.certFile, meshTls.keyFile, s('tls-server-name', 'TLS_SERVER_NAME', meshTls.serverName))
      : cliTransport(s('tls-ca-file', 'TLS_CA_FILE', ''), s('tls-cert-file', 'TLS_CERT_FILE', ''), s('tls-key-file', 'TLS_KEY_FILE', ''), s('tls-server-name', 'TLS_SERVER_NAME', '')),
    dnsGatewayMetrics: s('dns-gateway-metrics', 'DNS_GATEWAY_METRICS', at?.dnsGatewayMetrics ?? (running ? 'http://127.0.0.1:9465' : '')),
  };
}

/**
 * The checked etcd connection (the same settings and checks as every service): a bad combination
 * is a usage error (exit 2) naming the setting.
 */
export function etcdConnection(e: Endpoints): EtcdConnection {
  try {
    return resolveEtcdConnection(e.etcdSettings);
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(error.message, 2);
    throw error;
  }
}

function cliTransport(caFile: string, certFile: string, keyFile: string, serverName: string): Transport {
  const files = [caFile, certFile, keyFile];
  if (files.some(Boolean) && !files.every(Boolean)) throw new CliError('mutual TLS needs all of --tls-ca-file, --tls-cert-file and --tls-key-file ($TLS_CA_FILE, $TLS_CERT_FILE, $TLS_KEY_FILE)', 2);
  try {
    // A one-shot command does not outlive a rotation: reloading is off (a long interval, unref'd).
    return createTransport({ tls: caFile ? { caFile, certFile, keyFile, reloadIntervalMs: 3_600_000 } : undefined, serverNameOverride: serverName || undefined });
  } catch (error) {
    throw new CliError((error as Error).message, 2);
  }
}

/** Where `npm start` records its etcd, services and certificates, so `cdnctl` in another terminal finds them. */
export const MESH_STATE_FILE = join(tmpdir(), 'cdn-sched-mesh.json');

/** What a running local mesh records in {@link MESH_STATE_FILE}. */
export interface MeshState {
  etcd: string;
  /** The mesh's process: the record counts only while it lives. */
  pid: number;
  /** With `--tls`: the mesh's CA, the certificate cdnctl presents (identity "cdnctl") and the name in the services' certificates. */
  tls?: { caFile: string; certFile: string; keyFile: string; serverName: string };
  /** Addresses of the services, once they are up (absent while the mesh starts). */
  services?: { configWatcher: string; weightCalculator: string; resolver: string; probers: string[]; dnsGatewayMetrics: string };
}

/** The running mesh's state, if its process is alive. */
export function readMeshState(): MeshState | undefined {
  try {
    const state = JSON.parse(readFileSync(MESH_STATE_FILE, 'utf8')) as Partial<MeshState>;
    if (typeof state.etcd !== 'string' || typeof state.pid !== 'number' || !isProcessAlive(state.pid)) return undefined;
    return { etcd: state.etcd, pid: state.pid, tls: state.tls, services: state.services };
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
    // A reason of its own means the service answered (e.g. no-healthy-node): only a bare UNAVAILABLE
    // (no connection, nothing listening) deserves the hint.
    const answered = reasonOf(error) !== statusReason(e.code);
    const hint = e.code === Status.UNAVAILABLE && !answered ? ` (is the service running at ${target}? start the mesh with \`npm start\`)` : '';
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
