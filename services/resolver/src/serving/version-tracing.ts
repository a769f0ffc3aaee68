import { createVersionTraces, isSampledContext, parseTraceparent, SpanAttributes, SpanNames, type VersionTraces } from '@cdn-sched/telemetry';
import { ROOT_CONTEXT, SpanKind, trace, type Link } from '@opentelemetry/api';
import type { RoutingTable } from '../decision/index.js';

const tracer = trace.getTracer('cdn-sched.resolver');

/**
 * Which span produced each config and weight version the resolver holds (the config-watcher's
 * `cdn.config.publish`, the weight-calculator's `cdn.weights.publish`, from the traceparent that
 * comes with the version), so a `cdn.request` span can link to the versions its decision used.
 *
 * Config versions are etcd revisions, the same in every config-watcher epoch, so a number names
 * one version. Weight versions are not: every weight-calculator replica numbers its own store, so
 * version 7 of one replica and version 7 of the one the resolver fails over to are different
 * weights made by different spans. Weight versions are therefore keyed by (epoch, version), and a
 * table records the epoch of the stream its weights came from ({@link VersionTracing.tableBuilt}).
 */
export interface VersionTracing {
  /** Records an applied config version: a `cdn.config.apply` span linked to its producer when that was sampled. */
  configApplied(version: number, traceparent: string, snapshot: boolean): void;
  /**
   * Records an applied weight version of the stream `epoch`: a `cdn.weights.apply` span linked to
   * its producer when that was sampled.
   */
  weightsApplied(epoch: string, version: number, traceparent: string, snapshot: boolean): void;
  /** Records that `table` was built from the weight stream `epoch` (at `table.weightsVersion`). */
  tableBuilt(table: RoutingTable, weightsEpoch: string): void;
  /** Links to the producers of a table's versions (none when neither was traced). */
  links(table: RoutingTable): Link[];
}

/** {@link VersionTracing} over the global tracer provider. */
export function createVersionTracing(): VersionTracing {
  const config = createVersionTraces();
  const weights = createVersionTraces();
  // A table is immutable and dropped when replaced: a weak map lets it carry its epoch without a
  // field in the decision core's type.
  const weightsEpochOf = new WeakMap<RoutingTable, string>();
  const weightsKey = (epoch: string, version: number | bigint): string => `${epoch}/${version}`;
  const applied = (traces: VersionTraces, name: string, key: string, at: string | number, version: number, traceparent: string, snapshot: boolean): void => {
    // An untraced version costs one empty-string check.
    if (traceparent === '') return;
    const producer = parseTraceparent(traceparent);
    if (!isSampledContext(producer)) return;
    traces.set(at, producer);
    tracer
      .startSpan(name, { kind: SpanKind.CONSUMER, links: [{ context: producer }], attributes: { [key]: version, [SpanAttributes.snapshot]: snapshot } }, ROOT_CONTEXT)
      .end();
  };
  return {
    configApplied: (version, traceparent, snapshot) => applied(config, SpanNames.configApply, SpanAttributes.configVersion, version, version, traceparent, snapshot),
    weightsApplied: (epoch, version, traceparent, snapshot) =>
      applied(weights, SpanNames.weightsApply, SpanAttributes.weightsVersion, weightsKey(epoch, version), version, traceparent, snapshot),
    tableBuilt: (table, weightsEpoch) => void weightsEpochOf.set(table, weightsEpoch),
    links(table) {
      const links: Link[] = [];
      const c = config.get(table.configVersion);
      if (c) links.push({ context: c, attributes: { [SpanAttributes.configVersion]: Number(table.configVersion) } });
      const epoch = weightsEpochOf.get(table);
      const w = epoch === undefined ? undefined : weights.get(weightsKey(epoch, table.weightsVersion));
      if (w) links.push({ context: w, attributes: { [SpanAttributes.weightsVersion]: Number(table.weightsVersion) } });
      return links;
    },
  };
}
