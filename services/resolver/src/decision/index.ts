export { answerTtlS } from './answer-ttl.js';
export type { CandidateGroup, GroupWeighting } from './candidate-group.js';
export { buildRoutingTable, findDomainIndex, MAX_ANSWERS } from './candidate-tables.js';
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
export { pickConsistent, pickWeighted } from './pick.js';
export { createRng, nextU32, nextUniform } from './random.js';
