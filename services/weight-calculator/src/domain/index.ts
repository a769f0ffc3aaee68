// The weight-calculator's domain logic: pure, clock-free (every call takes `nowMs`), no I/O.
// The service's gRPC and etcd wiring uses `createWeightTable`; the parts are exported for tests,
// for the status endpoint (resolved options, factors) and for the README's explanations.

export { createWeightTable } from './weight-table.js';
export type { WeightTable, WeightTableOptions, WeightTableSnapshot, WeightTick } from './weight-table.js';

export { INGEST_ACCEPTED, DEFAULT_PROBE_VALIDATION_OPTIONS, createProbeValidator } from './probe-validation.js';
export type {
  IngestAccepted,
  IngestOutcome,
  IngestRejectCode,
  IngestRejected,
  ProbeValidationOptions,
  ProbeValidator,
} from './probe-validation.js';

export { NODE_ACCEPTED, validateNodeDocument } from './node-validation.js';
export type { NodeAccepted, NodeRejected, NodeUpdateOutcome } from './node-validation.js';

export { DEFAULT_HYSTERESIS_OPTIONS, MAX_HYSTERESIS_WINDOW, createHysteresis, resolveHysteresisOptions } from './health-state.js';
export type { Hysteresis, HysteresisOptions } from './health-state.js';

export { DEFAULT_QUORUM_OPTIONS, createQuorum, createVoteTally, resetVoteTally } from './quorum.js';
export type { Quorum, QuorumOptions, VoteTally } from './quorum.js';

export { DEFAULT_NODE_DECISION_OPTIONS, createNodeDecider } from './node-decision.js';
export type { NodeDecider, NodeDecisionOptions, NodeDecisionRecord, ServingMode } from './node-decision.js';

export { DEFAULT_PROBE_STATS_OPTIONS, MAX_LOSS_WINDOW, createProbeStats } from './probe-stats.js';
export type { ProbeStats, ProbeStatsOptions } from './probe-stats.js';

export { createProbeTerms } from './probe-terms.js';
export type { ProbeTerms } from './probe-terms.js';

export { DEFAULT_WEIGHT_FORMULA_OPTIONS, createWeightFormula } from './weight-formula.js';
export type { WeightFormula, WeightFormulaOptions, WeightInputs } from './weight-formula.js';

export { DEFAULT_DAMPING_OPTIONS, createDamping } from './damping.js';
export type { Damping, DampingOptions } from './damping.js';

export { DEFAULT_SLOW_START_OPTIONS, createSlowStart } from './slow-start.js';
export type { SlowStart, SlowStartOptions } from './slow-start.js';

export { DEFAULT_MATERIAL_CHANGE_OPTIONS, createMaterialChange } from './material-change.js';
export type { MaterialChange, MaterialChangeOptions, WeightAndHealth } from './material-change.js';

export { computeTierCapacities, sameTierCapacities } from './capacity.js';
export type { CapacityEntry } from './capacity.js';

export { createSlotStore } from './slot-store.js';
export type { SlotStore } from './slot-store.js';

export { popcount } from './popcount.js';
