import { serviceDefinitions, type StatusResponse } from '@cdn-sched/proto';
import type { Transport } from '@cdn-sched/transport';
import { createClient } from 'nice-grpc';
import { endpoints, print, type ParsedArgs } from '../cli.js';

type Target = { name: string; address: string; kind: 'configWatcher' | 'weightCalculator' | 'resolver' | 'prober' };

async function askStatus(t: Target, transport: Transport): Promise<StatusResponse | string> {
  const channel = transport.channel(t.address);
  try {
    const client = createClient(serviceDefinitions[t.kind], channel);
    return await client.status({}, { signal: AbortSignal.timeout(3000) });
  } catch (error) {
    return (error as { details?: string; message?: string }).details ?? String((error as Error).message);
  } finally {
    channel.close();
  }
}

/** The dns-gateway has no gRPC server: its /readyz says whether it is ready and why not. */
async function dnsGatewayStatus(args: ParsedArgs, metricsUrl: string): Promise<boolean> {
  let body: { ready?: boolean; reasons?: string[] };
  try {
    const res = await fetch(`${metricsUrl}/readyz`, { signal: AbortSignal.timeout(3000) });
    body = (await res.json()) as { ready?: boolean; reasons?: string[] };
  } catch (error) {
    const message = (error as Error).message;
    print(args, { service: 'dns-gateway', address: metricsUrl, up: false, error: message }, () => `${'dns-gateway'.padEnd(18)} ${metricsUrl.padEnd(16)} DOWN  ${message}`);
    return false;
  }
  const reasons = body.reasons ?? [];
  print(args, { service: 'dns-gateway', address: metricsUrl, up: true, ready: body.ready === true, reasons }, () =>
    [`${'dns-gateway'.padEnd(18)} ${metricsUrl.padEnd(16)} ${body.ready ? 'READY' : 'NOT READY'}`, ...reasons.map((r) => `    ! ${r}`)].join('\n'),
  );
  return true;
}

/** `cdnctl status`: every service's health, versions, staleness, breakers and watch latency. */
export async function status(args: ParsedArgs): Promise<void> {
  const e = endpoints(args);
  const targets: Target[] = [
    { name: 'config-watcher', address: e.configWatcher, kind: 'configWatcher' },
    ...e.probers.map((address, i) => ({ name: `prober#${i + 1}`, address, kind: 'prober' as const })),
    { name: 'weight-calculator', address: e.weightCalculator, kind: 'weightCalculator' },
    { name: 'resolver', address: e.resolver, kind: 'resolver' },
  ];
  const results = await Promise.all(targets.map(async (t) => ({ t, r: await askStatus(t, e.transport) })));
  let down = 0;
  for (const { t, r } of results) {
    if (typeof r === 'string') {
      down++;
      print(args, { service: t.name, address: t.address, up: false, error: r }, () => `${t.name.padEnd(18)} ${t.address.padEnd(16)} DOWN  ${r}`);
      continue;
    }
    const json = {
      service: r.service,
      instanceId: r.instanceId,
      address: t.address,
      up: true,
      ready: r.ready,
      reasons: r.reasons,
      version: Number(r.version),
      epoch: r.epoch,
      watchLatencyP50Ms: r.watchLatencyP50Ms,
      watchLatencyP99Ms: r.watchLatencyP99Ms,
      breakers: r.breakers.map((b) => ({ name: b.name, state: b.state, timeoutMs: b.timeoutMs, opens: Number(b.opens) })),
      streams: r.streams.map((s) => ({ name: s.name, connected: s.connected, version: Number(s.version), stalenessMs: Number(s.stalenessMs), stale: s.stale })),
      gauges: r.gauges,
    };
    print(args, json, () => {
      const head = `${t.name.padEnd(18)} ${t.address.padEnd(16)} ${r.ready ? 'READY' : 'NOT READY'}  version ${r.version}  watch p50/p99 ${r.watchLatencyP50Ms.toFixed(1)}/${r.watchLatencyP99Ms.toFixed(1)} ms`;
      const lines = [head];
      for (const reason of r.reasons) lines.push(`    ! ${reason}`);
      for (const s of r.streams) lines.push(`    stream ${s.name} ${s.connected ? 'connected' : 'DISCONNECTED'} version ${s.version} staleness ${s.stalenessMs} ms${s.stale ? ' STALE' : ''}`);
      for (const b of r.breakers) lines.push(`    breaker ${b.name} ${b.state} timeout ${b.timeoutMs} ms opens ${b.opens}`);
      const gauges = Object.entries(r.gauges).map(([k, v]) => `${k}=${Math.round(v * 100) / 100}`).join(' ');
      if (gauges) lines.push(`    ${gauges}`);
      return lines.join('\n');
    });
  }
  // A mesh without a gateway (one given only gRPC addresses) has none to report.
  if (e.dnsGatewayMetrics && !(await dnsGatewayStatus(args, e.dnsGatewayMetrics))) down++;
  if (down > 0) process.exitCode = 1;
}

/** `cdnctl probe-status`: what each prober probes, its rates and replication. */
export async function probeStatus(args: ParsedArgs): Promise<void> {
  const e = endpoints(args);
  let failed = 0;
  for (const address of e.probers) {
    const channel = e.transport.channel(address);
    try {
      const r = await createClient(serviceDefinitions.prober, channel).probeStatus({}, { signal: AbortSignal.timeout(3000) });
      print(
        args,
        {
          address,
          proberId: r.proberId,
          members: r.members,
          replicationFactor: r.replicationFactor,
          assignedNodes: r.nodes.length,
          probesPerS: r.probesPerS,
          rttP50Ms: r.rttP50Ms,
          rttP99Ms: r.rttP99Ms,
          resultsByClass: Object.fromEntries(Object.entries(r.resultsByClass).map(([k, v]) => [k, Number(v)])),
          poolSockets: r.poolSockets,
          underReplicatedNodes: r.underReplicatedNodes,
          nodes: r.nodes.map((n) => ({ nodeId: n.nodeId, type: n.probeType, intervalMs: n.intervalMs, lastResult: n.lastResult, lastRttMs: n.lastRttMs })),
        },
        () =>
          [
            `${r.proberId} (${address}): ${r.nodes.length} nodes, ${r.probesPerS.toFixed(1)} probes/s, rtt p50/p99 ${r.rttP50Ms.toFixed(1)}/${r.rttP99Ms.toFixed(1)} ms, sockets ${r.poolSockets}, R=${r.replicationFactor}, members ${r.members.join(',')}, under-replicated ${r.underReplicatedNodes}`,
            `    results: ${Object.entries(r.resultsByClass).map(([k, v]) => `${k}=${v}`).join(' ')}`,
            ...r.nodes.map((n) => `    ${n.nodeId.padEnd(16)} ${n.probeType.padEnd(5)} every ${n.intervalMs} ms  last ${n.lastResult || '-'} ${n.lastRttMs.toFixed(1)} ms`),
          ].join('\n'),
      );
    } catch (error) {
      failed++;
      const msg = (error as { details?: string }).details ?? String(error);
      print(args, { address, up: false, error: msg }, () => `${address}: DOWN ${msg}`);
    } finally {
      channel.close();
    }
  }
  if (failed === e.probers.length) process.exitCode = 1;
}
