import { create } from '@bufbuild/protobuf';
import { ResolveResponseSchema, type ResolveResponse } from '@cdn-sched/proto';
import { formatReason } from '../decision/index.js';
import type { Decided } from './resolve-core.js';

/**
 * Builds the ResolveResponse message of a successful decision (the reflective oracle of the codec
 * tests). `compact` leaves out location, tier and reason (resolver.proto `ResolveRequest.compact`).
 */
export function toResolveResponse(queryId: bigint | number, decided: Decided, compact = false): ResolveResponse {
  const table = decided.table!;
  const r = decided.result;
  const answers = [];
  for (let i = 0; i < r.count; i++) {
    const n = r.nodes[i]!;
    answers.push({ nodeId: table.nodes.ids[n]!, address: table.nodes.addresses[n]!, port: table.nodes.ports[n]!, ttlS: r.ttlS });
  }
  if (compact) {
    return create(ResolveResponseSchema, {
      queryId: BigInt(queryId),
      answers,
      ecsScope: decided.prefixLen,
      degraded: decided.degraded,
      configVersion: table.configVersion,
      weightsVersion: table.weightsVersion,
    });
  }
  return create(ResolveResponseSchema, {
    queryId: BigInt(queryId),
    answers,
    location: { country: decided.location.country, region: decided.location.region, isp: decided.location.isp, prefixLen: decided.prefixLen },
    tier: r.tier,
    reason: formatReason(table, r),
    ecsScope: decided.prefixLen,
    degraded: decided.degraded,
    configVersion: table.configVersion,
    weightsVersion: table.weightsVersion,
  });
}
