import { NodeState, ProbeType, type Node, type ProbeSpec } from '@cdn-sched/proto';

/** Probe kind, as spelt in node documents. */
export type ProbeKind = 'http' | 'tcp';

/** Prober-wide probe settings, used where a node's document leaves a field unset. */
export interface ProbeDefaults {
  /** Interval between two probes of a node, ms. Defaults to 5000. */
  intervalMs?: number;
  /** Timeout of one probe, ms. Defaults to 2000. */
  timeoutMs?: number;
  /** HTTP path. Defaults to `/health`. */
  path?: string;
  /** Kind of probe. Defaults to `http`. */
  type?: ProbeKind;
}

/** The fields of a node document's `probe` the prober reads (a ProbeSpec message fits). */
export type ProbeSpecFields = Partial<Pick<ProbeSpec, 'type' | 'path' | 'port' | 'intervalMs' | 'timeoutMs'>>;

/** One node as the prober sees it: where it is, how to probe it, and its administrative state. */
export interface ProbeTarget {
  nodeId: string;
  address: string;
  port: number;
  probe?: ProbeSpecFields | undefined;
  /** `MAINTENANCE` is not probed; `DRAIN` and `ACTIVE` are. */
  state: NodeState;
}

/** A target's probe with every default applied: what the scheduler runs. */
export interface EffectiveProbe {
  readonly type: ProbeKind;
  readonly address: string;
  readonly port: number;
  readonly path: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
}

export const DEFAULT_INTERVAL_MS = 5000;
export const DEFAULT_TIMEOUT_MS = 2000;
export const DEFAULT_PATH = '/health';

/** Resolves a target's probe against the defaults (0 and empty mean "the default", as in the proto). */
export function effectiveProbe(target: ProbeTarget, defaults: ProbeDefaults = {}): EffectiveProbe {
  const spec = target.probe ?? {};
  const type: ProbeKind =
    spec.type === ProbeType.TCP ? 'tcp' : spec.type === ProbeType.HTTP ? 'http' : (defaults.type ?? 'http');
  return {
    type,
    address: target.address,
    port: spec.port || target.port,
    path: type === 'http' ? spec.path || defaults.path || DEFAULT_PATH : '',
    intervalMs: spec.intervalMs || defaults.intervalMs || DEFAULT_INTERVAL_MS,
    timeoutMs: spec.timeoutMs || defaults.timeoutMs || DEFAULT_TIMEOUT_MS,
  };
}

/** True when two probes hit the same endpoint the same way (only timing differs, if anything). */
export function sameEndpoint(a: EffectiveProbe, b: EffectiveProbe): boolean {
  return a.type === b.type && a.address === b.address && a.port === b.port && a.path === b.path;
}

/** Whether a node in `state` is probed: maintenance is not (docs/architecture.md, "Documents": neither probed nor answered). */
export function isProbed(state: NodeState): boolean {
  return state !== NodeState.MAINTENANCE;
}

/** The probe target of a node document. */
export function probeTargetOf(node: Node): ProbeTarget {
  return { nodeId: node.id, address: node.address, port: node.port, probe: node.probe, state: node.state };
}
