import { describe, expect, it } from 'vitest';
import { otlpTracesUrl, parseSampleRatio, readTracingEnv } from './tracing-config.js';

describe('readTracingEnv', () => {
  it('reads nothing from an empty environment', () => {
    expect(readTracingEnv({})).toEqual({ disabled: false, warnings: [] });
  });

  it('reads the service name, trimmed, and ignores a blank one', () => {
    expect(readTracingEnv({ OTEL_SERVICE_NAME: ' resolver ' }).serviceName).toBe('resolver');
    expect(readTracingEnv({ OTEL_SERVICE_NAME: '  ' })).not.toHaveProperty('serviceName');
  });

  it('appends v1/traces to OTEL_EXPORTER_OTLP_ENDPOINT, with or without a trailing slash or base path', () => {
    expect(readTracingEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).otlpTracesUrl).toBe('http://collector:4318/v1/traces');
    expect(readTracingEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).otlpTracesUrl).toBe('http://collector:4318/v1/traces');
    expect(readTracingEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://gw.example.com/otlp/' }).otlpTracesUrl).toBe(
      'https://gw.example.com/otlp/v1/traces',
    );
  });

  it('uses OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as is, in preference to the base endpoint', () => {
    const config = readTracingEnv({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://base:4318',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://traces:4318/custom/path',
    });
    expect(config.otlpTracesUrl).toBe('http://traces:4318/custom/path');
  });

  it('warns about an endpoint that is not an http(s) URL and exports nothing', () => {
    const notUrl = readTracingEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318 ' });
    expect(notUrl).not.toHaveProperty('otlpTracesUrl');
    expect(notUrl.warnings).toEqual(['OTEL_EXPORTER_OTLP_ENDPOINT: must be an http or https URL, got "collector:4318"; traces are not exported']);
    const garbage = readTracingEnv({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'not a url' });
    expect(garbage.warnings).toEqual(['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: not a URL: "not a url"; traces are not exported']);
  });

  it('reads a sampling ratio in [0, 1] and warns about any other value', () => {
    expect(readTracingEnv({ OTEL_TRACES_SAMPLER_ARG: '0.25' }).sampleRatio).toBe(0.25);
    expect(readTracingEnv({ OTEL_TRACES_SAMPLER_ARG: '0' }).sampleRatio).toBe(0);
    expect(readTracingEnv({ OTEL_TRACES_SAMPLER_ARG: '1' }).sampleRatio).toBe(1);
    const tooBig = readTracingEnv({ OTEL_TRACES_SAMPLER_ARG: '1.5' });
    expect(tooBig).not.toHaveProperty('sampleRatio');
    expect(tooBig.warnings).toEqual(['OTEL_TRACES_SAMPLER_ARG: must be a number in [0, 1], got "1.5"; using the default']);
    expect(readTracingEnv({ OTEL_TRACES_SAMPLER_ARG: 'half' }).warnings).toHaveLength(1);
    expect(readTracingEnv({ OTEL_TRACES_SAMPLER_ARG: '' }).warnings).toEqual([]);
  });

  it('is disabled only by OTEL_SDK_DISABLED=true, in any case', () => {
    expect(readTracingEnv({ OTEL_SDK_DISABLED: 'true' }).disabled).toBe(true);
    expect(readTracingEnv({ OTEL_SDK_DISABLED: 'TRUE' }).disabled).toBe(true);
    expect(readTracingEnv({ OTEL_SDK_DISABLED: 'false' }).disabled).toBe(false);
    expect(readTracingEnv({ OTEL_SDK_DISABLED: '1' }).disabled).toBe(false);
  });
});

describe('otlpTracesUrl', () => {
  it('keeps a signal-specific URL unchanged and rejects other schemes', () => {
    expect(otlpTracesUrl('http://c:4318/v1/traces', true)).toBe('http://c:4318/v1/traces');
    expect(() => otlpTracesUrl('grpc://c:4317', false)).toThrow('must be an http or https URL, got "grpc://c:4317"');
  });
});

describe('parseSampleRatio', () => {
  it('accepts numbers in [0, 1] only', () => {
    expect(parseSampleRatio('0.5')).toBe(0.5);
    expect(parseSampleRatio(' 1e-3 ')).toBe(0.001);
    expect(parseSampleRatio('-0.1')).toBeUndefined();
    expect(parseSampleRatio('NaN')).toBeUndefined();
    expect(parseSampleRatio('Infinity')).toBeUndefined();
    expect(parseSampleRatio(' ')).toBeUndefined();
  });
});
