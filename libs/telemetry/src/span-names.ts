/**
 * Span names and attribute keys of the design, in one place so every service names the same
 * operation the same way and a trace search for `cdn.edge.select` finds them all.
 *
 * Names follow the OpenTelemetry naming guidance: low cardinality (no ids or domains in a span
 * name), dot-separated namespaces. Values that vary per request go in attributes.
 */
export const SpanNames = {
  /** One routing decision, from request to answer (resolver, Resolve / ResolveStream item). */
  request: 'cdn.request',
  /** Choosing edges inside the fallback chain: tier walk plus weighted pick (resolver). */
  edgeSelect: 'cdn.edge.select',
  /** Turning probe results into a node's health state (weight-calculator). */
  originHealth: 'cdn.origin.health',
  /** Applying a config snapshot or delta from config-watcher (every consumer). */
  configApply: 'cdn.config.apply',
  /** Applying a weight snapshot or delta from weight-calculator (resolver). */
  weightsApply: 'cdn.weights.apply',
  /** One health probe of one edge node (prober). */
  probe: 'cdn.probe',
  /** One ReportProbes batch sent, linked to the sampled probes in it (prober). */
  probeReport: 'cdn.probe.report',
  /** One ReportProbes batch received and ingested, linked to the prober's batch (weight-calculator). */
  probesIngest: 'cdn.probes.ingest',
  /** One weight version committed, linked to the ingested batches since the last (weight-calculator). */
  weightsPublish: 'cdn.weights.publish',
  /** One config version committed from etcd, linked to the writes it holds (config-watcher). */
  configPublish: 'cdn.config.publish',
  /** One configuration write (one etcd transaction) by an operator (cdnctl). */
  configWrite: 'cdn.config.write',
  /** One DNS question for a policy name, from packet to reply (dns-gateway). */
  dnsQuery: 'cdn.dns.query',
  /** One ResolveStream batch of decisions, linked to the DNS queries it carries (dns-gateway). */
  dnsDecisionBatch: 'cdn.dns.decision_batch',
} as const;

/** One of the span names of {@link SpanNames}. */
export type SpanName = (typeof SpanNames)[keyof typeof SpanNames];

/**
 * Attribute keys of the design's spans. `cdn.*` describes the request and its policy, `edge.*` the
 * edge selection; standard keys (rpc.*, server.address, ...) come from
 * `@opentelemetry/semantic-conventions` and are not repeated here.
 */
export const SpanAttributes = {
  /** ISO 3166-2 region of the client ("CN-GD"), empty when unknown. */
  userRegion: 'cdn.user_region',
  /** ISO 3166-1 alpha-2 country of the client ("CN"). */
  userCountry: 'cdn.user_country',
  /** ISP code of the client ("ct", "cu", ...). */
  isp: 'cdn.isp',
  /** Domain the decision is for ("img.example.com"). */
  domain: 'cdn.domain',
  /** Pool of nodes the domain routes to. */
  pool: 'cdn.pool',
  /** Fallback tier that produced the answer ("isp+region", ..., "any"). */
  tier: 'cdn.tier',
  /** Pick strategy of the domain ("weighted" | "consistent"). */
  strategy: 'cdn.strategy',
  /** True when the answer came from last-known-good or all-down state. */
  degraded: 'cdn.degraded',
  /** Number of candidate edges in the tier that answered. */
  candidateCount: 'edge.candidate_count',
  /** Id of the selected edge (the first answer). */
  selectedId: 'edge.selected_id',
  /** Id of the node a probe or health evaluation is about. */
  nodeId: 'cdn.node_id',
  /** Config version (etcd revision) applied or served. */
  configVersion: 'cdn.config.version',
  /** Weight stream version applied or served. */
  weightsVersion: 'cdn.weights.version',
  /** True when the applied update was a full snapshot rather than a delta. */
  snapshot: 'cdn.snapshot',
  /** Number of documents rejected in an applied config update. */
  rejectedCount: 'cdn.config.rejected_count',
  /** Probe round trip (the probe's total time), milliseconds. */
  probeRttMs: 'cdn.probe.rtt_ms',
  /** Id of the prober that sent a batch or ran a probe. */
  proberId: 'cdn.prober_id',
  /** Items in one streamed batch (queries, probe results, changes). */
  batchSize: 'cdn.batch_size',
  /** Probe kind ("http" | "tcp"). */
  probeType: 'cdn.probe.type',
  /** Probe outcome class ("up", or an error class such as "timeout", "refused"). */
  probeOutcome: 'cdn.probe.outcome',
  /** Health state after evaluation ("up", "down", ...). */
  healthState: 'cdn.health.state',
} as const;

/** One of the attribute keys of {@link SpanAttributes}. */
export type SpanAttributeKey = (typeof SpanAttributes)[keyof typeof SpanAttributes];
