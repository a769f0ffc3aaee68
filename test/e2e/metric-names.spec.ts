import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, Scrape, type LabelMatch } from '@cdn-sched/testing';
import { serviceDefinitions } from '@cdn-sched/proto';
import { createChannel, createClient, Status, type Channel } from 'nice-grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { E2E_TLS, startMesh, type Mesh } from '../support/mesh.js';
import { metricNamesIn } from '../support/promql-names.js';
import { CLIENTS, LIVE, MUSIC } from '../support/topology.js';

/** Every PromQL expression the deployment ships: alert rules, dashboard panels, adapter rules. */
function shippedExpressions(): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  const rule = parseAllDocuments(readFileSync(join(repoRoot, 'deploy/k8s/base/prometheus-rule.yaml'), 'utf8'))[0]!.toJSON() as {
    spec: { groups: { rules: { alert?: string; record?: string; expr: string }[] }[] };
  };
  for (const g of rule.spec.groups) for (const r of g.rules) out.push({ where: `alert ${r.alert ?? r.record}`, expr: r.expr });
  const dashboard = JSON.parse(readFileSync(join(repoRoot, 'deploy/monitoring/grafana-dashboard.json'), 'utf8')) as {
    panels: { title: string; targets?: { expr: string }[] }[];
    templating?: { list: { name: string; query?: string | { query: string } }[] };
  };
  for (const p of dashboard.panels) for (const t of p.targets ?? []) out.push({ where: `panel "${p.title}"`, expr: t.expr });
  for (const v of dashboard.templating?.list ?? []) {
    const q = typeof v.query === 'string' ? v.query : v.query?.query;
    if (q) out.push({ where: `variable ${v.name}`, expr: q });
  }
  const adapter = parseAllDocuments(readFileSync(join(repoRoot, 'deploy/monitoring/prometheus-adapter-values.yaml'), 'utf8'))[0]!.toJSON() as {
    rules: { custom: { seriesQuery: string; metricsQuery: string }[] };
  };
  for (const r of adapter.rules.custom) out.push({ where: `adapter rule ${r.seriesQuery}`, expr: r.seriesQuery });
  return out;
}

// dns-gateway is not part of this mesh; its metric is checked against its own scrape when it is.
const NOT_IN_THIS_MESH = new Set(['cdn_dns_queries_total']);

describe('metric names: real scrapes of every service against the shipped dashboard and alerts', () => {
  let mesh: Mesh;
  const scrapes = new Map<string, string>();

  beforeAll(async () => {
    mesh = await startMesh({ probers: 1 });
    await mesh.waitHealthy();
    const client = mesh.resolverClient();
    // Decisions of three kinds, so the decision counter has answered, degraded and error series.
    for (let i = 0; i < 20; i++) await client.resolve({ queryId: BigInt(i), clientIp: CLIENTS.gdCt.ip, domain: MUSIC });
    for (let i = 0; i < 5; i++) await client.resolve({ queryId: BigInt(100 + i), clientIp: CLIENTS.de.ip, domain: LIVE });
    await expect(client.resolve({ queryId: 999n, clientIp: CLIENTS.gdCt.ip, domain: 'nowhere.e2e.example' })).rejects.toMatchObject({ code: Status.NOT_FOUND });
    for (const s of mesh.services) {
      const line = await s.process.waitForLog('metrics server listening');
      const res = await fetch(`${String(line['metrics'])}/metrics`, { signal: AbortSignal.timeout(5000) });
      expect(res.status).toBe(200);
      scrapes.set(s.kind, await res.text());
    }
  });
  afterAll(async () => {
    await mesh?.close();
  });

  it('passes promtool check metrics on the scrape of each service', () => {
    expect([...scrapes.keys()].sort()).toEqual(['config-watcher', 'prober', 'resolver', 'weight-calculator']);
    for (const [service, text] of scrapes) {
      const run = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      expect(run.error, 'promtool on PATH (Debian: apt-get install prometheus)').toBeUndefined();
      expect(`${run.stdout}${run.stderr}`.trim(), `promtool check metrics on ${service}`).toBe('');
      expect(run.status, service).toBe(0);
    }
  });

  it('counts decisions by outcome, tier and reason', () => {
    const resolver = Scrape.parse(scrapes.get('resolver')!);
    const value = (labels: LabelMatch): number => resolver.value('cdn_resolver_decisions_total', labels) ?? 0;
    expect(value({ outcome: 'ok', tier: 'isp+region', reason: 'tier' })).toBeGreaterThanOrEqual(20);
    expect(value({ outcome: 'degraded', tier: 'any', reason: 'outside_chain' })).toBeGreaterThanOrEqual(5);
    expect(value({ outcome: 'error', tier: 'none', reason: 'not_found' })).toBe(1);
    expect(resolver.value('cdn_resolver_request_duration_seconds_count', { method: 'resolve' })).toBeGreaterThan(0);
    expect(resolver.select('cdn_resolver_capacity_rps', { pool: 'music', health: 'up' }).some((x) => x.value >= 1)).toBe(true);
  });

  // The suite's mutual-TLS pass really is one: each service process refuses a plaintext client
  // and answers the mesh's client certificate (the other specs of the pass then ran over mTLS).
  it.runIf(E2E_TLS)('mutual-TLS pass: every service refuses a plaintext client and answers the mesh certificate', async () => {
    const definition = { 'config-watcher': 'configWatcher', prober: 'prober', 'weight-calculator': 'weightCalculator', resolver: 'resolver' } as const;
    const channels: Channel[] = [];
    try {
      for (const s of mesh.services) {
        const statusOver = (channel: Channel) => {
          channels.push(channel);
          return createClient(serviceDefinitions[definition[s.kind]] as typeof serviceDefinitions.resolver, channel).status({}, { signal: AbortSignal.timeout(10_000) });
        };
        await expect(statusOver(createChannel(s.address)), `${s.name}: plaintext`).rejects.toMatchObject({ code: Status.UNAVAILABLE });
        expect((await statusOver(mesh.connect(s.address))).ready, `${s.name}: mesh certificate`).toBe(true);
      }
    } finally {
      for (const c of channels) c.close();
    }
  });

  it('every metric the dashboard, the alert rules and the adapter read is in a real scrape', () => {
    const known = new Set<string>();
    for (const text of scrapes.values()) for (const name of Scrape.parse(text).names()) known.add(name);
    const missing: string[] = [];
    const expressions = shippedExpressions();
    expect(expressions.length).toBeGreaterThan(20);
    for (const { where, expr } of expressions) {
      for (const name of metricNamesIn(expr)) if (!known.has(name) && !NOT_IN_THIS_MESH.has(name)) missing.push(`${where}: ${name}`);
    }
    expect(missing).toEqual([]);
  });
});
