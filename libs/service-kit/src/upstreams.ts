import { create } from '@bufbuild/protobuf';
import { StreamStatusSchema, type StreamStatus } from '@cdn-sched/proto';
import type { Readiness } from '@cdn-sched/telemetry';

/**
 * What a service knows of one upstream at a moment. A stream consumer's state (`libs/stream`)
 * has this shape; the config-watcher describes etcd in it.
 */
export interface UpstreamState {
  readonly connected: boolean;
  /** Version of the upstream's data the service holds; 0 before the first. */
  readonly version: number;
  readonly epoch?: string;
  /** Time since the upstream last confirmed `version`, milliseconds (Infinity before any contact). */
  readonly stalenessMs: number;
  /** Past the service's staleness bound (or nothing received yet). */
  readonly stale: boolean;
  readonly lastError: string | undefined;
}

/** One upstream dependency of a service. */
export interface UpstreamSpec {
  /** Name in reasons, `Status.streams` and the `cdn_stream_*{stream}` gauges: "config-watcher", "etcd". */
  name: string;
  /** Where it is now (an address or endpoints; may change, e.g. after a failover). */
  target: () => string;
  state: () => UpstreamState;
  /** What the service does while this upstream is stale: "answering from last-known-good state". */
  meanwhile: string | (() => string);
  /**
   * What the service waits for before it is ready ("configuration"): it is not ready until this
   * upstream delivered a first version. Absent: the upstream never holds readiness back.
   */
  requiredForReady?: string;
}

/** The registry of a service's upstreams, from which readiness, `/readyz` reasons and `Status.streams` are derived. */
export interface Upstreams {
  add(spec: UpstreamSpec): void;
  /** Not ready while a required upstream has delivered nothing; stale upstreams are reasons, not unreadiness. */
  readiness(extraReasons?: readonly string[]): Readiness;
  /** Why the service is degraded now, one line per stale upstream, in registration order. */
  reasons(): string[];
  /** True while any upstream is stale. */
  degraded(): boolean;
  /** The upstreams as `Status.streams` (what `cdnctl status` prints and the stream gauges read). */
  streams(): StreamStatus[];
}

/**
 * The one wording of an upstream's trouble, the same in every service:
 * `<name> <target> stale|unreachable for <n> s (<last error>); <meanwhile>`, or, before anything
 * arrived, `no <what> from <name> <target> yet (<last error>)`. Undefined when it is fresh.
 */
export function describeUpstream(spec: UpstreamSpec, state: UpstreamState = spec.state()): string | undefined {
  const error = state.lastError ? ` (${state.lastError})` : '';
  if (state.version === 0 && spec.requiredForReady) return `no ${spec.requiredForReady} from ${spec.name} ${spec.target()} yet${error}`;
  if (!state.stale) return undefined;
  const age = Number.isFinite(state.stalenessMs) ? ` for ${Math.round(state.stalenessMs / 1000)} s` : '';
  return `${spec.name} ${spec.target()} ${state.connected ? 'stale' : 'unreachable'}${age}${error}; ${typeof spec.meanwhile === 'string' ? spec.meanwhile : spec.meanwhile()}`;
}

/** Creates an empty registry; each service adds its upstreams once at start. */
export function createUpstreams(): Upstreams {
  const specs: UpstreamSpec[] = [];
  const reasons = (): string[] => {
    const out: string[] = [];
    for (const spec of specs) {
      const reason = describeUpstream(spec);
      if (reason !== undefined) out.push(reason);
    }
    return out;
  };
  return {
    add(spec) {
      if (specs.some((s) => s.name === spec.name)) throw new Error(`upstream ${spec.name} is registered twice`);
      specs.push(spec);
    },
    readiness(extraReasons = []) {
      const ready = specs.every((s) => !s.requiredForReady || s.state().version > 0);
      return { ready, reasons: [...reasons(), ...extraReasons] };
    },
    reasons,
    degraded: () => specs.some((s) => s.state().stale),
    streams: () =>
      specs.map((spec) => {
        const s = spec.state();
        return create(StreamStatusSchema, {
          name: spec.name,
          target: spec.target(),
          connected: s.connected,
          version: BigInt(s.version),
          epoch: s.epoch ?? '',
          stalenessMs: BigInt(Number.isFinite(s.stalenessMs) ? Math.max(0, Math.round(s.stalenessMs)) : 0),
          stale: s.stale,
        });
      }),
  };
}
