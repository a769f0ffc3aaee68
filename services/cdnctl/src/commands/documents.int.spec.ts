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
    expect(bad.stderr).toMatch(/\/cdn\/nodes\/n2 \(document 2 of 2\): .*capacity.*nothing written/);
    expect(await client.get('/cdn/nodes/n1')).toBeUndefined();

    const ok = await run(['node', 'put', '-', '--json'], JSON.stringify([node('n1'), node('n2')]));
    expect(ok.code).toBe(0);
    const lines = ok.stdout.trim().split('\n').map((l) => JSON.parse(l) as { key: string; revision: number; written: boolean });
    expect(lines.map((l) => l.key)).toEqual(['/cdn/nodes/n1', '/cdn/nodes/n2']);
    expect(lines.every((l) => l.written && l.revision > 0)).toBe(true);
  });

  it('node put of several documents is one etcd transaction: one revision for all, nothing when one is invalid', async () => {
    const before = await client.revision();
    const invalid = await run(['node', 'put', '-'], JSON.stringify([node('t1'), node('t2'), node('t3', { state: 'gone' })]));
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/\/cdn\/nodes\/t3 \(document 3 of 3\): .*state.*nothing written/);
    expect(await client.revision()).toBe(before);
    expect((await client.list('/cdn/nodes/t')).kvs).toEqual([]);

    const ok = await run(['node', 'put', '-', '--json'], JSON.stringify([node('t1'), node('t2'), node('t3')]));
    expect(ok.code).toBe(0);
    const revisions = ok.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { revision: number }).revision);
    // One transaction: one new store revision, and every key modified at it.
    expect(revisions).toEqual([before + 1, before + 1, before + 1]);
    const { kvs } = await client.list('/cdn/nodes/t');
    expect(kvs.map((kv) => [kv.key, kv.modRevision])).toEqual([['/cdn/nodes/t1', before + 1], ['/cdn/nodes/t2', before + 1], ['/cdn/nodes/t3', before + 1]]);
    for (const id of ['t1', 't2', 't3']) await client.delete(`/cdn/nodes/${id}`);
  });

  it('a transaction etcd refuses (more operations than --max-txn-ops) writes nothing and says why', async () => {
    const before = await client.revision();
    const many = Array.from({ length: 129 }, (_, i) => node(`bulk-${i}`));
    const refused = await run(['node', 'put', '-'], JSON.stringify(many));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/etcd refused the transaction of 129 document\(s\), nothing written: .*too many operations.*max-txn-ops/);
    expect(await client.revision()).toBe(before);
    expect((await client.list('/cdn/nodes/bulk-')).kvs).toEqual([]);
  });

  it('refuses JSON with a duplicate property (JSON.parse would keep the last) naming it and its position', async () => {
    const before = await client.revision();
    const text = '[{"id":"d1","address":"192.0.2.1","port":443,"country":"CN","region":"CN-GD","isp":"ct","capacity":1000,"state":"active","pools":["music"],"state":"drain"}]';
    const dup = await run(['node', 'put', '-'], text);
    expect(dup.code).toBe(1);
    const position = text.lastIndexOf('"state"');
    expect(dup.stderr).toContain(`standard input: invalid JSON at position ${position} (line 1, column ${position + 1}): duplicate property "[0].state" (nothing written)`);
    expect(await client.revision()).toBe(before);
    const twice = await run(['node', 'put', '-'], JSON.stringify([node('d1'), node('d1')]));
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/\/cdn\/nodes\/d1 appears twice in the input/);
  });

  it('an unknown flag is a usage error (exit 2) with the nearest known flag', async () => {
    const typo = await run(['node', 'list', '--jsno']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('cdnctl node list: unknown flag --jsno; did you mean --json?');
    const endpointTypo = await run(['node', 'list', '--etcd-endpoint', etcd.endpoint]);
    expect(endpointTypo.code).toBe(2);
    expect(endpointTypo.stderr).toContain('did you mean --etcd-endpoints?');
    const resolveTypo = await run(['resolve', '1.0.8.1', 'music.demo.example', '--answer', '2']);
    expect(resolveTypo.code).toBe(2);
    expect(resolveTypo.stderr).toContain('unknown flag --answer; did you mean --answers?');
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
