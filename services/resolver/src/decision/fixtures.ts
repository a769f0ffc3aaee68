import { create } from '@bufbuild/protobuf';
import {
  AllDownPolicy,
  DomainSchema,
  Health,
  NodeSchema,
  NodeState,
  NodeWeightSchema,
  Strategy,
  Tier,
  TierCapacitySchema,
  type Domain,
  type Node,
  type NodeWeight,
  type TierCapacity,
} from '@cdn-sched/proto';

/**
 * Document builders for tests of the decision core and of the resolver's handlers: validated-looking
 * documents with defaults a test overrides field by field. Not exported from the package index.
 */

/** An active node of pool "edge" with capacity 100 rps. */
export function makeNode(id: string, init: Partial<Omit<Node, '$typeName'>> = {}): Node {
  return create(NodeSchema, {
    id,
    address: `192.0.2.${(id.length * 7) % 250}`,
    port: 443,
    country: 'CN',
    region: 'CN-GD',
    isp: 'ct',
    capacityRps: 100,
    state: NodeState.ACTIVE,
    pools: ['edge'],
    ...init,
  });
}

/** One answer, TTL 300 s, weighted, the full fallback chain, best effort when all down. */
export function makeDomain(domain: string, init: Partial<Omit<Domain, '$typeName'>> = {}): Domain {
  return create(DomainSchema, {
    domain,
    pool: 'edge',
    answers: 1,
    ttlS: 300,
    strategy: Strategy.WEIGHTED,
    fallback: [Tier.ISP_REGION, Tier.REGION, Tier.ISP_COUNTRY, Tier.COUNTRY, Tier.ANY],
    allDown: AllDownPolicy.BEST_EFFORT,
    ...init,
  });
}

/** A weight of 100, health UP. */
export function makeWeight(nodeId: string, init: Partial<Omit<NodeWeight, '$typeName'>> = {}): NodeWeight {
  return create(NodeWeightSchema, { nodeId, weight: 100, health: Health.UP, ...init });
}

export function makeCapacity(
  pool: string,
  tier: Tier,
  location: string,
  healthyCapacityRps: number,
  totalCapacityRps: number,
): TierCapacity {
  return create(TierCapacitySchema, { pool, tier, location, healthyCapacityRps, totalCapacityRps });
}
