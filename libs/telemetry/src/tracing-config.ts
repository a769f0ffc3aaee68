/**
 * What the OpenTelemetry environment variables ask of tracing, read without side effects so the
 * rules are testable. Variables follow the OpenTelemetry SDK environment variable specification
 * (opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/).
 */
export interface TracingEnvConfig {
  /** `OTEL_SDK_DISABLED=true`: no provider, no instrumentation. */
  disabled: boolean;
  /** `OTEL_SERVICE_NAME`, when set and not blank. */
  serviceName?: string;
  /** Full OTLP/HTTP traces URL, when an endpoint is set and is a valid http(s) URL. */
  otlpTracesUrl?: string;
  /** `OTEL_TRACES_SAMPLER_ARG` when it is a number in [0, 1]. */
  sampleRatio?: number;
  /** Values that were set but ignored, for a person ("OTEL_TRACES_SAMPLER_ARG: ..."). */
  warnings: string[];
}

/**
 * The traces URL for an OTLP/HTTP endpoint. `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is used as is;
 * `OTEL_EXPORTER_OTLP_ENDPOINT` is a base URL to which "v1/traces" is appended (the OTLP exporter
 * specification, "Endpoint URLs for OTLP/HTTP").
 */
export function otlpTracesUrl(base: string, signalSpecific: boolean): string {
  const url = new URL(base);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`must be an http or https URL, got ${JSON.stringify(base)}`);
  }
  if (signalSpecific) return url.href;
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/v1/traces`;
  return url.href;
}

/** Parses a sampling ratio; anything but a number in [0, 1] is `undefined`. */
export function parseSampleRatio(raw: string): number | undefined {
  if (raw.trim() === '') return undefined;
  const ratio = Number(raw);
  return Number.isFinite(ratio) && ratio >= 0 && ratio <= 1 ? ratio : undefined;
}

function nonBlank(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === '' ? undefined : trimmed;
}

/**
 * Reads tracing settings from the environment. Invalid values are reported in `warnings` and
 * ignored rather than thrown: a typo in a tracing variable must not keep a routing service down.
 * `OTEL_TRACES_SAMPLER` is not read: the sampler is always parentbased_traceidratio.
 */
export function readTracingEnv(env: NodeJS.ProcessEnv): TracingEnvConfig {
  const warnings: string[] = [];
  const config: TracingEnvConfig = { disabled: nonBlank(env.OTEL_SDK_DISABLED)?.toLowerCase() === 'true', warnings };

  const serviceName = nonBlank(env.OTEL_SERVICE_NAME);
  if (serviceName !== undefined) config.serviceName = serviceName;

  const tracesEndpoint = nonBlank(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  const baseEndpoint = nonBlank(env.OTEL_EXPORTER_OTLP_ENDPOINT);
  const [variable, endpoint] =
    tracesEndpoint !== undefined
      ? ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', tracesEndpoint]
      : ['OTEL_EXPORTER_OTLP_ENDPOINT', baseEndpoint];
  if (endpoint !== undefined) {
    try {
      config.otlpTracesUrl = otlpTracesUrl(endpoint, tracesEndpoint !== undefined);
    } catch (error) {
      const reason = error instanceof TypeError && error.message.startsWith('must') ? error.message : `not a URL: ${JSON.stringify(endpoint)}`;
      warnings.push(`${variable}: ${reason}; traces are not exported`);
    }
  }

  const ratioRaw = env.OTEL_TRACES_SAMPLER_ARG;
  if (ratioRaw !== undefined && ratioRaw.trim() !== '') {
    const ratio = parseSampleRatio(ratioRaw);
    if (ratio === undefined) warnings.push(`OTEL_TRACES_SAMPLER_ARG: must be a number in [0, 1], got ${JSON.stringify(ratioRaw)}; using the default`);
    else config.sampleRatio = ratio;
  }
  return config;
}
