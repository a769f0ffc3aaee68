import type { Metrics } from '@cdn-sched/telemetry';
import { QType } from './decision-records.js';
import type { QueryEvent } from './query-handler.js';

const TYPE_NAMES: Record<number, string> = { [QType.A]: 'A', [QType.AAAA]: 'AAAA', [QType.CNAME]: 'CNAME', [QType.SOA]: 'SOA', [QType.NS]: 'NS', [QType.ANY]: 'ANY' };
const RCODE_NAMES: Record<number, string> = { 0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED', 16: 'BADVERS' };

const QTYPE_LABELS = [...Object.values(TYPE_NAMES), 'none', 'other'];
const RCODE_LABELS = Object.values(RCODE_NAMES);
const TRANSPORTS = ['udp', 'tcp'] as const;
const CACHE_RESULTS = ['hit', 'miss', 'stale'] as const;
const qtypeIndex = (qtype: number): number => {
  const name = TYPE_NAMES[qtype];
  return name !== undefined ? QTYPE_LABELS.indexOf(name) : QTYPE_LABELS.indexOf(qtype < 0 ? 'none' : 'other');
};
const QTYPE_INDEX = new Map<number, number>([...Object.keys(TYPE_NAMES).map((t) => [Number(t), qtypeIndex(Number(t))] as const), [-1, qtypeIndex(-1)]]);
const QTYPE_OTHER = QTYPE_LABELS.indexOf('other');
const RCODE_INDEX = new Map<number, number>(Object.keys(RCODE_NAMES).map((r, i) => [Number(r), i] as const));

/**
 * The gateway's Prometheus metrics, fed from query events and transport drops. The two counters
 * every query moves (replies by qtype, rcode and transport; cache lookups) count into plain arrays
 * and reach prom-client when a scrape collects them: a labelled `inc` hashes its label set, about a
 * microsecond a query, which at tens of thousands of queries a second is a share of a core.
 */
export function createGatewayMetrics(metrics: Metrics) {
  const replyCounts = new Float64Array(QTYPE_LABELS.length * RCODE_LABELS.length * TRANSPORTS.length);
  const cacheCounts = new Float64Array(CACHE_RESULTS.length);
  let packetHits = 0;
  const queries = metrics.counter({
    name: 'cdn_dns_queries_total',
    help: 'DNS replies sent, by record type asked, rcode and transport',
    labelNames: ['qtype', 'rcode', 'transport'],
    collect() {
      for (let i = 0; i < replyCounts.length; i++) {
        if (replyCounts[i] === 0) continue;
        const transport = i % TRANSPORTS.length;
        const rcode = Math.floor(i / TRANSPORTS.length) % RCODE_LABELS.length;
        const qtype = Math.floor(i / (TRANSPORTS.length * RCODE_LABELS.length));
        this.inc({ qtype: QTYPE_LABELS[qtype]!, rcode: RCODE_LABELS[rcode]!, transport: TRANSPORTS[transport]! }, replyCounts[i]!);
        replyCounts[i] = 0;
      }
    },
  });
  metrics.counter({
    name: 'cdn_dns_cache_total',
    help: 'Answer cache lookups of decided names: hit, miss or stale (served past TTL because no resolver answered)',
    labelNames: ['result'],
    collect() {
      for (let i = 0; i < cacheCounts.length; i++) {
        if (cacheCounts[i] === 0) continue;
        this.inc({ result: CACHE_RESULTS[i]! }, cacheCounts[i]!);
        cacheCounts[i] = 0;
      }
    },
  });
  metrics.counter({
    name: 'cdn_dns_packet_cache_hits_total',
    help: 'Answer cache hits answered from the packet cache (a copy of the reply to the same query bytes); also counted in cdn_dns_cache_total{result="hit"}',
    collect() {
      if (packetHits === 0) return;
      this.inc(packetHits);
      packetHits = 0;
    },
  });
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
      const rcode = RCODE_INDEX.get(e.rcode);
      if (rcode === undefined) {
        // An rcode without a name here: rare enough to count the plain way.
        queries.inc({ qtype: TYPE_NAMES[e.qtype] ?? (e.qtype < 0 ? 'none' : 'other'), rcode: String(e.rcode), transport: e.transport });
      } else {
        const qtype = QTYPE_INDEX.get(e.qtype) ?? QTYPE_OTHER;
        const at = (qtype * RCODE_LABELS.length + rcode) * TRANSPORTS.length + (e.transport === 'udp' ? 0 : 1);
        replyCounts[at] = replyCounts[at]! + 1;
      }
      if (e.cache !== 'none') {
        const at = e.cache === 'hit' ? 0 : e.cache === 'miss' ? 1 : 2;
        cacheCounts[at] = cacheCounts[at]! + 1;
        if (e.packetCache === true) packetHits++;
      }
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
