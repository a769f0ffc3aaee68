import { isLocationTier, tierName } from '@cdn-sched/location';
import { Health, serviceDefinitions, type ResolveResponse } from '@cdn-sched/proto';
import { createWeightsConsumer, type WeightEntry } from '@cdn-sched/stream';
import { createClient } from 'nice-grpc';
import { CliError, endpoints, grpcFailure, intFlag, print, type ParsedArgs } from '../cli.js';

/** The `--json` shape of a decision (documented in the README). */
export function decisionJson(r: ResolveResponse): Record<string, unknown> {
  return {
    queryId: Number(r.queryId),
    answers: r.answers.map((a) => ({ nodeId: a.nodeId, address: a.address, port: a.port, ttl: a.ttlS })),
    location: { country: r.location?.country ?? '', region: r.location?.region ?? '', isp: r.location?.isp ?? '', prefixLen: r.location?.prefixLen ?? 0 },
    tier: isLocationTier(r.tier) ? tierName(r.tier) : 'none',
    reason: r.reason,
    ecsScope: r.ecsScope,
    degraded: r.degraded,
    configVersion: Number(r.configVersion),
    weightsVersion: Number(r.weightsVersion),
  };
}

/** `cdnctl resolve <ip|subnet> <domain> [--answers N]`. */
export async function resolve(args: ParsedArgs): Promise<void> {
  const [client, domain] = args.positionals;
  if (!client || !domain) throw new CliError('usage: cdnctl resolve <ip|subnet> <domain> [--answers N]', 2);
  const e = endpoints(args);
  const channel = e.transport.channel(e.resolver);
  try {
    const resolver = createClient(serviceDefinitions.resolver, channel);
    const subnet = client.includes('/');
    const res = await resolver
      .resolve(
        { queryId: 1n, clientIp: subnet ? '' : client, ecsSubnet: subnet ? client : '', domain, answers: intFlag(args, 'answers', 0) },
        { signal: AbortSignal.timeout(5000) },
      )
      .catch((error: unknown) => {
        throw grpcFailure(error, e.resolver);
      });
    const j = decisionJson(res);
    print(args, j, () => {
      const loc = res.location;
      const where = [loc?.country, loc?.region, loc?.isp].filter(Boolean).join(' ') || 'unknown location';
      const lines = [
        `${domain} for ${client}: ${where} (/${loc?.prefixLen ?? 0}), tier ${j['tier'] as string}${res.degraded ? ', DEGRADED' : ''}`,
        `  reason: ${res.reason}`,
        ...res.answers.map((a) => `  ${a.nodeId.padEnd(16)} ${a.address}:${a.port}  ttl ${a.ttlS}s`),
        `  config version ${res.configVersion}, weights version ${res.weightsVersion}`,
      ];
      return lines.join('\n');
    });
  } finally {
    channel.close();
  }
}

const HEALTH_NAMES: Record<number, string> = { [Health.UP]: 'up', [Health.DOWN]: 'down', [Health.UNKNOWN]: 'unknown' };

function weightRows(entries: ReadonlyMap<string, WeightEntry>): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  for (const e of entries.values()) {
    if (e.kind !== 'weight') continue;
    const w = e.weight;
    rows.push({
      nodeId: w.nodeId,
      weight: Math.round(w.weight * 1000) / 1000,
      health: HEALTH_NAMES[w.health] ?? 'unknown',
      rttEwmaMs: Math.round((w.terms?.rttEwmaMs ?? 0) * 10) / 10,
      lossRate: w.terms?.lossRate ?? 0,
      load: w.terms?.load ?? -1,
      ramp: w.terms?.ramp ?? 1,
      probers: `${w.terms?.probersUp ?? 0}/${w.terms?.probersTotal ?? 0}`,
    });
  }
  return rows.sort((a, b) => String(a['nodeId']).localeCompare(String(b['nodeId'])));
}

/** `cdnctl weights [--watch]`: the weight stream, once or continuously. */
export async function weights(args: ParsedArgs): Promise<void> {
  const e = endpoints(args);
  const watch = args.flags.get('watch') === true;
  const ac = new AbortController();
  const printAll = (version: number, entries: ReadonlyMap<string, WeightEntry>): void => {
    const rows = weightRows(entries);
    if (args.flags.get('json')) {
      for (const r of rows) print(args, { version, ...r }, () => '');
      return;
    }
    const lines = rows.map((r) => `${String(r['nodeId']).padEnd(16)} ${String(r['weight']).padStart(8)}  ${String(r['health']).padEnd(8)} rtt ${String(r['rttEwmaMs']).padStart(6)} ms  loss ${String(r['lossRate']).padEnd(5)} load ${String(r['load']).padEnd(5)} ramp ${String(r['ramp']).padEnd(5)} probers ${String(r['probers'])}`);
    process.stdout.write(`weights version ${version} (${rows.length} nodes)\n${lines.join('\n')}\n`);
  };
  const consumer = createWeightsConsumer({
    target: e.weightCalculator,
    transport: e.transport,
    consumerId: 'cdnctl',
    onApplied(update, entries) {
      if (watch) printAll(update.version, entries);
    },
  });
  try {
    const timeout = AbortSignal.timeout(watch ? 2 ** 31 - 1 : 5000);
    await consumer.ready(AbortSignal.any([timeout, ac.signal])).catch(() => {
      throw new CliError(`UNAVAILABLE: no weight stream from ${e.weightCalculator}${consumer.state.lastError ? ` (${consumer.state.lastError})` : ''}; start the mesh with \`npm start\``);
    });
    if (!watch) printAll(consumer.state.version, consumer.entries);
    else await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  } finally {
    await consumer.close();
  }
}
