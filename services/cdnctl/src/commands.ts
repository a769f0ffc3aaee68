import type { ParsedArgs } from './cli.js';
import { drainNode, listDocuments, putDocuments, removeDocument } from './commands/documents.js';
import { resolve, weights } from './commands/resolve.js';
import { probeStatus, status } from './commands/status.js';

/** One cdnctl command. */
export interface Command {
  /** Words that name it ("node drain"). */
  name: string;
  usage: string;
  help: string;
  run(args: ParsedArgs): Promise<void>;
}

const ENDPOINT_HELP = `Endpoints (flags win over environment variables; defaults are the local mesh's):
  --etcd-endpoints, $ETCD_ENDPOINTS      etcd client URLs (http://127.0.0.1:2379)
  --prefix, $CDN_PREFIX                  key prefix (/cdn/)
  --resolver, $RESOLVER                  resolver gRPC address (127.0.0.1:50054)
  --config-watcher, $CONFIG_WATCHER      (127.0.0.1:50051)
  --weight-calculator, $WEIGHT_CALCULATOR (127.0.0.1:50053)
  --probers, $PROBERS                    comma-separated (127.0.0.1:50052,127.0.0.1:50062)
  --json                                 one JSON object per result, for scripts`;

export const commands: Command[] = [
  {
    name: 'node put',
    usage: 'node put <file|-> [--json]',
    help: 'Validates node documents (one object or an array) with the config-watcher\'s validator and writes them to <prefix>nodes/<id>. Nothing is written if any document is invalid.',
    run: (a) => putDocuments('node', a),
  },
  { name: 'node list', usage: 'node list [--json]', help: 'Lists node documents in etcd; invalid ones are shown with the reason they are rejected.', run: (a) => listDocuments('node', a) },
  {
    name: 'node drain',
    usage: 'node drain <id> [--json]',
    help: 'Sets the node\'s state to "drain" (compare-and-swap on its revision): it keeps being probed but receives no new traffic.',
    run: (a) => drainNode(a, 'drain'),
  },
  { name: 'node undrain', usage: 'node undrain <id> [--json]', help: 'Sets the node\'s state back to "active".', run: (a) => drainNode(a, 'active') },
  { name: 'node rm', usage: 'node rm <id> [--json]', help: 'Deletes the node document.', run: (a) => removeDocument('node', a) },
  {
    name: 'domain put',
    usage: 'domain put <file|-> [--json]',
    help: 'Validates domain policies (one object or an array) and writes them to <prefix>domains/<fqdn>.',
    run: (a) => putDocuments('domain', a),
  },
  { name: 'domain list', usage: 'domain list [--json]', help: 'Lists domain policies in etcd.', run: (a) => listDocuments('domain', a) },
  { name: 'domain rm', usage: 'domain rm <fqdn> [--json]', help: 'Deletes a domain policy.', run: (a) => removeDocument('domain', a) },
  {
    name: 'resolve',
    usage: 'resolve <ip|subnet> <domain> [--answers N] [--json]',
    help: 'Asks a resolver for a decision and prints the location found, the tier, the answers, whether it is degraded and the config/weight versions used. With --json: {answers:[{nodeId,address,port,ttl}],location,tier,reason,degraded,configVersion,weightsVersion}. A failed request exits 1 with the gRPC status.',
    run: resolve,
  },
  { name: 'weights', usage: 'weights [--watch] [--json]', help: 'Prints the weight table from the weight-calculator\'s stream; --watch prints every new version until Ctrl-C.', run: weights },
  { name: 'status', usage: 'status [--json]', help: 'Health, readiness reasons, versions, staleness, breaker states and etcd watch latency of every service. Exits 1 if a service does not answer.', run: status },
  { name: 'probe-status', usage: 'probe-status [--json]', help: 'Assigned nodes, probe rate, RTT percentiles, results by class and replication of every prober.', run: probeStatus },
];

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
