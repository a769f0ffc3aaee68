import { register as registerLoaderHook } from 'node:module';
import { context, diag, propagation, trace, type Attributes } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { GrpcInstrumentation } from '@opentelemetry/instrumentation-grpc';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  NodeTracerProvider,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { createLinkAwareSampler } from './link-sampler.js';
import { readTracingEnv, type TracingEnvConfig } from './tracing-config.js';

/** Options of {@link initTracing}; every field falls back to the OpenTelemetry variables. */
export interface TracingOptions {
  /** `service.name`. Defaults to `OTEL_SERVICE_NAME`, else the SDK's "unknown_service:node". */
  serviceName?: string;
  /** Extra resource attributes (`service.instance.id`, ...); `OTEL_RESOURCE_ATTRIBUTES` is read too. */
  resourceAttributes?: Attributes;
  /**
   * OTLP/HTTP (protobuf) traces URL, e.g. "http://collector:4318/v1/traces". Defaults to
   * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, else `OTEL_EXPORTER_OTLP_ENDPOINT` + "/v1/traces";
   * without either, nothing is exported over OTLP.
   */
  otlpTracesUrl?: string;
  /**
   * Share of root traces sampled, 0–1 (ParentBased(TraceIdRatio)). Defaults to
   * `OTEL_TRACES_SAMPLER_ARG`, else 1 when spans go to an exporter or `spanProcessors`, else 0.
   */
  sampleRatio?: number;
  /** Span processors added after the OTLP one (tests: a SimpleSpanProcessor over an in-memory exporter). */
  spanProcessors?: SpanProcessor[];
  /** Environment read for the defaults. Defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/** The tracing set up by {@link initTracing}. */
export interface Tracing {
  /** The registered provider; `undefined` when `OTEL_SDK_DISABLED=true`. */
  readonly provider: NodeTracerProvider | undefined;
  /** The OTLP traces URL spans are exported to, if any. */
  readonly otlpTracesUrl: string | undefined;
  /** Root sampling ratio in effect. */
  readonly sampleRatio: number;
  /** Flushes pending spans, stops the instrumentation and unregisters the provider. */
  shutdown(): Promise<void>;
}

// Kept on globalThis, not in a module variable: `--import .../register.js` and a service's
// `@cdn-sched/telemetry` import may resolve to two copies of this module, and there must be one
// provider per process.
const STATE = Symbol.for('@cdn-sched/telemetry.tracing');
const LOADER_HOOK = Symbol.for('@cdn-sched/telemetry.loader-hook');
type Holder = { [STATE]?: Tracing; [LOADER_HOOK]?: true };
const holder = globalThis as Holder;

/**
 * require-in-the-middle (the instrumentation's CommonJS hook) sees `@grpc/grpc-js` when a CommonJS
 * module requires it (nice-grpc does), but not when ESM code imports it directly: Node 20 loads
 * that through the ESM loader. import-in-the-middle's loader hook covers `import '@grpc/grpc-js'`
 * (bare specifier; it maps a package name from it); it is limited to grpc-js so no other module
 * pays for the interception. A loader hook cannot be removed, so it is registered once per process.
 */
function registerEsmHook(): void {
  if (holder[LOADER_HOOK]) return;
  registerLoaderHook('@opentelemetry/instrumentation/hook.mjs', import.meta.url, {
    data: { include: ['@grpc/grpc-js'] },
  });
  holder[LOADER_HOOK] = true;
}

function warn(message: string): void {
  process.emitWarning(message, { code: 'CDN_SCHED_TRACING' });
}

function checkRatio(ratio: number): number {
  if (!(Number.isFinite(ratio) && ratio >= 0 && ratio <= 1)) throw new RangeError(`sampleRatio: must be in [0, 1], got ${ratio}`);
  return ratio;
}

function disabledTracing(): Tracing {
  const disabled: Tracing = {
    provider: undefined,
    otlpTracesUrl: undefined,
    sampleRatio: 0,
    shutdown: async () => {
      if (holder[STATE] === disabled) delete holder[STATE];
    },
  };
  return disabled;
}

/** The provider, with its processors, sampler and resource, from the options and environment. */
function createProvider(options: TracingOptions, fromEnv: TracingEnvConfig): { provider: NodeTracerProvider; url: string | undefined; sampleRatio: number } {
  const url = options.otlpTracesUrl ?? fromEnv.otlpTracesUrl;
  const extra = options.spanProcessors ?? [];
  // Checked before any exporter exists, so a bad ratio leaves nothing half-built behind.
  const sampleRatio = checkRatio(options.sampleRatio ?? fromEnv.sampleRatio ?? (url !== undefined || extra.length > 0 ? 1 : 0));
  // BatchSpanProcessor: the export happens off the request path, in batches, with a bounded queue
  // that drops spans rather than memory when the collector is slow.
  const processors: SpanProcessor[] = url === undefined ? [...extra] : [new BatchSpanProcessor(new OTLPTraceExporter({ url })), ...extra];

  const serviceName = options.serviceName ?? fromEnv.serviceName;
  const resource = defaultResource()
    .merge(detectResources({ detectors: [envDetector] }))
    .merge(resourceFromAttributes({ ...options.resourceAttributes, ...(serviceName ? { [ATTR_SERVICE_NAME]: serviceName } : {}) }));

  const provider = new NodeTracerProvider({
    resource,
    sampler: new ParentBasedSampler({ root: createLinkAwareSampler(new TraceIdRatioBasedSampler(sampleRatio)) }),
    spanProcessors: processors,
  });
  return { provider, url, sampleRatio };
}

/**
 * Sets up OpenTelemetry tracing for the process: a NodeTracerProvider registered as the global
 * one (AsyncLocalStorage context, W3C trace-context propagation), the gRPC instrumentation, an
 * OTLP exporter behind a BatchSpanProcessor when an endpoint is configured, and a
 * ParentBased(LinkAware(TraceIdRatio)) sampler, so a trace started upstream is kept or dropped as a whole
 * and a batch span linked to a sampled batch is kept (link-sampler.ts)
 * (ParentBased even without an exporter: a hop that drops the sampled flag breaks the trace for
 * every service after it).
 *
 * Must run before `@grpc/grpc-js` is loaded, or gRPC calls are not instrumented; that is what
 * `@cdn-sched/telemetry/register` is for. Once tracing is set up, later calls return it unchanged.
 */
export function initTracing(options: TracingOptions = {}): Tracing {
  const existing = holder[STATE];
  if (existing !== undefined) return existing;

  const fromEnv = readTracingEnv(options.env ?? process.env);
  for (const message of fromEnv.warnings) warn(message);
  if (fromEnv.disabled) return (holder[STATE] = disabledTracing());

  const { provider, url, sampleRatio } = createProvider(options, fromEnv);
  provider.register();
  registerEsmHook();
  const unregister = registerInstrumentations({ tracerProvider: provider, instrumentations: [new GrpcInstrumentation()] });

  let stopping: Promise<void> | undefined;
  const tracing: Tracing = {
    provider,
    otlpTracesUrl: url,
    sampleRatio,
    shutdown() {
      stopping ??= (async () => {
        unregister();
        try {
          await provider.shutdown();
        } finally {
          trace.disable();
          context.disable();
          propagation.disable();
          if (holder[STATE] === tracing) delete holder[STATE];
        }
      })();
      return stopping;
    },
  };
  holder[STATE] = tracing;
  diag.debug(`tracing: ratio ${sampleRatio}, export ${url ?? 'none'}`);
  return tracing;
}

/**
 * Drops the process's async context manager, keeping tracing otherwise as it is (provider,
 * sampler, exporter, gRPC instrumentation): `context.active()` is the root context from then on,
 * so a span has a parent only when one is passed to it. For a service that hands span contexts on
 * explicitly and keeps no active span (the dns-gateway): on Node 20 the AsyncLocalStorage context
 * manager runs an async hook for every async resource and promise the process creates — every UDP
 * send — which cost the gateway 5–8 % of its cache-hit throughput (`npm run bench -- dns`).
 * Disabling the last AsyncLocalStorage disables Node's hook (`AsyncLocalStorage.disable`).
 */
export function useExplicitContext(): void {
  context.disable();
}

/** The tracing set up in this process, if any. */
export function currentTracing(): Tracing | undefined {
  return holder[STATE];
}

/** Shuts down the process's tracing (flushing pending spans); resolves at once if there is none. */
export async function shutdownTracing(): Promise<void> {
  await holder[STATE]?.shutdown();
}
