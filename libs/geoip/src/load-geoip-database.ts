import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gunzip as gunzipCallback, gunzipSync } from 'node:zlib';
import type { GeoIpDatabase, GeoIpFormat } from './geoip-database.js';
import { databaseFormatError, GeoIpError } from './geoip-error.js';
import { createIp2RegionTextParser } from './ip2region-text-parser.js';
import { createIp2RegionXdbParser, looksLikeXdb } from './ip2region-xdb-parser.js';
import { createMmdbParser, looksLikeMmdb } from './mmdb-database.js';
import { runSliced, runToEnd, type ParseStep, type SlicedParseOptions } from './sliced-parse.js';

const gunzip = promisify(gunzipCallback);

/** Environment variable naming the database file to load instead of the shipped one. */
export const GEOIP_DB_ENV = 'GEOIP_DB';

/** Options of {@link loadGeoIpDatabase}. */
export interface LoadGeoIpDatabaseOptions extends SlicedParseOptions {
  /**
   * Largest decompressed size accepted from a `.gz` file, in bytes: a guard against a gzip bomb
   * taking the resolver's memory. Defaults to 512 MiB (the ip2region text is 41 MB).
   */
  readonly maxDecompressedBytes?: number;
}

const DEFAULT_MAX_DECOMPRESSED_BYTES = 512 * 1024 * 1024;

/**
 * Path of the database shipped with this package (`data/ip2region.txt.gz`). Resolved from this
 * module's URL, which sits one level below the package root both as `src/*.ts` (vitest) and as
 * `dist/*.js` (built).
 */
export function defaultDatabasePath(): string {
  return fileURLToPath(new URL('../data/ip2region.txt.gz', import.meta.url));
}

/**
 * The database file to load: `GEOIP_DB` when set and not empty, else {@link defaultDatabasePath}.
 *
 * @param env - environment to read. Defaults to `process.env`.
 */
export function resolveDatabasePath(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env[GEOIP_DB_ENV]?.trim();
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : defaultDatabasePath();
}

function isGzip(data: Uint8Array): boolean {
  return data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b;
}

function looksLikeText(data: Uint8Array): boolean {
  const first = data[0] === 0xef && data[1] === 0xbb && data[2] === 0xbf ? data[3] : data[0];
  return first !== undefined && first >= 0x30 && first <= 0x39;
}

/**
 * Picks the loader for (decompressed) `data`: by extension when it names a format (`.mmdb`,
 * `.xdb`, `.txt`, after stripping `.gz`), else by content (MaxMind metadata marker, xdb header,
 * a line starting with a digit).
 *
 * @throws GeoIpError `EGEOIP_FORMAT` when neither tells.
 */
export function detectGeoIpFormat(data: Uint8Array, source: string): GeoIpFormat {
  const name = basename(source).toLowerCase().replace(/\.gz$/, '');
  if (name.endsWith('.mmdb')) return 'mmdb';
  if (name.endsWith('.xdb')) return 'ip2region-xdb';
  if (name.endsWith('.txt')) return 'ip2region-text';
  if (looksLikeMmdb(data)) return 'mmdb';
  if (looksLikeXdb(data)) return 'ip2region-xdb';
  if (looksLikeText(data)) return 'ip2region-text';
  throw databaseFormatError(source, 'unrecognised database format (expected ip2region text, ip2region .xdb or MaxMind .mmdb)');
}

function createParser(data: Uint8Array, source: string): { step: ParseStep; finish(): GeoIpDatabase } {
  if (data.length === 0) throw databaseFormatError(source, 'empty file');
  switch (detectGeoIpFormat(data, source)) {
    case 'mmdb':
      return createMmdbParser(data, source);
    case 'ip2region-xdb':
      return createIp2RegionXdbParser(data, source);
    case 'ip2region-text':
      return createIp2RegionTextParser(data, source);
  }
}

function gzipError(source: string, error: unknown): GeoIpError {
  return databaseFormatError(source, `corrupt or truncated gzip data (${(error as Error).message})`, undefined, error);
}

/**
 * Parses a database from bytes, synchronously (tests, tools). Gzip is detected by its magic
 * bytes and inflated first.
 *
 * @param source - file name, for format detection by extension and for error messages.
 * @throws GeoIpError `EGEOIP_FORMAT` naming `source` and the problem; nothing half-built escapes.
 */
export function parseGeoIpDatabase(data: Uint8Array, source: string, options: Pick<LoadGeoIpDatabaseOptions, 'maxDecompressedBytes'> = {}): GeoIpDatabase {
  let bytes = data;
  if (isGzip(bytes)) {
    try {
      bytes = gunzipSync(bytes, { maxOutputLength: options.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES });
    } catch (error) {
      throw gzipError(source, error);
    }
  }
  const parser = createParser(bytes, source);
  runToEnd(parser.step);
  return parser.finish();
}

/**
 * Loads a database file: ip2region text (plain or `.gz`), ip2region `.xdb`, or MaxMind `.mmdb`.
 * Reading and inflating run off the event loop; parsing runs in slices that yield to it, so a
 * service can reload while it keeps answering.
 *
 * @throws GeoIpError `EGEOIP_IO` when the file cannot be read, `EGEOIP_FORMAT` when it is broken;
 *   an `AbortError` when `options.signal` aborts.
 */
export async function loadGeoIpDatabase(path: string, options: LoadGeoIpDatabaseOptions = {}): Promise<GeoIpDatabase> {
  let data: Uint8Array;
  try {
    data = await readFile(path, { signal: options.signal });
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new GeoIpError('EGEOIP_IO', `${path}: cannot read the database file (${code})`, { file: path, cause: error });
  }
  if (isGzip(data)) {
    try {
      data = await gunzip(data, { maxOutputLength: options.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES });
    } catch (error) {
      throw gzipError(path, error);
    }
  }
  options.signal?.throwIfAborted();
  const parser = createParser(data, path);
  await runSliced(parser.step, options);
  return parser.finish();
}
