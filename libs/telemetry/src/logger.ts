import { isSpanContextValid, trace } from '@opentelemetry/api';
import { pino, type DestinationStream, type Logger } from 'pino';

/** The logger every service uses: pino, one JSON object per line. */
export type { Logger } from 'pino';

/** Levels accepted in `LOG_LEVEL` / `level`, most to least severe, plus "silent". */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Service name, written as the `service` field of every line ("resolver"). */
  service: string;
  /** Instance id, written as the `instance` field ("resolver-1", a host name, a pod name). */
  instanceId: string;
  /** Minimum level. Defaults to `LOG_LEVEL` from `env`, else "info". */
  level?: string;
  /** Where the JSON lines go. Defaults to standard output. */
  destination?: DestinationStream;
  /** Environment `LOG_LEVEL` is read from. Defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/**
 * Resolves the level from the option, then `LOG_LEVEL`, then "info". An unknown name is a startup
 * error that names the variable: pino's own message ("unknown level") does not say where the value
 * came from.
 */
export function resolveLogLevel(level: string | undefined, env: NodeJS.ProcessEnv = process.env): LogLevel {
  const fromEnv = env.LOG_LEVEL?.trim();
  const source = level !== undefined ? 'level' : 'LOG_LEVEL';
  const raw = (level ?? (fromEnv === '' ? undefined : fromEnv) ?? 'info').toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(raw)) {
    throw new Error(`${source}: must be one of ${LOG_LEVELS.join('|')}, got ${JSON.stringify(level ?? fromEnv)}`);
  }
  return raw as LogLevel;
}

/**
 * Adds the active span's ids to a log line, so a line found in the logs leads to its trace
 * (field names of the OpenTelemetry log data model, snake_cased as most JSON log pipelines expect).
 */
function traceFields(): Record<string, string> {
  const span = trace.getActiveSpan();
  if (span === undefined) return {};
  const context = span.spanContext();
  if (!isSpanContextValid(context)) return {};
  return { trace_id: context.traceId, span_id: context.spanId };
}

/**
 * Creates the JSON logger of a service. Every line carries `service` and `instance`, an ISO-8601
 * `time`, the level as a name (`"level":"info"`, readable without pino's number table) and, inside
 * a traced operation, `trace_id` and `span_id`. pid and hostname are left out: `instance` names
 * the process.
 */
export function createLogger(options: LoggerOptions): Logger {
  const level = resolveLogLevel(options.level, options.env);
  const config = {
    level,
    base: { service: options.service, instance: options.instanceId },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    mixin: traceFields,
  };
  return options.destination === undefined ? pino(config) : pino(config, options.destination);
}
