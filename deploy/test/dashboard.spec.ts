import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { deployRoot } from './render.js';

interface Panel {
  id: number;
  title: string;
  datasource?: { uid: string };
  targets: { refId: string; expr: string }[];
}
const dashboard = JSON.parse(readFileSync(join(deployRoot, 'monitoring/grafana-dashboard.json'), 'utf8')) as { uid: string; panels: Panel[] };

describe('Grafana dashboard', () => {
  it('has the panels operators need, each with a unique id and the dashboard data source', () => {
    const titles = dashboard.panels.map((p) => p.title);
    for (const wanted of [/decisions\/s by tier/i, /p99/i, /healthy capacity per tier/i, /probe results/i, /weights/i, /staleness/i, /breakers/i, /event-loop delay/i]) {
      expect(titles.some((t) => wanted.test(t)), String(wanted)).toBe(true);
    }
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
    for (const p of dashboard.panels) {
      expect(p.datasource?.uid, p.title).toBe('${datasource}');
      expect(p.targets.length, p.title).toBeGreaterThan(0);
    }
  });

  it('has only expressions that parse as PromQL (promtool check rules on them as recording rules)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cdn-sched-dashboard-'));
    try {
      const rules = dashboard.panels.flatMap((p) => p.targets.map((t) => ({ record: `dashboard:panel_${p.id}_${t.refId}`, expr: t.expr })));
      writeFileSync(join(dir, 'dashboard.rules.yaml'), stringify({ groups: [{ name: 'dashboard', rules }] }));
      const run = spawnSync('promtool', ['check', 'rules', 'dashboard.rules.yaml'], { cwd: dir, encoding: 'utf8' });
      if (run.error) throw new Error(`promtool is needed (Debian: apt-get install prometheus): ${run.error.message}`);
      expect(run.status, `${run.stdout}${run.stderr}`).toBe(0);
      expect(run.stdout).toContain(`SUCCESS: ${rules.length} rules found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
