import { startMeshDnsGateway, type MeshDnsGateway } from '@cdn-sched/local-mesh';
import { waitFor } from '@cdn-sched/testing';
import { SpanKind, TraceFlags } from '@opentelemetry/api';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCdnctl } from '../support/cdnctl.js';
import { dig } from '../support/dig.js';
import { startMesh, type Mesh } from '../support/mesh.js';
import { decodeTraceExport, startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.js';
import { CLIENTS, DOMAINS, EDGES, MUSIC } from '../support/topology.js';

// Traces across the mesh: every service exports to an OTLP/HTTP receiver in this process, every
// root is sampled (OTEL_TRACES_SAMPLER_ARG=1, TRACE_RATIO=1), and the test follows span links from
// a decision back to the probes and the config change behind it. It asserts structure (names,
// attributes, links), never timing: spans are awaited with generous deadlines.

const SERVICES = ['config-watcher', 'prober', 'weight-calculator', 'resolver'] as const;

function tracingEnv(otlp: OtlpReceiver, service: string): Record<string, string> {
  return {
    OTEL_SERVICE_NAME: service,
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
    OTEL_TRACES_SAMPLER_ARG: '1',
    // Export every 200 ms instead of every 5 s, so the test waits less (the SDK reads this variable).
    OTEL_BSP_SCHEDULE_DELAY: '200',
    TRACE_RATIO: '1',
  };
}

describe("the test's OTLP decoder", () => {
  it("reads back what the exporter's own serializer writes: names, kinds, ids, attributes, links, service", async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const tracer = provider.getTracer('oracle');
    const linkedTo = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.SAMPLED };
    tracer.startSpan('cdn.probe', { kind: SpanKind.CLIENT, attributes: { 'cdn.node_id': 'e1', 'cdn.probe.rtt_ms': 1.5, 'cdn.config.version': 42, ok: true } }).end();
    tracer.startSpan('cdn.request', { links: [{ context: linkedTo, attributes: { 'cdn.weights.version': 7 } }] }).end();
    await provider.forceFlush();
    const spans = exporter.getFinishedSpans();
    const decoded = decodeTraceExport(ProtobufTraceSerializer.serializeRequest(spans)!);
    expect(decoded).toEqual(
      spans.map((s) => ({
        service: String(s.resource.attributes['service.name']),
        traceId: s.spanContext().traceId,
        spanId: s.spanContext().spanId,
        parentSpanId: '',
        name: s.name,
        // OTLP numbers kinds from 1 (SPAN_KIND_INTERNAL); the API from 0.
        kind: s.kind + 1,
        attributes: s.attributes,
        links: s.links.map((l) => ({ traceId: l.context.traceId, spanId: l.context.spanId, attributes: l.attributes ?? {} })),
      })),
    );
    await provider.shutdown();
  });
});

describe('traces across the mesh (OTLP receiver, real processes, real etcd)', () => {
  let otlp: OtlpReceiver;
  let mesh: Mesh;
  let gateway: MeshDnsGateway | undefined;

  const byId = (): Map<string, ReceivedSpan> => new Map(otlp.spans.map((s) => [s.spanId, s]));
  const named = (name: string): ReceivedSpan[] => otlp.spans.filter((s) => s.name === name);
  /** The spans `span` links to, among those received. */
  const linked = (span: ReceivedSpan, index = byId()): ReceivedSpan[] => span.links.flatMap((l) => index.get(l.spanId) ?? []);

  beforeAll(async () => {
    otlp = await startOtlpReceiver();
    mesh = await startMesh({
      probers: 1,
      env: Object.fromEntries(SERVICES.map((s) => [s, tracingEnv(otlp, s)])),
    });
    await mesh.waitHealthy({ timeoutMs: 120_000 });
  }, 240_000);

  afterAll(async () => {
    await gateway?.close();
    await mesh?.close();
    await otlp?.close();
  }, 60_000);

  /** A cdn.request at config version `version` linked to `publish`, once both have arrived. */
  const requestLinkedTo = (publish: ReceivedSpan, version: number): ReceivedSpan | undefined =>
    named('cdn.request').find((s) => s.attributes['cdn.config.version'] === version && s.links.some((l) => l.spanId === publish.spanId));

  // First, before any config change: the documents were seeded before the config-watcher started.
  it("a decision on the startup configuration links to the config-watcher's span for the startup list", async () => {
    const decided = await mesh.resolverClient().resolve({ clientIp: CLIENTS.gdCt.ip, domain: MUSIC });
    const version = Number(decided.configVersion);
    let publish: ReceivedSpan | undefined;
    let request: ReceivedSpan | undefined;
    await waitFor(
      () => {
        publish = named('cdn.config.publish').find((s) => s.attributes['cdn.config.version'] === version);
        request = publish && requestLinkedTo(publish, version);
        return request !== undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, message: `cdn.config.publish of the startup version ${version} and a cdn.request linked to it` },
    );
    expect(publish!.service).toBe('config-watcher');
    // The whole seeded configuration, as one snapshot, caused by no write the config-watcher saw.
    expect(publish!.attributes).toMatchObject({ 'cdn.snapshot': true, 'cdn.batch_size': EDGES.length + DOMAINS.length });
    expect(publish!.links).toEqual([]);
    expect(request!.links.find((l) => l.spanId === publish!.spanId)!.attributes['cdn.config.version']).toBe(version);
  }, 120_000);

  it('probe spans carry node, protocol, outcome and rtt, and reach the decision through span links', async () => {
    // Decisions spread over a few probe rounds: each links to the weight version it used.
    const client = mesh.resolverClient();
    for (let i = 0; i < 10; i++) {
      const r = await client.resolve({ clientIp: CLIENTS.gdCt.ip, domain: MUSIC });
      expect(r.answers.length).toBeGreaterThan(0);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }

    // A decision whose chain is complete: cdn.request → cdn.weights.publish → cdn.probes.ingest →
    // cdn.probe.report → cdn.probe (each arrow a link; the spans come from four processes).
    let chain: { request: ReceivedSpan; publish: ReceivedSpan; ingest: ReceivedSpan; report: ReceivedSpan; probe: ReceivedSpan } | undefined;
    await waitFor(
      () => {
        const index = byId();
        for (const request of named('cdn.request')) {
          for (const publish of linked(request, index).filter((s) => s.name === 'cdn.weights.publish')) {
            for (const ingest of linked(publish, index).filter((s) => s.name === 'cdn.probes.ingest')) {
              for (const report of linked(ingest, index).filter((s) => s.name === 'cdn.probe.report')) {
                const probe = linked(report, index).find((s) => s.name === 'cdn.probe');
                if (probe) chain = { request, publish, ingest, report, probe };
              }
            }
          }
        }
        return chain !== undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, message: 'a decision linked through weights and probe reports to a probe span' },
    );
    const { request, publish, ingest, report, probe } = chain!;

    expect(otlp.errors).toEqual([]);
    expect(probe.service).toBe('prober');
    expect(EDGES.map((e) => e.id)).toContain(probe.attributes['cdn.node_id']);
    expect(probe.attributes).toMatchObject({ 'cdn.probe.type': 'http', 'cdn.probe.outcome': 'up' });
    expect(probe.attributes['cdn.probe.rtt_ms']).toBeTypeOf('number');
    expect(report.service).toBe('prober');
    expect(report.attributes['cdn.prober_id']).toBe(mesh.probers[0]!.name);
    expect(report.attributes['cdn.batch_size']).toBeGreaterThanOrEqual(report.links.length);
    expect(ingest.service).toBe('weight-calculator');
    expect(ingest.attributes['cdn.prober_id']).toBe(mesh.probers[0]!.name);
    expect(publish.service).toBe('weight-calculator');
    // The decision names the versions it used, and its link to the weight version's span is that version.
    expect(request.service).toBe('resolver');
    expect(request.attributes).toMatchObject({ 'cdn.domain': MUSIC, 'cdn.user_region': 'CN-GD', 'cdn.isp': 'ct' });
    expect(request.attributes['cdn.weights.version']).toBe(publish.attributes['cdn.weights.version']);
    expect(request.attributes['cdn.config.version']).toBeGreaterThan(0);
    const weightLink = request.links.find((l) => l.spanId === publish.spanId)!;
    expect(weightLink.attributes['cdn.weights.version']).toBe(request.attributes['cdn.weights.version']);
    // Batches are linked, never parented: no stream-long span holds them.
    for (const s of [publish, ingest, report]) expect(s.parentSpanId).toBe('');
    // Every probe span of the prober has the same attributes (one span per probe).
    for (const p of named('cdn.probe')) expect(Object.keys(p.attributes)).toEqual(expect.arrayContaining(['cdn.node_id', 'cdn.probe.type', 'cdn.probe.outcome', 'cdn.probe.rtt_ms']));
    // The resolver recorded applying that weight version, linked to the same producer.
    await waitFor(() => named('cdn.weights.apply').some((a) => a.links.some((l) => l.spanId === publish.spanId)), { timeoutMs: 30_000, intervalMs: 250, message: 'cdn.weights.apply of the version' });
  }, 120_000);

  it('a config put becomes a config version span that the next decision links to', async () => {
    const music = DOMAINS.find((d) => d.domain === MUSIC)!;
    const revision = await mesh.putDomain({ ...music, ttl: music.ttl + 1 });
    const client = mesh.resolverClient();
    // The decision that uses the new version: its answer's TTL is the new one.
    let decided: Awaited<ReturnType<typeof client.resolve>> | undefined;
    await waitFor(
      async () => {
        decided = await client.resolve({ clientIp: CLIENTS.gdCt.ip, domain: MUSIC });
        return decided.configVersion >= BigInt(revision);
      },
      { timeoutMs: 30_000, intervalMs: 250, message: `a decision at config version ${revision}` },
    );
    const version = Number(decided!.configVersion);

    let publish: ReceivedSpan | undefined;
    let request: ReceivedSpan | undefined;
    await waitFor(
      () => {
        publish = named('cdn.config.publish').find((s) => s.attributes['cdn.config.version'] === version);
        request = named('cdn.request').find((s) => s.attributes['cdn.config.version'] === version && s.links.some((l) => l.spanId === publish?.spanId));
        return request !== undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, message: `cdn.config.publish of version ${version} and a cdn.request linked to it` },
    );
    expect(publish!.service).toBe('config-watcher');
    expect(publish!.attributes['cdn.batch_size']).toBeGreaterThanOrEqual(1);
    expect(request!.links.find((l) => l.spanId === publish!.spanId)!.attributes['cdn.config.version']).toBe(version);
    // The resolver's apply span for that version links to the same producer.
    await waitFor(() => named('cdn.config.apply').some((a) => a.attributes['cdn.config.version'] === version && a.links.some((l) => l.spanId === publish!.spanId)), {
      timeoutMs: 30_000,
      intervalMs: 250, message: `cdn.config.apply of version ${version}`,
    });
  }, 120_000);

  it('a cdnctl write is traced through the config-watcher to the decision: cdn.config.write → cdn.config.publish → cdn.request', async () => {
    const env = { ...mesh.cdnctlEnv(), ...tracingEnv(otlp, 'cdnctl') };
    const client = mesh.resolverClient();
    /** The chain of one cdnctl write whose revision is `revision`, with a decision made on it. */
    const chainOf = async (revision: number, what: string) => {
      let decided: Awaited<ReturnType<typeof client.resolve>> | undefined;
      await waitFor(
        async () => {
          decided = await client.resolve({ clientIp: CLIENTS.gdCt.ip, domain: MUSIC });
          return decided.configVersion >= BigInt(revision);
        },
        { timeoutMs: 30_000, intervalMs: 250, message: `a decision at config version ${revision} (${what})` },
      );
      let chain: { write: ReceivedSpan; publish: ReceivedSpan; request: ReceivedSpan } | undefined;
      await waitFor(
        () => {
          const write = named('cdn.config.write').find((s) => s.attributes['cdn.config.version'] === revision);
          const publish = write && named('cdn.config.publish').find((s) => s.links.some((l) => l.spanId === write.spanId));
          const request = publish && requestLinkedTo(publish, Number(publish.attributes['cdn.config.version']));
          if (request) chain = { write: write!, publish: publish!, request };
          return chain !== undefined;
        },
        { timeoutMs: 60_000, intervalMs: 250, message: `cdn.config.write at ${revision} (${what}), the cdn.config.publish linked to it and a cdn.request linked to that` },
      );
      const { write, publish, request } = chain!;
      expect(write.service).toBe('cdnctl');
      expect(write.parentSpanId).toBe('');
      expect(write.attributes['cdn.batch_size']).toBe(1);
      expect(publish.service).toBe('config-watcher');
      expect(publish.parentSpanId).toBe('');
      expect(publish.attributes['cdn.snapshot']).toBe(false);
      // The version that holds the write: its revision, or a later one when etcd events were merged.
      expect(publish.attributes['cdn.config.version']).toBeGreaterThanOrEqual(revision);
      expect(request.service).toBe('resolver');
      expect(request.links.find((l) => l.spanId === publish.spanId)!.attributes['cdn.config.version']).toBe(publish.attributes['cdn.config.version']);
    };

    // node drain (a compare-and-swap transaction), then back to active.
    const edge = EDGES[EDGES.length - 1]!.id;
    const drained = await runCdnctl(['node', 'drain', edge, '--json'], env, 60_000);
    expect(drained.stderr).toBe('');
    expect(drained.code).toBe(0);
    await chainOf(Number(drained.json()[0]!['revision']), 'node drain');
    const undrained = await runCdnctl(['node', 'undrain', edge, '--json'], env, 60_000);
    expect(undrained.code).toBe(0);

    // domain put (one transaction of documents).
    const dir = mkdtempSync(join(tmpdir(), 'cdn-sched-traces-'));
    try {
      const music = DOMAINS.find((d) => d.domain === MUSIC)!;
      const file = join(dir, 'music.json');
      writeFileSync(file, JSON.stringify({ ...music, ttl: music.ttl + 2 }));
      const put = await runCdnctl(['domain', 'put', file, '--json'], env, 60_000);
      expect(put.stderr).toBe('');
      expect(put.code).toBe(0);
      await chainOf(Number(put.json()[0]!['revision']), 'domain put');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);

  it('a DNS query travels to the resolver as a batch: the resolver span links to the gateway batch span', async () => {
    gateway = await startMeshDnsGateway({
      common: mesh.serviceTlsEnv('dns-gateway-traces'),
      configWatcher: mesh.configWatcher.address,
      resolvers: mesh.resolvers.map((r) => r.address),
      env: { INSTANCE_ID: 'dns-gateway-traces', ...tracingEnv(otlp, 'dns-gateway') },
      startTimeoutMs: 120_000,
    });
    let answered = false;
    await waitFor(
      async () => {
        const reply = await dig('127.0.0.1', gateway!.dnsPort, MUSIC, [`+subnet=${CLIENTS.gdCt.ip}/24`]);
        answered = reply.status === 'NOERROR' && reply.answers.length > 0;
        return answered;
      },
      { timeoutMs: 30_000, intervalMs: 250, message: 'a DNS answer from the gateway' },
    );

    let query: ReceivedSpan | undefined;
    let batch: ReceivedSpan | undefined;
    let request: ReceivedSpan | undefined;
    await waitFor(
      () => {
        const index = byId();
        for (const r of named('cdn.request')) {
          const b = linked(r, index).find((s) => s.name === 'cdn.dns.decision_batch');
          const q = b && linked(b, index).find((s) => s.name === 'cdn.dns.query');
          if (b && q) [request, batch, query] = [r, b, q];
        }
        return request !== undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, message: 'cdn.request linked to cdn.dns.decision_batch linked to cdn.dns.query' },
    );
    expect(query!.service).toBe('dns-gateway');
    expect(query!.attributes['cdn.domain']).toBe(MUSIC);
    expect(batch!.service).toBe('dns-gateway');
    expect(request!.service).toBe('resolver');
    expect(request!.attributes['cdn.domain']).toBe(MUSIC);
    expect(request!.attributes['cdn.batch_size']).toBeGreaterThanOrEqual(1);
    // The resolver's batch span is not the child of a span in the gateway: a new trace, linked.
    expect(request!.parentSpanId).toBe('');
    expect(request!.traceId).not.toBe(batch!.traceId);
  }, 180_000);
});
