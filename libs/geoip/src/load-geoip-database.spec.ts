import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { GeoIpError } from './geoip-error.js';
import { formatIpv4 } from './ipv4.js';
import { defaultDatabasePath, detectGeoIpFormat, loadGeoIpDatabase, parseGeoIpDatabase, resolveDatabasePath } from './load-geoip-database.js';

const TEXT = ['0.0.0.0|0.255.255.255|0|0|0|内网IP|内网IP', '1.0.0.0|1.0.0.255|澳大利亚|0|0|0|0', '1.0.1.0|255.255.255.255|中国|0|广东省|深圳市|电信'].join('\n');
const MMDB = readFileSync('/work/shared/data/maxmind/GeoIP2-City-Test.mmdb');
const XDB_HEAD = Buffer.alloc(256 + 524288 + 14);
XDB_HEAD.writeUInt16LE(2, 0);
XDB_HEAD.writeUInt32LE(256 + 524288, 8);
XDB_HEAD.writeUInt32LE(256 + 524288, 12);

const dir = mkdtempSync(join(tmpdir(), 'geoip-load-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: Uint8Array | string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe('database paths', () => {
  it('ships the default database beside the module', () => {
    expect(defaultDatabasePath()).toMatch(/libs\/geoip\/data\/ip2region\.txt\.gz$/);
    expect(existsSync(defaultDatabasePath())).toBe(true);
  });

  it('prefers GEOIP_DB when set', () => {
    expect(resolveDatabasePath({ GEOIP_DB: '/srv/geo/city.mmdb' })).toBe('/srv/geo/city.mmdb');
    expect(resolveDatabasePath({ GEOIP_DB: '  ' })).toBe(defaultDatabasePath());
    expect(resolveDatabasePath({})).toBe(defaultDatabasePath());
  });
});

describe('detectGeoIpFormat', () => {
  it('goes by extension when there is one', () => {
    expect(detectGeoIpFormat(Buffer.from(TEXT), 'a.mmdb')).toBe('mmdb');
    expect(detectGeoIpFormat(Buffer.from(TEXT), 'A.XDB')).toBe('ip2region-xdb');
    expect(detectGeoIpFormat(MMDB, 'ip.merge.txt.gz')).toBe('ip2region-text');
  });

  it('goes by content otherwise', () => {
    expect(detectGeoIpFormat(MMDB, 'geo.db')).toBe('mmdb');
    expect(detectGeoIpFormat(XDB_HEAD, 'geo.db')).toBe('ip2region-xdb');
    expect(detectGeoIpFormat(Buffer.from(TEXT), 'geo.db')).toBe('ip2region-text');
    expect(() => detectGeoIpFormat(Buffer.from('hello world'), 'geo.db')).toThrow(
      'geo.db: unrecognised database format (expected ip2region text, ip2region .xdb or MaxMind .mmdb)',
    );
  });

  it('makes an extension that lies fail with the real problem', () => {
    expect(() => parseGeoIpDatabase(Buffer.from(TEXT), 'fake.mmdb')).toThrow('fake.mmdb: no MaxMind DB metadata marker');
  });
});

describe('loadGeoIpDatabase', () => {
  it('loads plain and gzipped text, and gzipped mmdb', async () => {
    for (const path of [file('plain.txt', TEXT), file('zipped.txt.gz', gzipSync(TEXT)), file('noext', gzipSync(TEXT))]) {
      const db = await loadGeoIpDatabase(path);
      expect(db.source).toBe(path);
      expect(db.lookup('1.0.1.1')).toMatchObject({ country: 'CN', region: 'CN-GD', isp: 'ct' });
    }
    const mmdb = await loadGeoIpDatabase(file('city.mmdb.gz', gzipSync(MMDB)));
    expect(mmdb.format).toBe('mmdb');
    expect(mmdb.lookup('2001:218::1').country).toBe('JP');
  });

  it('refuses a truncated gzip file', async () => {
    const gz = gzipSync(TEXT);
    const error = await rejection(loadGeoIpDatabase(file('cut.txt.gz', gz.subarray(0, gz.length - 12))));
    expect(error).toBeInstanceOf(GeoIpError);
    expect((error as GeoIpError).code).toBe('EGEOIP_FORMAT');
    expect(error.message).toMatch(/cut\.txt\.gz: corrupt or truncated gzip data \(unexpected end of file\)$/);
    expect(() => parseGeoIpDatabase(gz.subarray(0, 30), 'cut.txt.gz')).toThrow(/corrupt or truncated gzip data/);
  });

  it('refuses more decompressed data than allowed', async () => {
    const error = await rejection(loadGeoIpDatabase(file('bomb.txt.gz', gzipSync(TEXT)), { maxDecompressedBytes: 50 }));
    expect(error.message).toMatch(/bomb\.txt\.gz: corrupt or truncated gzip data \(.*(buffer|length).*\)/i);
  });

  it('reports a missing file as an I/O error', async () => {
    const error = await rejection(loadGeoIpDatabase(join(dir, 'missing.txt')));
    expect((error as GeoIpError).code).toBe('EGEOIP_IO');
    expect(error.message).toBe(`${join(dir, 'missing.txt')}: cannot read the database file (ENOENT)`);
  });

  it('yields to the event loop between slices', async () => {
    const lines = ['0.0.0.0|0.255.255.255|0|0|0|0|0'];
    for (let i = 0; i < 1_000; i++) lines.push(`${formatIpv4(0x01000000 + i * 256)}|${formatIpv4(0x01000000 + i * 256 + 255)}|美国|0|0|0|${i % 2 === 0 ? '0' : 'Level3'}`);
    lines.push(`${formatIpv4(0x01000000 + 1_000 * 256)}|255.255.255.255|0|0|0|0|0`);
    const path = file('sliced.txt', lines.join('\n'));
    let turns = 0;
    const ticker = (): void => {
      turns++;
      if (!done) setImmediate(ticker);
    };
    let done = false;
    setImmediate(ticker);
    const db = await loadGeoIpDatabase(path, { recordsPerSlice: 50 });
    done = true;
    expect(db.stats().sourceRangeCount).toBe(1_002);
    // 1,002 lines in slices of 50: the loop got control at least ~20 times during the parse.
    expect(turns).toBeGreaterThanOrEqual(20);
  });

  it('stops when aborted', async () => {
    const error = await rejection(loadGeoIpDatabase(file('abort.txt', TEXT), { signal: AbortSignal.abort() }));
    expect(error.name).toBe('AbortError');
  });
});
