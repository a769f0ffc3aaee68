import { rendezvousOwners } from '@cdn-sched/rendezvous';

/** Probers that see each node, by default: every node is seen from two vantage points. */
export const DEFAULT_REPLICATION_FACTOR = 2;

/** Replication actually achievable: R capped by the number of live probers. */
export function effectiveReplication(memberCount: number, replicationFactor = DEFAULT_REPLICATION_FACTOR): number {
  return Math.max(0, Math.min(Math.floor(replicationFactor), memberCount));
}

/**
 * The probers that own `nodeId`, best first: the top R of rendezvous (highest-random-weight) hashing
 * over the member ids. Every prober computes the same answer from the same member list, with no
 * coordination, and a membership change moves only the assignments it must: a new member takes
 * about R/(n+1) of the nodes, a leaving member's nodes go to the next-best member each.
 */
export function ownersOf(nodeId: string, members: readonly string[], replicationFactor = DEFAULT_REPLICATION_FACTOR): string[] {
  const r = effectiveReplication(members.length, replicationFactor);
  return r === 0 ? [] : rendezvousOwners(nodeId, members, r);
}

/** The nodes `self` probes, in input order; none while `self` is not a member (not yet registered). */
export function assignedNodes(
  self: string,
  members: readonly string[],
  nodeIds: Iterable<string>,
  replicationFactor = DEFAULT_REPLICATION_FACTOR,
): string[] {
  if (!members.includes(self)) return [];
  const out: string[] = [];
  for (const nodeId of nodeIds) if (ownersOf(nodeId, members, replicationFactor).includes(self)) out.push(nodeId);
  return out;
}

/** Owners of every node: node id → member ids, best first. */
export function assignmentOf(
  members: readonly string[],
  nodeIds: Iterable<string>,
  replicationFactor = DEFAULT_REPLICATION_FACTOR,
): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const nodeId of nodeIds) out.set(nodeId, ownersOf(nodeId, members, replicationFactor));
  return out;
}

/**
 * (node, prober) pairs in `after` that were not in `before`: the probing work a membership change
 * moved. Logged on each change; it is ≈ R·N/(n+1) when one member joins n, not a reshuffle.
 */
export function movedAssignments(before: ReadonlyMap<string, readonly string[]>, after: ReadonlyMap<string, readonly string[]>): number {
  let moved = 0;
  for (const [nodeId, owners] of after) {
    const previous = before.get(nodeId) ?? [];
    for (const owner of owners) if (!previous.includes(owner)) moved++;
  }
  return moved;
}

/** Inputs of {@link countUnderReplicated}. */
export interface ReplicationCheck {
  nodeIds: Iterable<string>;
  /** Live probers (the membership in etcd). */
  members: readonly string[];
  /** Defaults to {@link DEFAULT_REPLICATION_FACTOR}. */
  replicationFactor?: number;
  /**
   * The member list each prober currently probes with (its applied membership). A member missing
   * here covers nothing (registered, not yet probing). Defaults to every member seeing `members`.
   */
  views?: ReadonlyMap<string, readonly string[]>;
}

/**
 * Nodes covered by fewer probers than min(R, live members), as ProbeStatus reports them. With every
 * prober on the same membership this is 0 by construction; it rises while probers disagree about
 * the membership (a join or a lease expiry not yet seen by all) or while a member has not started.
 */
export function countUnderReplicated(check: ReplicationCheck): number {
  const { members, views } = check;
  const r = check.replicationFactor ?? DEFAULT_REPLICATION_FACTOR;
  const wanted = effectiveReplication(members.length, r);
  // Members sharing a view (all of them, normally) share one owner computation per node.
  const groups = new Map<readonly string[], Set<string>>();
  for (const member of members) {
    const view = views ? views.get(member) : members;
    if (!view || !view.includes(member)) continue;
    let group = groups.get(view);
    if (!group) groups.set(view, (group = new Set()));
    group.add(member);
  }
  let under = 0;
  for (const nodeId of check.nodeIds) {
    let covered = 0;
    for (const [view, group] of groups) {
      for (const owner of ownersOf(nodeId, view, r)) if (group.has(owner)) covered++;
    }
    if (covered < wanted) under++;
  }
  return under;
}
