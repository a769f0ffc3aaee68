import { trace } from '@opentelemetry/api';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger, resolveLogLevel } from './logger.js';
import { initTracing, shutdownTracing } from './tracing.js';

function capture(): { lines: Record<string, unknown>[]; write(line: string): void } {
  const lines: Record<string, unknown>[] = [];
  return { lines, write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) };
}

afterAll(async () => {
  await shutdownTracing();
});

describe('createLogger', () => {
  it('writes one JSON object per line with service, instance, level name, ISO time and message', () => {
    const out = capture();
    const log = createLogger({ service: 'resolver', instanceId: 'resolver-1', destination: out, env: {} });
    log.info({ domain: 'img.example.com' }, 'answered');
    expect(out.lines).toHaveLength(1);
    const [line] = out.lines;
    expect(line).toMatchObject({ service: 'resolver', instance: 'resolver-1', level: 'info', msg: 'answered', domain: 'img.example.com' });
    expect(typeof line.time).toBe('string');
    expect(new Date(line.time as string).toISOString()).toBe(line.time);
    expect(line).not.toHaveProperty('pid');
    expect(line).not.toHaveProperty('hostname');
  });

  it('defaults to info: debug lines are dropped', () => {
    const out = capture();
    const log = createLogger({ service: 's', instanceId: 'i', destination: out, env: {} });
    log.debug('hidden');
    log.warn('shown');
    expect(out.lines.map((l) => l.msg)).toEqual(['shown']);
    expect(log.level).toBe('info');
  });

  it('takes the level from LOG_LEVEL, case-insensitively', () => {
    const out = capture();
    const log = createLogger({ service: 's', instanceId: 'i', destination: out, env: { LOG_LEVEL: 'DEBUG' } });
    log.debug('now shown');
    log.trace('still hidden');
    expect(out.lines.map((l) => l.msg)).toEqual(['now shown']);
  });

  it('lets the level option override LOG_LEVEL', () => {
    const out = capture();
    const log = createLogger({ service: 's', instanceId: 'i', level: 'error', destination: out, env: { LOG_LEVEL: 'debug' } });
    log.warn('hidden');
    log.error('shown');
    expect(out.lines.map((l) => l.level)).toEqual(['error']);
  });

  it('serialises errors with type, message and stack', () => {
    const out = capture();
    const log = createLogger({ service: 's', instanceId: 'i', destination: out, env: {} });
    log.error({ err: new TypeError('bad value') }, 'failed');
    expect(out.lines[0].err).toMatchObject({ type: 'TypeError', message: 'bad value' });
    expect(String((out.lines[0].err as { stack: string }).stack)).toContain('TypeError: bad value');
  });

  it('adds trace_id and span_id inside an active span, and nothing outside', () => {
    initTracing({ env: {} });
    const out = capture();
    const log = createLogger({ service: 's', instanceId: 'i', destination: out, env: {} });
    log.info('outside');
    const ids = trace.getTracer('logger-spec').startActiveSpan('op', (span) => {
      log.info('inside');
      span.end();
      return span.spanContext();
    });
    expect(out.lines[0]).not.toHaveProperty('trace_id');
    expect(out.lines[1]).toMatchObject({ trace_id: ids.traceId, span_id: ids.spanId });
    expect(ids.traceId).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe('resolveLogLevel', () => {
  it('prefers the option, then LOG_LEVEL, then info; blank LOG_LEVEL counts as unset', () => {
    expect(resolveLogLevel('warn', { LOG_LEVEL: 'debug' })).toBe('warn');
    expect(resolveLogLevel(undefined, { LOG_LEVEL: ' trace ' })).toBe('trace');
    expect(resolveLogLevel(undefined, { LOG_LEVEL: '' })).toBe('info');
    expect(resolveLogLevel(undefined, {})).toBe('info');
    expect(resolveLogLevel('silent', {})).toBe('silent');
  });

  it('rejects an unknown level naming where it came from', () => {
    expect(() => resolveLogLevel(undefined, { LOG_LEVEL: 'verbose' })).toThrow(
      'LOG_LEVEL: must be one of fatal|error|warn|info|debug|trace|silent, got "verbose"',
    );
    expect(() => resolveLogLevel('loud', {})).toThrow('level: must be one of fatal|error|warn|info|debug|trace|silent, got "loud"');
  });
});
