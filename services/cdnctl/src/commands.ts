import type { ParsedArgs } from './args.js';
import { flagsIn } from './flag-check.js';

// Each command's module is loaded when the command runs, not before: `cdnctl --help` and a typo
// then cost no etcd3 (which parses etcd's .proto files when it loads), gRPC or geoip start-up.
const documents = () => import('./commands/documents.js');
const resolveCommands = () => import('./commands/resolve.js');
const statusCommands = () => import('./commands/status.js');

/** One cdnctl command. */
export interface Command {
  /** Words that name it ("node drain"). */
  name: string;
  usage: string;
  help: string;
  run(args: ParsedArgs): Promise<void>;
}

const ENDPOINT_HELP = `Endpoints (flags win over environment variables; defaults are the local mesh's):
  --etcd-endpoints, $ETCD_ENDPOINTS      etcd client URLs of the cluster members, comma-separated (http://127.0.0.1:2379)
  --etcd-ca-file, $ETCD_CA_FILE          CA of etcd's server certificates (https://; default: system trust store)
  --etcd-cert-file, $ETCD_CERT_FILE      client certificate (etcd --client-cert-auth); with --etcd-key-file
  --etcd-key-file, $ETCD_KEY_FILE        its private key
  --etcd-username, $ETCD_USERNAME        etcd user (auth enabled); with a password:
  --etcd-password, $ETCD_PASSWORD        or --etcd-password-file, $ETCD_PASSWORD_FILE
  --prefix, $CDN_PREFIX                  key prefix (/cdn/)
  --resolver, $RESOLVER                  resolver gRPC address (127.0.0.1:50054)
  --config-watcher, $CONFIG_WATCHER      (127.0.0.1:50051)
  --weight-calculator, $WEIGHT_CALCULATOR (127.0.0.1:50053)
  --probers, $PROBERS                    comma-separated (127.0.0.1:50052,127.0.0.1:50062)
  --tls-ca-file, $TLS_CA_FILE            mutual TLS toward the services: CA of their certificates,
  --tls-cert-file, $TLS_CERT_FILE        and cdnctl's own certificate and key (all three, or none
  --tls-key-file, $TLS_KEY_FILE          for plaintext)
  --tls-server-name, $TLS_SERVER_NAME    name expected in server certificates (default: the address's host)
  --dns-gateway-metrics, $DNS_GATEWAY_METRICS  the dns-gateway's http://host:port (its /readyz), for status
  (While \`npm start\` runs, its record file gives the defaults: etcd, service addresses and, with
  --tls, the mesh's CA and cdnctl's certificate.)
  --json                                 one JSON object per result, for scripts`;

export const commands: Command[] = [
  {
    name: 'node put',
    usage: 'node put <file|-> [--json]',
    help: 'Validates node documents (one object or an array) with the config-watcher\'s validator and writes them to <prefix>nodes/<id>. Nothing is written if any document is invalid.',
    run: async (a) => (await documents()).putDocuments('node', a),
  },
  { name: 'node list', usage: 'node list [--json]', help: 'Lists node documents in etcd; invalid ones are shown with the reason they are rejected.', run: async (a) => (await documents()).listDocuments('node', a) },
  {
    name: 'node drain',
    usage: 'node drain <id> [--json]',
    help: 'Sets the node\'s state to "drain" (compare-and-swap on its revision): it keeps being probed but receives no new traffic.',
    run: async (a) => (await documents()).drainNode(a, 'drain'),
  },
  { name: 'node undrain', usage: 'node undrain <id> [--json]', help: 'Sets the node\'s state back to "active".', run: async (a) => (await documents()).drainNode(a, 'active') },
  { name: 'node rm', usage: 'node rm <id> [--json]', help: 'Deletes the node document.', run: async (a) => (await documents()).removeDocument('node', a) },
  {
    name: 'domain put',
    usage: 'domain put <file|-> [--json]',
    help: 'Validates domain policies (one object or an array) and writes them to <prefix>domains/<fqdn>.',
    run: async (a) => (await documents()).putDocuments('domain', a),
  },
  { name: 'domain list', usage: 'domain list [--json]', help: 'Lists domain policies in etcd.', run: async (a) => (await documents()).listDocuments('domain', a) },
  { name: 'domain rm', usage: 'domain rm <fqdn> [--json]', help: 'Deletes a domain policy.', run: async (a) => (await documents()).removeDocument('domain', a) },
  {
    name: 'resolve',
    usage: 'resolve <ip|subnet> <domain> [--answers N] [--json]',
    help: 'Asks a resolver for a decision and prints the location found, the tier, the answers, whether it is degraded and the config/weight versions used. With --json: {answers:[{nodeId,address,port,ttl}],location,tier,reason,degraded,configVersion,weightsVersion}. A failed request exits 1 with the gRPC status.',
    run: async (a) => (await resolveCommands()).resolve(a),
  },
  { name: 'weights', usage: 'weights [--watch] [--json]', help: 'Prints the weight table from the weight-calculator\'s stream; --watch prints every new version until Ctrl-C.', run: async (a) => (await resolveCommands()).weights(a) },
  { name: 'status', usage: 'status [--json]', help: 'Health, readiness reasons, versions, staleness, breaker states and etcd watch latency of every service. The dns-gateway (its /readyz) is included when --dns-gateway-metrics / $DNS_GATEWAY_METRICS is set or the local mesh runs. Exits 1 if a service does not answer.', run: async (a) => (await statusCommands()).status(a) },
  {
    name: 'mesh',
    usage: 'mesh [--no-demo] [--keep] [--tls] [--any-ports] [--probe-interval-ms N] [--status-interval-ms N] [--dns-port P]',
    help: 'Runs the local mesh (what `npm start` runs): a throwaway etcd (or $ETCD_ENDPOINTS), a demo fleet of fake edges on 127.0.0.11 upwards with demo domains (unless --no-demo), config-watcher, two probers, weight-calculator, resolver and dns-gateway (DNS on 127.0.0.1:5300, or $DNS_PORT / --dns-port) as separate processes, and a live status line. --tls: every gRPC hop (dns-gateway → resolver and cdnctl included) is mutual TLS under a throwaway CA made with openssl in a temporary directory, one certificate per service instance (CN = its name) and one for cdnctl (CN cdnctl); cdnctl finds them through the mesh\'s record file. --any-ports: the kernel chooses every port (for a second mesh on one machine; cdnctl finds them the same way). Ctrl-C stops everything and removes the etcd data dir (unless --keep) and the certificates.',
    run: async (a) => (await import('./mesh/mesh.js')).mesh(a),
  },
  { name: 'probe-status', usage: 'probe-status [--json]', help: 'Assigned nodes, probe rate, RTT percentiles, results by class and replication of every prober.', run: async (a) => (await statusCommands()).probeStatus(a) },
  {
    name: 'gen-queries',
    usage: 'gen-queries [--count N] [--seed S] [--domains a,b] [--overseas-share F] [--out file|-]',
    help: `Writes a synthetic query log, one 'client_ip domain' line per query, with client addresses drawn from the geoip database ($GEOIP_DB, else the shipped ip2region data). Home-country (CN) queries are split by ISP (cm 35 %, ct 30 %, cu 25 %, other 10 %) and spread over provinces as each ISP's address space is; --overseas-share (default 0.1) come from abroad. The same --seed (default 1) gives the same log. Defaults: --count 10000, --domains music.demo.example,video.demo.example, --out - (standard output).`,
    run: async (a) => (await import('./traffic/gen-queries-command.js')).genQueries(a),
  },
  {
    name: 'replay',
    usage: 'replay <file|-> [--rps R] [--concurrency C] [--batch B] [--unary] [--duration D] [--json]',
    help: `Replays a query log against the resolver and reports throughput, latency percentiles and errors. Lines are 'client domain' or 'client,domain' (client: an address, or address/prefix sent as ECS); '#' starts a comment; bad lines are listed with their numbers and skipped. By default queries go over ResolveStream in batches of --batch (100) on --concurrency (4) streams; --unary sends one Resolve call per query from C concurrent callers. --rps paces the queries open-loop (default 0 = as fast as possible): request slots are fixed from the start, so a slow resolver shows up as latency rather than as a lower offered rate. Without --duration the file is played once; with it (30s, 2m, 500ms, or seconds) the file loops until the time is up. A progress line goes to stderr every second. --json prints one object at the end: {command,file,target,mode,concurrency,batch,badLines,durationS,offered:{rps,queries,unsent},achieved:{queriesPerS,requestsPerS},queries:{sent,ok,failed,degraded},requests:{sent,ok,failed},latencyMs:{query,request}:{count,p50,p95,p99,p999,max,mean},sendLagMs:{p99,max},errors:{STATUS:n},requestErrors:{STATUS:n}}. Exits 1 when no query was answered (e.g. the resolver is down).`,
    run: async (a) => (await import('./traffic/replay-command.js')).replay(a),
  },
  {
    name: 'load',
    usage: 'load --rps R --duration D [--step-concurrency 1,4,16] [--unary] [--batch B] [--seed S] [--domains a,b] [--overseas-share F] [--json]',
    help: `Sends synthetic queries (the gen-queries generator, in memory) at --rps queries/s (0 = as fast as possible) for --duration, split into equal steps of rising concurrency (--step-concurrency, default 1,4,16), and reports each step and the total like replay does. Streams by default (--batch 100), --unary for Resolve calls. --json prints one object at the end: {command,target,mode,batch,stepDurationS,seed,steps:[{concurrency,...replay's figures}],total:{...}}. Exits 1 when no query was answered.`,
    run: async (a) => (await import('./traffic/load-command.js')).load(a),
  },
];

/** Flags every command takes: the endpoint flags, `--json` and `--help`. */
const GLOBAL_FLAGS: readonly string[] = [...flagsIn(ENDPOINT_HELP), 'help'];

/** The flags `command` accepts: its usage line's and the global ones. */
export function knownFlags(command: Command): Set<string> {
  return new Set([...flagsIn(command.usage), ...GLOBAL_FLAGS]);
}

export function findCommand(positionals: readonly string[]): { command: Command; rest: string[] } | undefined {
  for (const words of [2, 1]) {
    const name = positionals.slice(0, words).join(' ');
    const command = commands.find((c) => c.name === name);
    if (command) return { command, rest: positionals.slice(words) };
  }
  return undefined;
}

export function globalHelp(): string {
  const rows = commands.map((c) => `  ${c.usage.padEnd(52)} ${c.help.split('. ')[0]!.replace(/\.$/, '')}.`);
  return `Usage: cdnctl <command> [args] [flags]    (cdnctl <command> --help for details)\n\nCommands:\n${rows.join('\n')}\n\n${ENDPOINT_HELP}\n`;
}
