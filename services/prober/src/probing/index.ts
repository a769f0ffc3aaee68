export {
  DEFAULT_REPLICATION_FACTOR,
  assignedNodes,
  assignmentOf,
  countUnderReplicated,
  effectiveReplication,
  movedAssignments,
  ownersOf,
} from './assignment.js';
export type { ReplicationCheck } from './assignment.js';
export { PROBE_CLASS_NAMES, ProbeError, classifyError, describeError, probeClassName } from './classify.js';
export type { ProbeClassName, ProbeErrorCode } from './classify.js';
export { DueHeap } from './due-heap.js';
export type { DueItem } from './due-heap.js';
export { LOAD_HEADER, parseEdgeLoad } from './edge-load.js';
export type { EdgeLoad } from './edge-load.js';
export { createHostPool, originOf } from './host-pool.js';
export type { Exchange, ExchangeOptions, HostPool, HostPoolOptions } from './host-pool.js';
export { httpProbe } from './http-probe.js';
export type { HttpProbeRequest } from './http-probe.js';
export { createPoolRegistry } from './pool-registry.js';
export type { PoolRegistry } from './pool-registry.js';
export { LOAD_NOT_REPORTED, probeFailure, probeSuccess } from './probe-result.js';
export type { ProbeTimings } from './probe-result.js';
export { createProbeRunner } from './probe-runner.js';
export type { ProbeChannel, ProbeRun, ProbeRunner, ProbeRunnerOptions } from './probe-runner.js';
export { createProbeStats } from './probe-stats.js';
export type { ProbeStats, ProbeStatsOptions, ProbeStatsSnapshot } from './probe-stats.js';
export {
  DEFAULT_INTERVAL_MS,
  DEFAULT_PATH,
  DEFAULT_TIMEOUT_MS,
  effectiveProbe,
  isProbed,
  probeTargetOf,
  sameEndpoint,
} from './probe-target.js';
export type { EffectiveProbe, ProbeDefaults, ProbeKind, ProbeSpecFields, ProbeTarget } from './probe-target.js';
export { createProbeScheduler } from './scheduler.js';
export type { ProbeScheduler, ProbeSchedulerOptions, SchedulerStats, TargetStatus } from './scheduler.js';
export { tcpProbe } from './tcp-probe.js';
export type { TcpProbeRequest } from './tcp-probe.js';
