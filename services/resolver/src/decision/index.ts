export { answerTtlS } from './answer-ttl.js';
export type { CandidateGroup, GroupWeighting, LookupCell } from './candidate-group.js';
export { pickWeightsByNode } from './candidate-group.js';
export { buildRoutingTable, codeId, collectConsistentGroups, findDomainIndex, MAX_ANSWERS } from './candidate-tables.js';
export { buildLookupNow, createLookupRefresher, isEagerLookup, isLookupStale, LOOKUP_EAGER_MAX_BYTES, lookupTableBytes, LOOKUP_MIN_MEMBERS, LOOKUP_SETTLE_MS, LOOKUP_STALE_DISTANCE, needsLookup } from './consistent-lookups.js';
export type { LookupRefresher, LookupRefresherOptions } from './consistent-lookups.js';
export type {
  DomainPolicy,
  PoolTable,
  ResolvedTableOptions,
  RoutingTable,
  RoutingTableInput,
  RoutingTableOptions,
} from './candidate-tables.js';
export { decide } from './decide.js';
export { createDecisionQuery, createDecisionResult, DecisionStatus, ReasonCode } from './decision-result.js';
export type { DecisionQuery, DecisionResult } from './decision-result.js';
export { formatReason } from './format-reason.js';
export type { NodeTable } from './node-table.js';
export { pickConsistent, pickWeighted, scoreConsistent } from './pick.js';
export { createRng, nextU32, nextUniform } from './random.js';
export { applyWeightUpdate, weightUpdateSteps } from './weight-update.js';
export type { WeightUpdate } from './weight-update.js';
