import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { GeoIpDatabase } from './geoip-database.js';
import { GeoIpError } from './geoip-error.js';
import { loadGeoIpDatabase, resolveDatabasePath, type LoadGeoIpDatabaseOptions } from './load-geoip-database.js';

/** The logging calls the provider makes; a pino logger fits. */
export interface GeoIpLogger {
  /** A database was loaded (fields: path, format, range and location counts, loadMs). */
  info(fields: Record<string, unknown>, message: string): void;
  /** A database or a watch was rejected (fields: path, err, code). */
  error(fields: Record<string, unknown>, message: string): void;
}

/** Reported after a database was loaded and swapped in. */
export interface GeoIpReloadEvent {
  /** The database now in use. */
  readonly database: GeoIpDatabase;
  /** The one it replaced; undefined for the initial load. */
  readonly previous: GeoIpDatabase | undefined;
  /** 1 for the initial load, then +1 per successful reload. */
  readonly generation: number;
  /** Time to read, inflate and parse the file, in milliseconds. */
  readonly loadMs: number;
}

/** Options of {@link createGeoIpProvider}. */
export interface GeoIpProviderOptions extends Pick<LoadGeoIpDatabaseOptions, 'recordsPerSlice' | 'maxDecompressedBytes'> {
  /** Database file. Defaults to `GEOIP_DB`, else the shipped `data/ip2region.txt.gz`. */
  readonly path?: string;
  /**
   * Reload when the file changes. The directory is watched, not the file, so a file replaced by
   * rename (the atomic way to publish it) is still seen. Defaults to false.
   */
  readonly watchFile?: boolean;
  /**
   * Quiet time after the last change event before reloading, in milliseconds: a copy produces a
   * burst of events, and loading a half-written file only to reject it is wasted work.
   * Defaults to 1,000 ms.
   */
  readonly watchDebounceMs?: number;
  /** Logs loads and rejections. Defaults to none. */
  readonly logger?: GeoIpLogger;
  /** Called after each successful load (the initial one included). */
  readonly onReload?: (event: GeoIpReloadEvent) => void;
  /** Called when a reload is rejected; the previous database stays in use. */
  readonly onError?: (error: GeoIpError) => void;
  /** Closes the provider when aborted. */
  readonly signal?: AbortSignal;
  /** Millisecond clock for load timings. Defaults to `performance.now`. */
  readonly now?: () => number;
}

/**
 * Holds the current database and replaces it on reload. The swap is a single reference
 * assignment made only once the new database is fully built, so a reader sees either the old or
 * the new one, complete — read {@link GeoIpProvider.database} once per request (or batch).
 */
export interface GeoIpProvider {
  /** The database in use. */
  readonly database: GeoIpDatabase;
  /** File it is loaded from. */
  readonly path: string;
  /** 1 after the initial load, +1 per successful reload. */
  readonly generation: number;
  /**
   * Loads the file again beside the current database and swaps it in (e.g. on SIGHUP). A call
   * made while a load runs is queued once behind it, so the newest file is always picked up.
   *
   * @returns true when a new database was swapped in; false when the file was rejected (reported
   *   through `onError` and the logger) or the provider is closed. Never rejects.
   */
  reload(): Promise<boolean>;
  /** Stops watching, cancels a running load and releases every timer. Idempotent. */
  close(): void;
}

const DEFAULT_WATCH_DEBOUNCE_MS = 1_000;

function asGeoIpError(error: unknown, path: string): GeoIpError {
  if (error instanceof GeoIpError) return error;
  return new GeoIpError('EGEOIP_IO', `${path}: ${(error as Error).message}`, { file: path, cause: error });
}

/**
 * Loads the database and returns a provider that can reload it.
 *
 * @throws GeoIpError when the initial load fails: a service cannot answer without a database.
 */
export async function createGeoIpProvider(options: GeoIpProviderOptions = {}): Promise<GeoIpProvider> {
  const path = options.path ?? resolveDatabasePath();
  const now = options.now ?? (() => performance.now());
  const logger = options.logger;
  const lifetime = new AbortController();
  const loadOptions: LoadGeoIpDatabaseOptions = {
    signal: lifetime.signal,
    recordsPerSlice: options.recordsPerSlice,
    maxDecompressedBytes: options.maxDecompressedBytes,
  };
  let closed = false;
  let generation = 0;
  let watcher: FSWatcher | undefined;
  let debounce: NodeJS.Timeout | undefined;
  let running: Promise<boolean> | undefined;
  let queued: Promise<boolean> | undefined;

  /** Logs a rejection and tells the listener; a throwing listener must not break reloads. */
  const report = (error: GeoIpError, message: string): void => {
    logger?.error({ path, err: error, code: error.code }, message);
    try {
      options.onError?.(error);
    } catch (listenerError) {
      logger?.error({ path, err: listenerError }, 'geoip onError listener threw');
    }
  };

  const swapIn = (database: GeoIpDatabase, previous: GeoIpDatabase | undefined, loadMs: number): void => {
    generation++;
    const { sourceRangeCount, indexedRangeCount, locationCount } = database.stats();
    logger?.info({ path, format: database.format, sourceRangeCount, indexedRangeCount, locationCount, loadMs, generation }, 'geoip database loaded');
    try {
      options.onReload?.({ database, previous, generation, loadMs });
    } catch (error) {
      logger?.error({ path, err: error }, 'geoip onReload listener threw');
    }
  };

  const started = now();
  let current = await loadGeoIpDatabase(path, loadOptions);
  swapIn(current, undefined, now() - started);

  const loadOnce = async (): Promise<boolean> => {
    const t0 = now();
    let next: GeoIpDatabase;
    try {
      next = await loadGeoIpDatabase(path, loadOptions);
    } catch (error) {
      if (closed) return false;
      report(asGeoIpError(error, path), 'geoip database rejected; keeping the previous one');
      return false;
    }
    if (closed) return false;
    const previous = current;
    current = next;
    swapIn(next, previous, now() - t0);
    return true;
  };

  const start = (): Promise<boolean> => {
    running = loadOnce().finally(() => {
      running = undefined;
    });
    return running;
  };

  const reload = (): Promise<boolean> => {
    if (closed) return Promise.resolve(false);
    if (queued !== undefined) return queued;
    if (running === undefined) return start();
    queued = running.then(() => {
      queued = undefined;
      return closed ? false : start();
    });
    return queued;
  };

  const close = (): void => {
    if (closed) return;
    closed = true;
    lifetime.abort();
    clearTimeout(debounce);
    watcher?.close();
    options.signal?.removeEventListener('abort', close);
  };

  if (options.watchFile === true) {
    const file = basename(path);
    const debounceMs = options.watchDebounceMs ?? DEFAULT_WATCH_DEBOUNCE_MS;
    // persistent: false — watching must not keep a process alive that is otherwise done.
    watcher = watch(dirname(path), { persistent: false }, (_event, changed) => {
      if (closed || (changed !== null && changed !== file)) return;
      clearTimeout(debounce);
      debounce = setTimeout(() => void reload(), debounceMs);
      debounce.unref();
    });
    watcher.on('error', (error) => {
      const reported = new GeoIpError('EGEOIP_IO', `${path}: watching the file failed (${error.message})`, { file: path, cause: error });
      report(reported, 'geoip file watch failed; reload on demand still works');
    });
  }

  if (options.signal?.aborted === true) close();
  else options.signal?.addEventListener('abort', close, { once: true });

  return {
    get database() {
      return current;
    },
    path,
    get generation() {
      return generation;
    },
    reload,
    close,
  };
}
