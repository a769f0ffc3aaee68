/**
 * Side-effect entry point: `node --import @cdn-sched/telemetry/register main.js` (or the path of
 * `dist/register.js`) sets up tracing from the OpenTelemetry environment variables before the
 * application — and so `@grpc/grpc-js` — is loaded, which the gRPC instrumentation needs: it
 * patches grpc-js as it is loaded and cannot patch a copy already in use.
 *
 * Reads OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT),
 * OTEL_TRACES_SAMPLER_ARG, OTEL_RESOURCE_ATTRIBUTES and OTEL_SDK_DISABLED. A service flushes
 * pending spans on shutdown with `shutdownTracing()` from `@cdn-sched/telemetry`.
 */
import { initTracing } from './tracing.js';

initTracing();
