/**
 * Stable codes of {@link GeoIpError}.
 *
 * - `EGEOIP_ADDRESS`: a client address or ECS subnet does not parse (the resolver answers
 *   `INVALID_ARGUMENT` with the message, which names the field and the value).
 * - `EGEOIP_FORMAT`: a database file is broken, truncated or of an unknown format.
 * - `EGEOIP_IO`: a database file cannot be read.
 */
export type GeoIpErrorCode = 'EGEOIP_ADDRESS' | 'EGEOIP_FORMAT' | 'EGEOIP_IO';

/** Where a database error was found. */
export interface GeoIpErrorOptions {
  /** File (or name) of the database being loaded. */
  readonly file?: string;
  /** 1-based line of a text database. */
  readonly line?: number;
  /** Underlying error (zlib, fs, maxmind). */
  readonly cause?: unknown;
}

/**
 * The one error type of this library. Messages are meant for people: they name the field or file,
 * the line when there is one, and what is wrong.
 */
export class GeoIpError extends Error {
  override readonly name = 'GeoIpError';
  readonly code: GeoIpErrorCode;
  readonly file: string | undefined;
  readonly line: number | undefined;

  constructor(code: GeoIpErrorCode, message: string, options: GeoIpErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.file = options.file;
    this.line = options.line;
  }
}

/**
 * Builds the error for a broken database: `"<file>: line <n>: <problem>"` (line only for text).
 */
export function databaseFormatError(file: string, problem: string, line?: number, cause?: unknown): GeoIpError {
  const where = line === undefined ? file : `${file}: line ${line}`;
  return new GeoIpError('EGEOIP_FORMAT', `${where}: ${problem}`, { file, line, cause });
}
