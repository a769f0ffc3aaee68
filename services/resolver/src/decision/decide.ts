import { AllDownPolicy, Strategy, Tier } from '@cdn-sched/proto';
import { answerTtlS } from './answer-ttl.js';
import { pickWeightsByNode, type CandidateGroup } from './candidate-group.js';
import { codeId, findDomainIndex, MAX_ANSWERS, type DomainPolicy, type RoutingTable } from './candidate-tables.js';
import { DecisionStatus, ReasonCode, type DecisionQuery, type DecisionResult } from './decision-result.js';
import { pickConsistent, pickWeighted } from './pick.js';
import { locationId } from '@cdn-sched/location';

/**
 * One routing decision: the fallback chain of the domain's policy, then a pick inside the chosen
 * tier. Writes into `out` and returns it; reads only `table` and `query`, allocates nothing (Map
 * lookups by string or small-integer key, typed arrays, module-level scratch), so the request path
 * puts no pressure on the GC. The one exception is a domain name not in canonical form (upper
 * case, trailing dot), which `findDomainIndex` lower-cases into a new string.
 *
 * Tier choice, in the policy's order:
 * - a tier whose location key is unknown for this client (empty ISP or region, or a code no node
 *   of the table has) or that has no node of the pool at that location is skipped silently: the
 *   client was never served there, so it is not a spill;
 * - the first tier with a node of weight > 0 and a healthy capacity share ≥ `spillThreshold`
 *   answers: reason TIER, or SPILL when an earlier tier had nodes but fell short (share below the
 *   threshold, or every node down or drained — share 0).
 *
 * Spill is all-or-nothing per tier, not a mix. An SRE reads one tier and one reason per answer,
 * a consistent-strategy subnet stays on one edge instead of being split between tiers by a moving
 * fraction, and the short TTL of spilled answers (answer-ttl.ts) brings clients back within
 * seconds once the tier is above the threshold again. The price is a step: at the threshold all of
 * the tier's clients move at once, so pick the threshold as the share at which the tier's healthy
 * nodes can no longer carry its load (0.5 = nodes sized for 2× their normal share).
 *
 * When no tier reaches the threshold, the first tier with any healthy node answers anyway
 * (BELOW_THRESHOLD, degraded): less capacity is still better than none. When no tier of the chain
 * has a healthy node for this client, the all-down policy decides: ERROR → UNAVAILABLE;
 * BEST_EFFORT → the pool's healthy nodes anywhere (OUTSIDE_CHAIN) or, when the whole pool is down,
 * every non-maintenance node of the pool by capacity, drained ones included (ALL_DOWN) — gdnsd's
 * "all down means all up": a probe outage must not become a DNS outage. Both are degraded.
 */
export function decide(table: RoutingTable, query: DecisionQuery, out: DecisionResult): DecisionResult {
  out.count = 0;
  out.group = null;
  out.spilledFrom = null;
  out.degraded = false;
  out.tier = Tier.UNSPECIFIED;
  out.ttlS = 0;

  let domainIndex = query.domainIndex;
  if (domainIndex < 0 || domainIndex >= table.domains.length) domainIndex = findDomainIndex(table, query.domain);
  if (domainIndex < 0) {
    out.status = DecisionStatus.NOT_FOUND;
    out.reason = ReasonCode.NOT_FOUND;
    out.domainIndex = -1;
    out.domain = query.domain;
    return out;
  }
  const policy = table.domains[domainIndex]!;
  out.domainIndex = domainIndex;
  out.domain = policy.domain;

  let countryId: number;
  let regionId: number;
  let ispId: number;
  if (query.codesOf === table) {
    countryId = query.countryId;
    regionId = query.regionId;
    ispId = query.ispId;
  } else {
    const loc = query.location;
    countryId = codeId(table.countryIds, loc.country);
    regionId = codeId(table.regionIds, loc.region);
    ispId = codeId(table.ispIds, loc.isp);
  }
  const threshold = table.options.spillThreshold;
  const tiers = policy.pool.tiers;
  const fallback = policy.fallback;

  let chosen: CandidateGroup | null = null;
  let firstBelow: CandidateGroup | null = null;
  let firstHealthy: CandidateGroup | null = null;
  for (let i = 0; i < fallback.length; i++) {
    const tier = fallback[i]!;
    const id = locationId(tier, countryId, regionId, ispId, table.ispStride);
    if (id < 0) continue;
    const group = tiers[tier]!.get(id);
    if (group === undefined) continue;
    if (group.totalWeight > 0 && group.healthyShare >= threshold) {
      chosen = group;
      break;
    }
    if (firstBelow === null) firstBelow = group;
    if (firstHealthy === null && group.totalWeight > 0) firstHealthy = group;
  }

  let reason: ReasonCode;
  if (chosen !== null) {
    reason = firstBelow === null ? ReasonCode.TIER : ReasonCode.SPILL;
    out.spilledFrom = firstBelow;
  } else if (firstHealthy !== null) {
    chosen = firstHealthy;
    reason = ReasonCode.BELOW_THRESHOLD;
  } else if (policy.allDown === AllDownPolicy.BEST_EFFORT && policy.pool.all.totalWeight > 0) {
    chosen = policy.pool.all;
    reason = ReasonCode.OUTSIDE_CHAIN;
  } else if (policy.allDown === AllDownPolicy.BEST_EFFORT && policy.pool.bestEffort.pickableCount > 0) {
    chosen = policy.pool.bestEffort;
    reason = ReasonCode.ALL_DOWN;
  } else {
    out.status = DecisionStatus.UNAVAILABLE;
    out.reason = ReasonCode.UNAVAILABLE;
    return out;
  }

  out.status = DecisionStatus.OK;
  out.reason = reason;
  out.group = chosen;
  out.tier = chosen.tier;
  out.degraded = reason !== ReasonCode.TIER && reason !== ReasonCode.SPILL;
  out.ttlS = answerTtlS(policy, chosen, reason !== ReasonCode.TIER, table.options);
  out.count = pick(table, policy, chosen, query, out.nodes);
  return out;
}

function pick(table: RoutingTable, policy: DomainPolicy, group: CandidateGroup, query: DecisionQuery, nodes: Int32Array): number {
  const k = query.answers > 0 ? Math.min(query.answers, MAX_ANSWERS) : policy.answers;
  return policy.strategy === Strategy.CONSISTENT
    ? // | 0: the same 32 bits as a signed int, which V8 passes as a small integer; an unsigned
      // value ≥ 2^31 would be boxed into a heap number on every call that is not inlined.
      pickConsistent(group, query.clientKeyHash | 0, k, nodes, pickWeightsByNode(table.nodes, group))
    : pickWeighted(group, k, query.rng, nodes);
}
