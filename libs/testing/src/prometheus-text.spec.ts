import { Counter, Gauge, Histogram, Registry, Summary } from 'prom-client';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Scrape, scrape } from './prometheus-text.js';

/** A registry with every metric kind and label values that need escaping. */
async function oracleRegistry(): Promise<Registry> {
  const registry = new Registry();
  registry.setDefaultLabels({ service: 'oracle' });
  const counter = new Counter({ name: 'oracle_queries_total', help: 'queries', labelNames: ['qtype', 'note'], registers: [registry] });
  counter.inc({ qtype: 'A', note: 'plain' }, 3);
  counter.inc({ qtype: 'AAAA', note: 'a "quoted" back\\slash\nand newline' }, 2.5);
  counter.inc({ qtype: 'A', note: 'braces } and , commas' });
  const gauge = new Gauge({ name: 'oracle_temperature', help: 'with a negative value', registers: [registry] });
  gauge.set(-12.75);
  const nan = new Gauge({ name: 'oracle_nan', help: 'NaN', registers: [registry] });
  nan.set(Number.NaN);
  const histogram = new Histogram({ name: 'oracle_seconds', help: 'h', labelNames: ['kind'], buckets: [0.001, 0.5, 2], registers: [registry] });
  for (const v of [0.0005, 0.3, 0.4, 1, 5]) histogram.observe({ kind: 'minor' }, v);
  histogram.observe({ kind: 'major' }, 0.7);
  const summary = new Summary({ name: 'oracle_size_bytes', help: 's', percentiles: [0.5, 0.99], registers: [registry] });
  for (let i = 1; i <= 100; i++) summary.observe(i);
  return registry;
}

const key = (name: string, labels: Record<string, unknown>): string =>
  `${name}${JSON.stringify(Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, String(v)]).sort(([a], [b]) => a.localeCompare(b))))}`;

describe('Scrape (Prometheus text format) against prom-client', () => {
  it('reads back every sample prom-client renders, with the values and labels its JSON gives', async () => {
    const registry = await oracleRegistry();
    const parsed = Scrape.parse(await registry.metrics());
    const want = new Map<string, number>();
    for (const metric of await registry.getMetricsAsJSON()) {
      for (const v of metric.values as { value: number; labels: Record<string, unknown>; metricName?: string }[]) want.set(key(v.metricName ?? metric.name, { ...v.labels, service: 'oracle' }), v.value);
    }
    const got = new Map(parsed.samples.map((s) => [key(s.name, s.labels), s.value]));
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [k, v] of want) expect(got.get(k), k).toBe(v);
    expect(want.size).toBeGreaterThan(15);
  });

  it('sums, selects and reads histogram buckets by label', async () => {
    const parsed = Scrape.parse(await (await oracleRegistry()).metrics());
    expect(parsed.sum('oracle_queries_total')).toBe(6.5);
    expect(parsed.sum('oracle_queries_total', { qtype: 'A' })).toBe(4);
    expect(parsed.value('oracle_queries_total', { note: 'a "quoted" back\\slash\nand newline' })).toBe(2.5);
    expect(parsed.value('oracle_queries_total', { qtype: 'MX' })).toBeUndefined();
    expect(() => parsed.value('oracle_queries_total', { qtype: 'A' })).toThrow(/2 samples/);
    expect(parsed.value('oracle_temperature')).toBe(-12.75);
    expect(parsed.value('oracle_nan')).toBeNaN();
    expect(parsed.sum('oracle_seconds_count', { kind: 'minor' })).toBe(5);
    expect([...parsed.buckets('oracle_seconds', { kind: 'minor' })]).toEqual([
      [0.001, 1],
      [0.5, 3],
      [2, 4],
      [Number.POSITIVE_INFINITY, 5],
    ]);
    expect(parsed.buckets('oracle_seconds').get(2)).toBe(5);
    expect(parsed.names()).toContain('oracle_size_bytes_count');
  });

  it('takes timestamps, spaces in label lists and a trailing comma', () => {
    const parsed = Scrape.parse('# TYPE x counter\nx{ a = "1" , b="2", } 7 1700000000000\ny +Inf\n\n');
    expect(parsed.samples).toEqual([
      { name: 'x', labels: { a: '1', b: '2' }, value: 7 },
      { name: 'y', labels: {}, value: Number.POSITIVE_INFINITY },
    ]);
  });

  it('refuses a line that is not a sample, naming the line and what is wrong', () => {
    expect(() => Scrape.parse('ok 1\nbad{a="1" 2\n')).toThrow(/line 2 .*',' or '}' expected after label a/);
    expect(() => Scrape.parse('x{a="1\\q"} 1')).toThrow(/unknown escape \\q/);
    expect(() => Scrape.parse('x 1 2 3')).toThrow(/line 1 .*at most a timestamp/);
    expect(() => Scrape.parse('x one')).toThrow(/"one" is not a number/);
    expect(() => Scrape.parse('{a="1"} 1')).toThrow(/no metric name/);
  });

  it('scrapes a real HTTP endpoint, and says which one failed', async () => {
    const registry = await oracleRegistry();
    const server = createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      void registry.metrics().then((text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      expect((await scrape(`${base}/metrics`)).sum('oracle_queries_total')).toBe(6.5);
      await expect(scrape(`${base}/nothing`)).rejects.toThrow(/GET .*\/nothing: HTTP 404/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
