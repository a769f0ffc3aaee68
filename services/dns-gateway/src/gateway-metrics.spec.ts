import { createMetrics, type Metrics } from '@cdn-sched/telemetry';
import { afterEach, describe, expect, it } from 'vitest';
import { QType } from './decision-records.js';
import { createGatewayMetrics } from './gateway-metrics.js';
import type { QueryEvent } from './query-handler.js';

const event = (e: Partial<QueryEvent>): QueryEvent => ({ transport: 'udp', qtype: QType.A, rcode: 0, cache: 'none', truncated: false, decisionMs: Number.NaN, ...e });

/** `series{labels} value` lines of one metric in the registry's text output, labels other than service/instance_id kept. */
async function series(metrics: Metrics, name: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const line of (await metrics.registry.metrics()).split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const labels = /\{(.*)\}/.exec(line)![1]!.split(',').filter((l) => !l.startsWith('service=') && !l.startsWith('instance_id='));
    out[labels.join(',')] = Number(line.split(' ').pop());
  }
  return out;
}

describe('gateway metrics', () => {
  let metrics: Metrics | undefined;
  afterEach(() => metrics?.close());

  it('counts replies by qtype, rcode and transport and cache lookups by result, once each, as of every scrape', async () => {
    metrics = createMetrics({ service: 'dns-gateway', instanceId: 't', processMetrics: false });
    const m = createGatewayMetrics(metrics);
    for (let i = 0; i < 5; i++) m.onEvent(event({ cache: 'hit', packetCache: i < 2 }));
    m.onEvent(event({ transport: 'tcp', qtype: QType.AAAA, cache: 'miss', decisionMs: 1.5 }));
    m.onEvent(event({ qtype: 99, rcode: 3 }));
    m.onEvent(event({ qtype: -1, rcode: 1 }));
    m.onEvent(event({ rcode: 9 })); // NOTAUTH: no name here, counted by its number
    m.onEvent(event({ cache: 'stale' }));
    m.onEvent(event({ rcode: -1, problem: 'short' }));
    expect(await series(metrics, 'cdn_dns_queries_total')).toEqual({
      'qtype="A",rcode="NOERROR",transport="udp"': 6,
      'qtype="AAAA",rcode="NOERROR",transport="tcp"': 1,
      'qtype="other",rcode="NXDOMAIN",transport="udp"': 1,
      'qtype="none",rcode="FORMERR",transport="udp"': 1,
      'qtype="A",rcode="9",transport="udp"': 1,
    });
    expect(await series(metrics, 'cdn_dns_cache_total')).toEqual({ 'result="hit"': 5, 'result="miss"': 1, 'result="stale"': 1 });
    expect(await series(metrics, 'cdn_dns_dropped_packets_total')).toEqual({ 'reason="short"': 1 });
    expect(await series(metrics, 'cdn_dns_packet_cache_hits_total')).toEqual({ '': 2 });
    // A second scrape adds only what came since the first.
    m.onEvent(event({ cache: 'hit', packetCache: true }));
    expect((await series(metrics, 'cdn_dns_packet_cache_hits_total'))['']).toBe(3);
    expect((await series(metrics, 'cdn_dns_queries_total'))['qtype="A",rcode="NOERROR",transport="udp"']).toBe(7);
    expect((await series(metrics, 'cdn_dns_cache_total'))['result="hit"']).toBe(6);
    expect((await series(metrics, 'cdn_dns_cache_total'))['result="hit"']).toBe(6);
  });
});
