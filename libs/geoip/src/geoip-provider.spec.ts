import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { GeoIpError } from './geoip-error.js';
import { createGeoIpProvider, type GeoIpProvider, type GeoIpReloadEvent } from './geoip-provider.js';
import { formatIpv4 } from './ipv4.js';

const dir = mkdtempSync(join(tmpdir(), 'geoip-provider-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const open: GeoIpProvider[] = [];
afterEach(() => {
  for (const provider of open.splice(0)) provider.close();
});

/**
 * A valid ip2region text file: `extraRanges` /24s of 美国 first (ISP alternating unknown/Level3,
 * or Level3/unknown when `flip`), then everything else in `province` with `isp`.
 */
function database(province: string, isp: string, extraRanges = 0, flip = false): string {
  const lines = ['0.0.0.0|0.255.255.255|0|0|0|内网IP|内网IP'];
  for (let i = 0; i < extraRanges; i++) {
    const start = 0x01000000 + i * 256;
    lines.push(`${formatIpv4(start)}|${formatIpv4(start + 255)}|美国|0|0|0|${(i % 2 === 0) !== flip ? '0' : 'Level3'}`);
  }
  lines.push(`${formatIpv4(0x01000000 + extraRanges * 256)}|255.255.255.255|中国|0|${province}|0|${isp}`);
  return lines.join('\n');
}

let fileCount = 0;
function writeDb(content: string, name = `db-${++fileCount}.txt`): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

/** Atomic replace, the way a deploy should publish a new database. */
function replaceDb(path: string, content: string): void {
  writeFileSync(`${path}.tmp`, content);
  renameSync(`${path}.tmp`, path);
}

async function waitFor(predicate: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function provider(options: Parameters<typeof createGeoIpProvider>[0]): Promise<GeoIpProvider> {
  const p = await createGeoIpProvider(options);
  open.push(p);
  return p;
}

describe('createGeoIpProvider', () => {
  it('loads the file and reports the initial load', async () => {
    const events: GeoIpReloadEvent[] = [];
    const p = await provider({ path: writeDb(database('广东省', '电信')), onReload: (e) => events.push(e), now: () => 1_000 });
    expect(p.generation).toBe(1);
    expect(p.database.lookup('9.9.9.9')).toMatchObject({ country: 'CN', region: 'CN-GD', isp: 'ct' });
    expect(events).toHaveLength(1);
    expect(events[0]!.previous).toBeUndefined();
    expect(events[0]!.database).toBe(p.database);
    expect([events[0]!.generation, events[0]!.loadMs]).toEqual([1, 0]);
  });

  it('swaps a new database in on reload', async () => {
    const path = writeDb(database('广东省', '电信'));
    const events: GeoIpReloadEvent[] = [];
    const p = await provider({ path, onReload: (e) => events.push(e) });
    const first = p.database;
    replaceDb(path, database('北京市', '联通'));
    await expect(p.reload()).resolves.toBe(true);
    expect(p.generation).toBe(2);
    expect(p.database).not.toBe(first);
    expect(p.database.lookup('9.9.9.9')).toMatchObject({ region: 'CN-BJ', isp: 'cu' });
    expect(events[1]!.previous).toBe(first);
    expect(events[1]!.database).toBe(p.database);
    expect(events[1]!.generation).toBe(2);
  });

  it('keeps the old database when the new file is broken, and reports why', async () => {
    const path = writeDb(database('广东省', '电信'));
    const errors: GeoIpError[] = [];
    const logged: string[] = [];
    const logger = { info: () => undefined, error: (_fields: Record<string, unknown>, message: string) => logged.push(message) };
    const p = await provider({ path, logger, onError: (e) => errors.push(e) });
    const good = p.database;
    const broken = database('北京市', '联通').split('\n');
    broken[1] = '1.0.0.0|oops|中国|0|0|0|0';
    replaceDb(path, broken.join('\n'));
    await expect(p.reload()).resolves.toBe(false);
    expect(p.database).toBe(good);
    expect(p.generation).toBe(1);
    expect(p.database.lookup('9.9.9.9')).toMatchObject({ region: 'CN-GD', isp: 'ct' });
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toBe(`${path}: line 2: 'oops' is not an IPv4 address`);
    expect(logged).toEqual(['geoip database rejected; keeping the previous one']);
    // Truncated at a line boundary: also refused.
    replaceDb(path, database('北京市', '联通').split('\n')[0]!);
    await expect(p.reload()).resolves.toBe(false);
    expect(p.database).toBe(good);
    // Fixed: accepted.
    replaceDb(path, database('北京市', '联通'));
    await expect(p.reload()).resolves.toBe(true);
    expect(p.database.lookup('9.9.9.9')).toMatchObject({ region: 'CN-BJ' });
  });

  it('keeps the old database when the file disappears', async () => {
    const path = writeDb(database('广东省', '电信'));
    const errors: GeoIpError[] = [];
    const p = await provider({ path, onError: (e) => errors.push(e) });
    rmSync(path);
    await expect(p.reload()).resolves.toBe(false);
    expect(errors[0]!.code).toBe('EGEOIP_IO');
    expect(p.database.lookup('9.9.9.9').region).toBe('CN-GD');
  });

  it('queues one reload behind a running one, however many are asked for', async () => {
    const path = writeDb(database('广东省', '电信', 2_000));
    const p = await provider({ path, recordsPerSlice: 100 });
    const results = await Promise.all([p.reload(), p.reload(), p.reload(), p.reload()]);
    expect(results).toEqual([true, true, true, true]);
    // The first ran; the other three shared one queued load.
    expect(p.generation).toBe(3);
  });

  it('never lets a reader see a partial database during a reload', async () => {
    const path = writeDb(database('广东省', '电信', 3_000));
    const p = await provider({ path, recordsPerSlice: 100 });
    replaceDb(path, database('北京市', '联通', 3_000, true));
    const seen = new Set<string>();
    let polls = 0;
    let reloading = true;
    const poll = (): void => {
      polls++;
      const db = p.database;
      // The last range and the first merged range must agree within one snapshot.
      seen.add(`${db.lookup('200.1.1.1').region}/${db.lookup('1.0.1.1').isp}/${db.stats().sourceRangeCount}`);
      if (reloading) setImmediate(poll);
    };
    setImmediate(poll);
    await p.reload();
    reloading = false;
    expect(polls).toBeGreaterThan(10);
    // Only the two complete snapshots, never a mix; the new one once the reload is done.
    const before = 'CN-GD/level3/3002';
    const after = 'CN-BJ//3002';
    expect([...seen].filter((s) => s !== before && s !== after)).toEqual([]);
    expect(seen.has(before)).toBe(true);
    expect(p.database.lookup('1.0.1.1').isp).toBe('');
    expect(p.database.lookup('200.1.1.1').region).toBe('CN-BJ');
  });

  it('reloads when the watched file is replaced', async () => {
    const path = writeDb(database('广东省', '电信'));
    const events: GeoIpReloadEvent[] = [];
    const p = await provider({ path, watchFile: true, watchDebounceMs: 50, onReload: (e) => events.push(e) });
    replaceDb(path, database('四川省', '移动'));
    await waitFor(() => p.generation === 2);
    expect(p.database.lookup('9.9.9.9')).toMatchObject({ region: 'CN-SC', isp: 'cm' });
    // Other files in the directory do not trigger a reload.
    writeDb(database('上海', '电信'), 'unrelated.txt');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(p.generation).toBe(2);
    expect(events).toHaveLength(2);
  });

  it('stops reloading once closed', async () => {
    const path = writeDb(database('广东省', '电信'));
    const p = await provider({ path, watchFile: true, watchDebounceMs: 20 });
    p.close();
    p.close();
    replaceDb(path, database('四川省', '移动'));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(p.generation).toBe(1);
    await expect(p.reload()).resolves.toBe(false);
    expect(p.database.lookup('9.9.9.9').region).toBe('CN-GD');
  });

  it('closes when its signal aborts', async () => {
    const controller = new AbortController();
    const path = writeDb(database('广东省', '电信'));
    const p = await provider({ path, signal: controller.signal });
    controller.abort();
    replaceDb(path, database('四川省', '移动'));
    await expect(p.reload()).resolves.toBe(false);
  });

  it('fails to start without a valid database', async () => {
    await expect(createGeoIpProvider({ path: join(dir, 'nope.txt') })).rejects.toMatchObject({ code: 'EGEOIP_IO' });
    await expect(createGeoIpProvider({ path: writeDb('garbage|x') })).rejects.toBeInstanceOf(GeoIpError);
  });

  it('loads the shipped database by default', async () => {
    const p = await provider({});
    expect(p.path).toMatch(/data\/ip2region\.txt\.gz$/);
    expect(p.database.stats().sourceRangeCount).toBe(683_843);
  });
});
