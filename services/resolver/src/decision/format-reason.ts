import { AllDownPolicy } from '@cdn-sched/proto';
import type { CandidateGroup } from './candidate-group.js';
import type { RoutingTable } from './candidate-tables.js';
import { ReasonCode, type DecisionResult } from './decision-result.js';
import { tierName } from '@cdn-sched/location';

/**
 * The reason of a decision for a person (ResolveResponse.reason), e.g.
 * - "isp+region CN-GD|ct: 3 healthy of 4"
 * - "spill: region CN-GD at 30% healthy capacity < 50%; country CN: 10 healthy of 12"
 * - "below threshold: every tier under 50% healthy capacity; region CN-GD at 30%: 3 healthy of 10"
 * - "outside chain: no healthy node for this client in isp+region, region; pool edge: 120 healthy of 130"
 * - "all down: no healthy node in pool edge; best effort over 130 nodes by capacity"
 * - "unavailable: no healthy node for this client in isp+region, region (all-down policy: error)"
 * - "not found: no policy for domain \"example.com\""
 * The TIER case, by far the most common, returns a string precomputed with the table (no
 * allocation); the others are built on demand. Shares are rounded down, so a share just under the
 * threshold never prints as equal to it.
 */
export function formatReason(table: RoutingTable, result: DecisionResult): string {
  const group = result.group;
  const policy = result.domainIndex >= 0 ? table.domains[result.domainIndex] : undefined;
  const threshold = `${Math.round(table.options.spillThreshold * 100)}%`;
  switch (result.reason) {
    case ReasonCode.TIER:
      return group?.summary ?? '';
    case ReasonCode.SPILL: {
      const from = result.spilledFrom!;
      return `spill: ${where(from)} at ${percent(from)} healthy capacity < ${threshold}; ${group!.summary}`;
    }
    case ReasonCode.BELOW_THRESHOLD:
      return `below threshold: every tier under ${threshold} healthy capacity; ${where(group!)} at ${percent(group!)}: ${counts(group!)}`;
    case ReasonCode.OUTSIDE_CHAIN:
      return `outside chain: no healthy node for this client in ${chain(table, result)}; pool ${policy!.pool.name}: ${counts(group!)}`;
    case ReasonCode.ALL_DOWN:
      return `all down: no healthy node in pool ${policy!.pool.name}; best effort over ${group!.size} nodes by capacity`;
    case ReasonCode.UNAVAILABLE:
      return policy!.pool.all.size === 0
        ? `unavailable: pool ${policy!.pool.name} has no node`
        : `unavailable: no healthy node for this client in ${chain(table, result)} (all-down policy: ${policy!.allDown === AllDownPolicy.ERROR ? 'error' : 'best-effort'})`;
    case ReasonCode.NOT_FOUND:
      return `not found: no policy for domain ${JSON.stringify(result.domain)}`;
    default:
      return '';
  }
}

function where(group: CandidateGroup): string {
  return `${tierName(group.tier)} ${group.key}`;
}

function percent(group: CandidateGroup): string {
  return `${Math.floor(group.healthyShare * 100)}%`;
}

function counts(group: CandidateGroup): string {
  return `${group.healthyCount} healthy of ${group.size}`;
}

function chain(table: RoutingTable, result: DecisionResult): string {
  const fallback = table.domains[result.domainIndex]?.fallback ?? [];
  return fallback.length === 0 ? '(empty fallback chain)' : fallback.map(tierName).join(', ');
}
