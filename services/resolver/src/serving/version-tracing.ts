import { createVersionTraces, isSampledContext, parseTraceparent, SpanAttributes, SpanNames, type VersionTraces } from '@cdn-sched/telemetry';
import { ROOT_CONTEXT, SpanKind, trace, type Link } from '@opentelemetry/api';

const tracer = trace.getTracer('cdn-sched.resolver');

/**
 * Which span produced each config and weight version the resolver holds (the config-watcher's
 * `cdn.config.publish`, the weight-calculator's `cdn.weights.publish`, from the traceparent that
 * comes with the version), so a `cdn.request` span can link to the versions its decision used.
 */
export interface VersionTracing {
  /** Records an applied config version: a `cdn.config.apply` span linked to its producer when that was sampled. */
  configApplied(version: number, traceparent: string, snapshot: boolean): void;
  /** Records an applied weight version: a `cdn.weights.apply` span linked to its producer when that was sampled. */
  weightsApplied(version: number, traceparent: string, snapshot: boolean): void;
  /** Links to the producers of a table's versions (none when neither was traced). */
  links(configVersion: bigint, weightsVersion: bigint): Link[];
}

/** {@link VersionTracing} over the global tracer provider. */
export function createVersionTracing(): VersionTracing {
  const config = createVersionTraces();
  const weights = createVersionTraces();
  const applied = (traces: VersionTraces, name: string, key: string, version: number, traceparent: string, snapshot: boolean): void => {
    // An untraced version costs one empty-string check.
    if (traceparent === '') return;
    const producer = parseTraceparent(traceparent);
    if (!isSampledContext(producer)) return;
    traces.set(version, producer);
    tracer
      .startSpan(name, { kind: SpanKind.CONSUMER, links: [{ context: producer }], attributes: { [key]: version, [SpanAttributes.snapshot]: snapshot } }, ROOT_CONTEXT)
      .end();
  };
  return {
    configApplied: (version, traceparent, snapshot) => applied(config, SpanNames.configApply, SpanAttributes.configVersion, version, traceparent, snapshot),
    weightsApplied: (version, traceparent, snapshot) => applied(weights, SpanNames.weightsApply, SpanAttributes.weightsVersion, version, traceparent, snapshot),
    links(configVersion, weightsVersion) {
      const links: Link[] = [];
      const c = config.get(configVersion);
      if (c) links.push({ context: c, attributes: { [SpanAttributes.configVersion]: Number(configVersion) } });
      const w = weights.get(weightsVersion);
      if (w) links.push({ context: w, attributes: { [SpanAttributes.weightsVersion]: Number(weightsVersion) } });
      return links;
    },
  };
}
