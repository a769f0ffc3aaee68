import { availableParallelism } from 'node:os';
import { configWatcherSetting, createUpstreams, runService, transportSettings } from '@cdn-sched/service-kit';
import { useExplicitContext } from '@cdn-sched/telemetry';
import { createAnswerCache } from './answer-cache.js';
import { createDecisionClient } from './decisions/decision-client.js';
import type { DecisionRecords } from './decision-records.js';
import { createDomainSource } from './domain-source.js';
import { createGatewayMetrics } from './gateway-metrics.js';
import { createQueryHandler } from './query-handler.js';
import { createRateLimiter } from './transport/rate-limiter.js';
import { startTcpServer } from './transport/tcp-server.js';
import { startUdpServer } from './transport/udp-server.js';

// The client side of the transport settings: the gateway dials the config-watcher and the
// resolvers (mutual TLS when the three files are given) and serves no gRPC itself.
const { tlsCaFile, tlsCertFile, tlsKeyFile, tlsReloadIntervalMs, tlsServerName, grpcMaxReceiveBytes, grpcMaxSendBytes, grpcKeepaliveTimeMs } = transportSettings;

const spec = {
  ...configWatcherSetting,
  tlsCaFile,
  tlsCertFile,
  tlsKeyFile,
  tlsReloadIntervalMs,
  tlsServerName,
  grpcMaxReceiveBytes,
  grpcMaxSendBytes,
  grpcKeepaliveTimeMs,
  resolvers: { type: 'list', env: 'RESOLVERS', flag: 'resolvers', default: ['127.0.0.1:50054'], description: 'resolver addresses for ResolveStream, tried in order (failover)' },
  dnsHost: { type: 'string', env: 'DNS_HOST', flag: 'dns-host', default: '127.0.0.1', description: 'DNS listen address (UDP and TCP)' },
  dnsPort: { type: 'int', env: 'DNS_PORT', flag: 'dns-port', default: 5300, min: 0, max: 65535, description: 'DNS port, UDP and TCP (0 = any; 53 needs CAP_NET_BIND_SERVICE)' },
  workers: { type: 'int', env: 'DNS_WORKERS', flag: 'workers', default: availableParallelism(), min: 1, max: 64, description: 'processes sharing the DNS ports (Node cluster); the default is one per core' },
  zones: { type: 'list', env: 'ZONES', flag: 'zones', default: [], description: 'zones served; empty = the parent of every policy name (topmost only)' },
  nsNames: { type: 'list', env: 'NS_NAMES', flag: 'ns-names', default: ['ns1'], description: 'NS host names at each apex, relative to the zone unless they end with a dot (the first is the SOA MNAME)' },
  nsAddresses: { type: 'list', env: 'NS_ADDRESSES', flag: 'ns-addresses', default: [], description: 'A/AAAA answered for in-zone NS host names (glue)' },
  soaRname: { type: 'string', env: 'SOA_RNAME', flag: 'soa-rname', default: 'hostmaster', description: 'SOA RNAME mailbox, relative to the zone unless it ends with a dot' },
  soaSerial: { type: 'int', env: 'SOA_SERIAL', flag: 'soa-serial', default: 0, min: 0, max: 4294967295, description: 'SOA serial; 0 = the config version (etcd revision)' },
  soaRefreshS: { type: 'int', env: 'SOA_REFRESH_S', flag: 'soa-refresh-s', default: 3600, min: 0, description: 'SOA REFRESH, seconds' },
  soaRetryS: { type: 'int', env: 'SOA_RETRY_S', flag: 'soa-retry-s', default: 600, min: 0, description: 'SOA RETRY, seconds' },
  soaExpireS: { type: 'int', env: 'SOA_EXPIRE_S', flag: 'soa-expire-s', default: 86400, min: 0, description: 'SOA EXPIRE, seconds' },
  soaMinimumS: { type: 'int', env: 'SOA_MINIMUM_S', flag: 'soa-minimum-s', default: 30, min: 0, description: 'SOA MINIMUM: negative-answer TTL (RFC 2308), seconds' },
  apexTtlS: { type: 'int', env: 'APEX_TTL_S', flag: 'apex-ttl-s', default: 3600, min: 0, description: 'TTL of SOA, NS and glue records, seconds' },
  maxUdpBytes: { type: 'int', env: 'MAX_UDP_BYTES', flag: 'max-udp-bytes', default: 1232, min: 512, max: 65535, description: 'largest UDP reply (also capped by the requester EDNS size; 512 without EDNS), bytes' },
  batchSize: { type: 'int', env: 'DECISION_BATCH_SIZE', flag: 'decision-batch-size', default: 64, min: 1, max: 5000, description: 'queries per ResolveStream batch: a full batch is sent at once' },
  flushDelayMs: { type: 'number', env: 'DECISION_FLUSH_DELAY_MS', flag: 'decision-flush-delay-ms', default: 0, min: 0, max: 100, description: 'a partial batch is sent after this long; 0 = at the end of the event-loop turn, milliseconds' },
  deadlineMs: { type: 'int', env: 'DECISION_DEADLINE_MS', flag: 'decision-deadline-ms', default: 1000, min: 10, description: 'every query is answered (decision, stale or SERVFAIL) within this, milliseconds' },
  cacheMaxEntries: { type: 'int', env: 'CACHE_MAX_ENTRIES', flag: 'cache-max-entries', default: 100_000, min: 0, description: 'answer cache size; 0 turns the cache off (every query is decided)' },
  packetCacheMaxEntries: { type: 'int', env: 'PACKET_CACHE_MAX_ENTRIES', flag: 'packet-cache-max-entries', default: 50_000, min: 0, description: 'whole UDP replies kept by query bytes in front of the answer cache (a repeated query is answered by a copy with its ID and TTL set, while its answer-cache entry holds); 0 turns it off' },
  serveStaleMs: { type: 'int', env: 'SERVE_STALE_MS', flag: 'serve-stale-ms', default: 30_000, min: 0, description: 'how long past its TTL an answer may be served when no resolver answers, milliseconds' },
  staleTtlS: { type: 'int', env: 'STALE_TTL_S', flag: 'stale-ttl-s', default: 5, min: 0, description: 'TTL of answers served stale, seconds' },
  rrlRate: { type: 'int', env: 'RRL_RATE', flag: 'rrl-rate', default: 0, min: 0, description: 'UDP replies per second per client /24 (IPv6 /56); 0 = response rate limiting off' },
  rrlSlip: { type: 'int', env: 'RRL_SLIP', flag: 'rrl-slip', default: 2, min: 0, max: 10, description: 'every Nth rate-limited reply is sent truncated (TC=1) instead of dropped; 0 = drop all' },
  tcpIdleTimeoutMs: { type: 'int', env: 'TCP_IDLE_TIMEOUT_MS', flag: 'tcp-idle-timeout-ms', default: 10_000, min: 100, description: 'idle DNS-over-TCP connections are closed after this, milliseconds' },
  tcpMaxMessageBytes: { type: 'int', env: 'TCP_MAX_MESSAGE_BYTES', flag: 'tcp-max-message-bytes', default: 4096, min: 512, max: 65535, description: 'a TCP length prefix above this closes the connection, bytes' },
  tcpMaxConnections: { type: 'int', env: 'TCP_MAX_CONNECTIONS', flag: 'tcp-max-connections', default: 1000, min: 1, description: 'open DNS-over-TCP connections per process' },
  traceRatio: { type: 'number', env: 'TRACE_RATIO', flag: 'trace-ratio', default: 0.01, min: 0, max: 1, description: 'share of policy-name queries traced with a cdn.dns.query span (their ResolveStream batch span links to them)' },
  maxStalenessMs: { type: 'int', env: 'MAX_STALENESS_MS', flag: 'max-staleness-ms', default: 10_000, min: 100, description: 'config stream older than this is reported in /readyz, milliseconds' },
} as const;

// `--workers N` (runService): N processes share the one UDP and TCP port through the cluster
// module's shared handles (Node 20's dgram ignores reusePort); worker i serves metrics on METRICS_PORT + i.
await runService({
  name: 'dns-gateway',
  summary: 'Authoritative GeoDNS front-end: answers A/AAAA/CNAME for the configured domains from resolver decisions (ResolveStream), with EDNS Client Subnet, a scope-aware cache and stale-or-SERVFAIL.',
  spec,
  metricsPort: 9465,
  async main({ config, instanceId, logger, metrics, shutdown, transport }) {
    // Span contexts are handed on explicitly here (a query's span to its decision, the batch span
    // linking them), and no span is ever active: the async context manager would only cost an
    // async hook per UDP send and promise (5–8 % of cache-hit throughput).
    useExplicitContext();
    const apex = {
      nsNames: config.nsNames,
      nsAddresses: config.nsAddresses,
      soaRname: config.soaRname,
      soaSerial: config.soaSerial,
      soaRefreshS: config.soaRefreshS,
      soaRetryS: config.soaRetryS,
      soaExpireS: config.soaExpireS,
      soaMinimumS: config.soaMinimumS,
      apexTtlS: config.apexTtlS,
    };
    const gm = createGatewayMetrics(metrics);
    const cache = createAnswerCache<DecisionRecords>({ maxEntries: config.cacheMaxEntries, staleMs: config.serveStaleMs });
    let lastZones = '';
    const domains = createDomainSource({
      consumerId: instanceId,
      configTarget: config.configWatcher,
      transport,
      maxStalenessMs: config.maxStalenessMs,
      explicitZones: config.zones,
      apex,
      onChange: (model, version) => {
        cache.setConfigVersion(version);
        const zones = model.zones.map((z) => z.apex).join(',');
        if (zones !== lastZones) {
          lastZones = zones;
          logger.info({ zones: model.zones.map((z) => z.apex), policies: model.policies.size, configVersion: version }, 'zones changed');
        }
        if (model.outsideZones.length > 0) logger.warn({ domains: model.outsideZones }, 'domains outside every configured zone are not served');
      },
    });
    shutdown.add('config-stream', () => domains.close());
    const decisions = createDecisionClient({
      targets: config.resolvers,
      channel: (target) => transport.channel(target),
      batchSize: config.batchSize,
      flushDelayMs: config.flushDelayMs,
      deadlineMs: config.deadlineMs,
      onFailover: (from, to, reason) => {
        gm.onFailover();
        logger.warn({ from, to, reason }, 'decision stream failed over to another resolver');
      },
    });
    shutdown.add('decision-stream', () => decisions.close());
    const handler = createQueryHandler({
      zones: () => domains.model,
      apex,
      configVersion: () => domains.version,
      decisions,
      cache,
      maxUdpBytes: config.maxUdpBytes,
      staleTtlS: config.staleTtlS,
      traceRatio: config.traceRatio,
      packetCacheMaxEntries: config.packetCacheMaxEntries,
      onEvent: gm.onEvent,
    });
    metrics.gauge({ name: 'cdn_dns_cache_entries', help: 'Entries in the answer cache', collect() { this.set(cache.size); } });
    metrics.gauge({ name: 'cdn_dns_packet_cache_entries', help: 'Whole UDP replies kept by query bytes (the packet cache in front of the answer cache)', collect() { this.set(handler.packetCacheSize); } });
    metrics.gauge({ name: 'cdn_dns_decisions_pending', help: 'Queries waiting for a decision', collect() { this.set(decisions.pending); } });
    const startUdp = (port: number) =>
      startUdpServer({
        host: config.dnsHost,
        port,
        handler,
        rateLimiter: createRateLimiter({ ratePerS: config.rrlRate, slip: config.rrlSlip }),
        onRateLimited: gm.onRateLimited,
        onDrop: (reason, error) => {
          gm.onDrop(reason);
          if (error) logger.debug({ err: error }, 'udp reply failed');
        },
      });
    const startTcp = (port: number) =>
      startTcpServer({
        host: config.dnsHost,
        port,
        handler,
        idleTimeoutMs: config.tcpIdleTimeoutMs,
        maxMessageBytes: config.tcpMaxMessageBytes,
        maxConnections: config.tcpMaxConnections,
        onConnectionError: (reason) => gm.onDrop(`tcp-${reason}`),
      });
    // With DNS_PORT=0 the TCP listener takes the port number the kernel gave the UDP socket; on a
    // busy machine another process may already hold that TCP port, so a new pair is drawn (a
    // fixed port has no such choice: its EADDRINUSE is the operator's to see).
    let udp = await startUdp(config.dnsPort);
    let tcp: Awaited<ReturnType<typeof startTcp>> | undefined;
    for (let attempt = 1; !tcp; attempt++) {
      try {
        tcp = await startTcp(udp.port);
      } catch (error) {
        if (config.dnsPort !== 0 || (error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 10) {
          await udp.close();
          throw error;
        }
        await udp.close();
        udp = await startUdp(0);
      }
    }
    const udpServer = udp;
    const tcpServer = tcp;
    shutdown.add('udp', () => udpServer.close());
    shutdown.add('tcp', () => tcpServer.close(1000));
    const upstreams = createUpstreams();
    upstreams.add({ name: 'config-watcher', target: () => config.configWatcher, state: () => domains.consumer.state, meanwhile: 'serving the last known domains', requiredForReady: 'configuration' });
    logger.info({ dns: `${config.dnsHost}:${udp.port}`, udpPort: udp.port, tcpPort: tcp.port, resolvers: config.resolvers, configWatcher: config.configWatcher }, 'dns-gateway listening');
    return {
      readiness: () => upstreams.readiness(),
    };
  },
});
