import { execFile } from 'node:child_process';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEtcdClient, toText, type EtcdClient } from '@cdn-sched/etcd';
import { repoRoot, startEtcd, type EtcdProcess } from '@cdn-sched/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const bin = join(repoRoot, 'services', 'cdnctl', 'bin', 'cdnctl.js');

describe('cdnctl node/domain commands (the real CLI against a real etcd)', () => {
  let etcd: EtcdProcess;
  let client: EtcdClient;
  let dir: string;
  const run = (args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      const child = execFile(process.execPath, [bin, ...args], { env: { ...process.env, ETCD_ENDPOINTS: etcd.endpoint } }, (error, stdout, stderr) =>
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
      if (input !== undefined) child.stdin!.end(input);
    });
  const node = (id: string, extra: object = {}) => ({ id, address: '192.0.2.1', port: 443, country: 'CN', region: 'CN-GD', isp: 'ct', capacity: 1000, state: 'active', pools: ['music'], ...extra });

  beforeAll(async () => {
    etcd = await startEtcd();
    client = createEtcdClient({ endpoints: [etcd.endpoint] });
    dir = await mkdtemp(join(tmpdir(), 'cdnctl-'));
  });
  afterAll(async () => {
    client.close();
    await etcd.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('node put validates with the config-watcher validator and writes nothing when one document is bad', async () => {
    const file = join(dir, 'nodes.json');
    await writeFile(file, JSON.stringify([node('n1'), node('n2', { capacity: -3 })]));
    const bad = await run(['node', 'put', file]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/\/cdn\/nodes\/n2: .*capacity.*nothing written/);
    expect(await client.get('/cdn/nodes/n1')).toBeUndefined();

    const ok = await run(['node', 'put', '-', '--json'], JSON.stringify([node('n1'), node('n2')]));
    expect(ok.code).toBe(0);
    const lines = ok.stdout.trim().split('\n').map((l) => JSON.parse(l) as { key: string; revision: number; written: boolean });
    expect(lines.map((l) => l.key)).toEqual(['/cdn/nodes/n1', '/cdn/nodes/n2']);
    expect(lines.every((l) => l.written && l.revision > 0)).toBe(true);
  });

  it('node list shows documents and rejections; drain compares-and-swaps; rm deletes', async () => {
    await client.put('/cdn/nodes/broken', '{"id":"broken"');
    const list = await run(['node', 'list', '--json']);
    expect(list.code).toBe(0);
    const rows = list.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows.find((r) => r['key'] === '/cdn/nodes/broken')?.['rejected']).toMatch(/JSON/);
    expect(rows.find((r) => r['id'] === 'n1')).toMatchObject({ capacity: 1000, state: 'active' });

    const drain = await run(['node', 'drain', 'n1', '--json']);
    expect(drain.code).toBe(0);
    expect(JSON.parse(drain.stdout)).toMatchObject({ key: '/cdn/nodes/n1', state: 'drain' });
    const stored = JSON.parse(toText((await client.get('/cdn/nodes/n1'))!.value)) as Record<string, unknown>;
    expect(stored['state']).toBe('drain');
    expect(stored['capacity']).toBe(1000);

    expect((await run(['node', 'drain', 'nope'])).stderr).toMatch(/not found/);
    expect((await run(['node', 'rm', 'n2'])).code).toBe(0);
    expect(await client.get('/cdn/nodes/n2')).toBeUndefined();
    expect((await run(['node', 'rm', 'n2'])).code).toBe(1);
  });

  it('domain put/list/rm, and --help on every command', async () => {
    const policy = { domain: 'music.demo.example', pool: 'music', answers: 2, ttl: 30, strategy: 'consistent', fallback: ['isp+region', 'region', 'any'] };
    expect((await run(['domain', 'put', '-'], JSON.stringify(policy))).code).toBe(0);
    const list = await run(['domain', 'list', '--json']);
    expect(JSON.parse(list.stdout.trim())).toMatchObject({ domain: 'music.demo.example', strategy: 'consistent', answers: 2 });
    const typo = await run(['domain', 'put', '-'], JSON.stringify({ ...policy, strategy: 'random' }));
    expect(typo.code).toBe(1);
    expect(typo.stderr).toMatch(/strategy/);
    expect((await run(['domain', 'rm', 'music.demo.example'])).code).toBe(0);

    const help = await run(['--help']);
    expect(help.code).toBe(0);
    for (const cmd of ['node put', 'node list', 'node drain', 'node rm', 'domain put', 'domain list', 'domain rm', 'resolve', 'weights', 'status', 'probe-status', 'replay', 'load', 'gen-queries', 'mesh']) {
      expect(help.stdout).toContain(cmd);
      const one = await run([...cmd.split(' '), '--help']);
      expect(one.code).toBe(0);
      expect(one.stdout).toMatch(/^Usage: cdnctl /);
    }
  });

  it('a failed resolve exits non-zero with the gRPC status', async () => {
    const res = await run(['resolve', '1.0.8.1', 'music.demo.example', '--resolver', '127.0.0.1:1']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/UNAVAILABLE/);
  });
});
