import { Tier } from '@cdn-sched/proto';
import type { CandidateGroup } from './candidate-group.js';
import { MAX_ANSWERS, type RoutingTable } from './candidate-tables.js';
import type { LocationCodes } from '@cdn-sched/location';

/** Outcome of a decision; the gRPC handler maps NOT_FOUND → 5 and UNAVAILABLE → 14. */
export enum DecisionStatus {
  OK = 0,
  /** No policy for the domain. */
  NOT_FOUND = 1,
  /** Nothing healthy for this client and the domain's all-down policy is ERROR (or the pool is empty). */
  UNAVAILABLE = 2,
}

/** Why the answers came from where they did; `formatReason` turns it into the human string. */
export enum ReasonCode {
  NONE = 0,
  /** The first applicable tier of the chain had healthy capacity at or above the threshold. */
  TIER = 1,
  /** An earlier tier had healthy nodes but a share below the threshold; a later tier answered. */
  SPILL = 2,
  /** No tier reached the threshold; the first tier with any healthy node answered. */
  BELOW_THRESHOLD = 3,
  /** No tier of the chain has a healthy node for this client, the pool has some elsewhere. */
  OUTSIDE_CHAIN = 4,
  /** No node of the pool is healthy: best-effort answer from every node, by capacity. */
  ALL_DOWN = 5,
  /** Nothing to answer under the domain's policy (see DecisionStatus.UNAVAILABLE). */
  UNAVAILABLE = 6,
  NOT_FOUND = 7,
}

/** One routing question. Reuse one object per caller: decide() only reads it. */
export interface DecisionQuery {
  /**
   * Index of the policy in `table.domains`, from `findDomainIndex` on the same table (indices are
   * not stable across rebuilds), or -1 to look up `domain`.
   */
  domainIndex: number;
  /** Domain asked for; read only when `domainIndex` is -1. */
  domain: string;
  /** Client location codes; empty strings for unknown codes. */
  location: LocationCodes;
  /**
   * The table whose code ids (`countryIds`, `regionIds`, `ispIds`; −1 for a code it does not have)
   * `countryId`, `regionId` and `ispId` hold for `location`, when the caller has them at hand (the
   * resolver keeps them per location of its IP database): a decision with that table reads them
   * instead of looking the three codes up; with any other table, or null, it looks them up.
   */
  codesOf: RoutingTable | null;
  countryId: number;
  regionId: number;
  ispId: number;
  /**
   * Well-mixed 32-bit hash of the client's network, the key of the consistent strategy: e.g.
   * `hashU32(ipv4 & 0xffffff00)` for the /24, or a hash of the IPv6 /56 or of the ECS subnet.
   * Only the low 32 bits count, signed or unsigned alike.
   */
  clientKeyHash: number;
  /** Answers wanted; 0 = the policy's count. Capped at 16. */
  answers: number;
  /** xorshift32 state for the weighted strategy (`createRng(seed)`), advanced in place. */
  rng: Int32Array;
}

/**
 * A decision, written in place by decide(): allocate one per caller (or per in-flight slot) with
 * `createDecisionResult` and reuse it. Valid until the next decide() into the same object.
 */
export interface DecisionResult {
  status: DecisionStatus;
  reason: ReasonCode;
  /** Answer node indices into `table.nodes`, best first for CONSISTENT; the first `count` are valid. */
  readonly nodes: Int32Array;
  count: number;
  /** Tier the answers came from; ANY for best-effort answers from the whole pool, UNSPECIFIED when none. */
  tier: Tier;
  /** True for best-effort answers (OUTSIDE_CHAIN, ALL_DOWN) and BELOW_THRESHOLD. */
  degraded: boolean;
  ttlS: number;
  /** Resolved policy index, -1 when NOT_FOUND. */
  domainIndex: number;
  /** Domain string of the query when NOT_FOUND (for the message), else the policy's domain. */
  domain: string;
  /** Group the answers came from (null when none): its summary is the reason text of TIER. */
  group: CandidateGroup | null;
  /** First tier of the chain that was skipped for being below the threshold (SPILL), else null. */
  spilledFrom: CandidateGroup | null;
}

export function createDecisionResult(): DecisionResult {
  return {
    status: DecisionStatus.OK,
    reason: ReasonCode.NONE,
    nodes: new Int32Array(MAX_ANSWERS),
    count: 0,
    tier: Tier.UNSPECIFIED,
    degraded: false,
    ttlS: 0,
    domainIndex: -1,
    domain: '',
    group: null,
    spilledFrom: null,
  };
}

/** A query with unknown location, to be filled in and reused; `rng` from `createRng(seed)`. */
export function createDecisionQuery(rng: Int32Array): DecisionQuery {
  return {
    domainIndex: -1,
    domain: '',
    location: { country: '', region: '', isp: '' },
    codesOf: null,
    countryId: -1,
    regionId: -1,
    ispId: -1,
    clientKeyHash: 0,
    answers: 0,
    rng,
  };
}
