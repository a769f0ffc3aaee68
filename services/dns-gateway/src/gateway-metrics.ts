import type { Metrics } from '@cdn-sched/telemetry';
import { QType } from './decision-records.js';
import type { QueryEvent } from './query-handler.js';

const TYPE_NAMES: Record<number, string> = { [QType.A]: 'A', [QType.AAAA]: 'AAAA', [QType.CNAME]: 'CNAME', [QType.SOA]: 'SOA', [QType.NS]: 'NS', [QType.ANY]: 'ANY' };
const RCODE_NAMES: Record<number, string> = { 0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED', 16: 'BADVERS' };

/** The gateway's Prometheus metrics, fed from query events and transport drops. */
export function createGatewayMetrics(metrics: Metrics) {
  const queries = metrics.counter({ name: 'cdn_dns_queries_total', help: 'DNS replies sent, by record type asked, rcode and transport', labelNames: ['qtype', 'rcode', 'transport'] });
  const cache = metrics.counter({ name: 'cdn_dns_cache_total', help: 'Answer cache lookups of decided names: hit, miss or stale (served past TTL because no resolver answered)', labelNames: ['result'] });
  const decisionSeconds = metrics.histogram({
    name: 'cdn_dns_decision_seconds',
    help: 'Round trip of a decision over ResolveStream (batching included)',
    buckets: [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.2, 1, 5],
  });
  const truncated = metrics.counter({ name: 'cdn_dns_truncated_total', help: 'UDP replies sent with TC=1 because they did not fit' });
  const stale = metrics.counter({ name: 'cdn_dns_stale_answers_total', help: 'Answers served stale because no resolver answered within the deadline' });
  const dropped = metrics.counter({ name: 'cdn_dns_dropped_packets_total', help: 'Packets not answered, by reason', labelNames: ['reason'] });
  const rateLimited = metrics.counter({ name: 'cdn_dns_rate_limited_total', help: 'UDP replies limited by response rate limiting: dropped, or slipped (sent truncated, TC=1)', labelNames: ['action'] });
  const failovers = metrics.counter({ name: 'cdn_dns_resolver_failovers_total', help: 'Switches of the decision stream to another resolver' });
  return {
    onEvent(e: QueryEvent): void {
      if (e.rcode < 0) {
        dropped.inc({ reason: e.problem ?? 'unknown' });
        return;
      }
      queries.inc({ qtype: TYPE_NAMES[e.qtype] ?? (e.qtype < 0 ? 'none' : 'other'), rcode: RCODE_NAMES[e.rcode] ?? String(e.rcode), transport: e.transport });
      if (e.cache !== 'none') cache.inc({ result: e.cache });
      if (e.cache === 'stale') stale.inc();
      if (e.truncated) truncated.inc();
      if (!Number.isNaN(e.decisionMs)) decisionSeconds.observe(e.decisionMs / 1000);
    },
    onDrop(reason: string): void {
      dropped.inc({ reason });
    },
    onRateLimited(action: 'drop' | 'slip'): void {
      rateLimited.inc({ action });
    },
    onFailover(): void {
      failovers.inc();
    },
  };
}
