import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { deployRoot } from './render.js';

// The rules live once, in the PrometheusRule the overlays deploy; promtool reads plain rule files,
// so its groups are written to one beside a copy of the unit tests.
const rule = parse(readFileSync(join(deployRoot, 'k8s/base/prometheus-rule.yaml'), 'utf8')) as { spec: { groups: { name: string; rules: { alert?: string }[] }[] } };
const dir = mkdtempSync(join(tmpdir(), 'cdn-sched-rules-'));
writeFileSync(join(dir, 'rules.yaml'), stringify({ groups: rule.spec.groups }));
copyFileSync(join(deployRoot, 'monitoring/alerts.test.yaml'), join(dir, 'alerts.test.yaml'));

function promtool(args: string[]): { status: number | null; output: string } {
  const run = spawnSync('promtool', args, { cwd: dir, encoding: 'utf8' });
  if (run.error) throw new Error(`promtool is needed (Debian: apt-get install prometheus): ${run.error.message}`);
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe('alert rules', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('pass promtool check rules', () => {
    const { status, output } = promtool(['check', 'rules', 'rules.yaml']);
    expect(output).toMatch(/SUCCESS: \d+ rules found/);
    expect(status, output).toBe(0);
  });

  it('pass their promtool unit tests, and every alert has at least one', () => {
    const { status, output } = promtool(['test', 'rules', 'alerts.test.yaml']);
    expect(status, output).toBe(0);
    const tests = parse(readFileSync(join(dir, 'alerts.test.yaml'), 'utf8')) as { tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[] };
    const firing = new Set(tests.tests.flatMap((t) => (t.alert_rule_test ?? []).filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname)));
    const alerts = rule.spec.groups.flatMap((g) => g.rules.map((r) => r.alert)).filter((a): a is string => a !== undefined);
    expect(alerts).toEqual(expect.arrayContaining(['CdnConfigStale', 'CdnBreakerOpen', 'CdnTierWithoutHealthyCapacity', 'CdnResolverDegraded', 'CdnWeightLeaderMissing', 'CdnEventLoopDelay']));
    expect(alerts.filter((a) => !firing.has(a))).toEqual([]);
  });

  it('fail a unit test when a rule changes (the tests are not vacuous)', () => {
    const broken = structuredClone(rule.spec.groups);
    const stale = broken[0]!.rules.find((r) => r.alert === 'CdnConfigStale') as { expr: string };
    stale.expr = stale.expr.replaceAll('> 30', '> 300');
    writeFileSync(join(dir, 'rules.yaml'), stringify({ groups: broken }));
    try {
      const { status, output } = promtool(['test', 'rules', 'alerts.test.yaml']);
      expect(status).not.toBe(0);
      expect(output).toMatch(/alertname: CdnConfigStale/);
    } finally {
      writeFileSync(join(dir, 'rules.yaml'), stringify({ groups: rule.spec.groups }));
    }
  });
});
