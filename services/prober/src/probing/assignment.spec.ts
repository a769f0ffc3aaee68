import { describe, expect, it } from 'vitest';
import {
  assignedNodes,
  assignmentOf,
  countUnderReplicated,
  effectiveReplication,
  movedAssignments,
  ownersOf,
} from './assignment.js';

const nodes = Array.from({ length: 6000 }, (_, i) => `edge-${i}`);

describe('prober assignment', () => {
  it('gives each node R distinct owners, R capped by the member count', () => {
    expect(effectiveReplication(5, 2)).toBe(2);
    expect(effectiveReplication(1, 2)).toBe(1);
    expect(effectiveReplication(0, 2)).toBe(0);
    expect(ownersOf('edge-1', ['a', 'b', 'c'], 2)).toHaveLength(2);
    expect(ownersOf('edge-1', ['a'], 3)).toEqual(['a']);
    expect(ownersOf('edge-1', [], 2)).toEqual([]);
    expect(new Set(ownersOf('edge-1', ['a', 'b', 'c', 'd'], 3)).size).toBe(3);
  });

  it('lets every prober compute the same split, whatever order it lists the members in', () => {
    const members = ['p1', 'p2', 'p3'];
    const shares = members.map((m) => assignedNodes(m, members, nodes, 2));
    const reversed = members.map((m) => assignedNodes(m, [...members].reverse(), nodes, 2));
    expect(reversed).toEqual(shares);
    // R = 2 of 3: every node twice, each prober about 2/3 of the fleet.
    expect(shares.reduce((n, s) => n + s.length, 0)).toBe(2 * nodes.length);
    for (const share of shares) expect(share.length / nodes.length).toBeCloseTo(2 / 3, 1);
    expect(assignedNodes('stranger', members, nodes)).toEqual([]);
  });

  it('scaling from 2 to 3 probers moves about 1/3 of the assignments, all to the new one', () => {
    for (const r of [1, 2]) {
      const before = assignmentOf(['p1', 'p2'], nodes, r);
      const after = assignmentOf(['p1', 'p2', 'p3'], nodes, r);
      const moved = movedAssignments(before, after);
      expect(moved / (r * nodes.length)).toBeGreaterThan(0.3);
      expect(moved / (r * nodes.length)).toBeLessThan(0.37);
      for (const [node, owners] of after) {
        for (const owner of owners) if (!before.get(node)!.includes(owner)) expect(owner).toBe('p3');
      }
    }
  });

  it('removing a prober moves only the nodes it had', () => {
    const members = ['p1', 'p2', 'p3', 'p4'];
    const before = assignmentOf(members, nodes, 2);
    const after = assignmentOf(members.filter((m) => m !== 'p2'), nodes, 2);
    let touched = 0;
    for (const [node, owners] of after) {
      const previous = before.get(node)!;
      if (!previous.includes('p2')) expect(owners).toEqual(previous);
      else {
        touched++;
        // The surviving owner keeps the node; one replacement joins.
        expect(owners.filter((o) => previous.includes(o))).toHaveLength(1);
      }
    }
    expect(movedAssignments(before, after)).toBe(touched);
    expect(touched / nodes.length).toBeCloseTo(2 / 4, 1);
  });

  it('counts nodes covered by fewer than min(R, members) probers', () => {
    const members = ['p1', 'p2', 'p3'];
    expect(countUnderReplicated({ nodeIds: nodes, members, replicationFactor: 2 })).toBe(0);
    // One live prober with R = 2: min(R, 1) = 1, so nothing is under-replicated.
    expect(countUnderReplicated({ nodeIds: nodes, members: ['p1'], replicationFactor: 2 })).toBe(0);
    // p3 registered but not probing yet: the nodes it owns have one prober instead of two.
    const views = new Map([
      ['p1', members],
      ['p2', members],
    ]);
    const p3Share = assignedNodes('p3', members, nodes, 2).length;
    expect(countUnderReplicated({ nodeIds: nodes, members, replicationFactor: 2, views })).toBe(p3Share);
    // p3 probing but p1 and p2 have not seen it join: they still split the fleet between the two of
    // them, so every node keeps its 2 probers (p3 adds a third to some): none under-replicated.
    const lagging = new Map([
      ['p1', ['p1', 'p2']],
      ['p2', ['p1', 'p2']],
      ['p3', members],
    ]);
    expect(countUnderReplicated({ nodeIds: nodes, members, replicationFactor: 2, views: lagging })).toBe(0);
    // The other way round: p1 still believes in a departed p4, so nodes it cedes to p4 lose a prober.
    const stale = new Map<string, string[]>([
      ['p1', ['p1', 'p2', 'p4']],
      ['p2', ['p1', 'p2']],
    ]);
    const lost = nodes.filter((n) => ownersOf(n, ['p1', 'p2']).includes('p1') && !ownersOf(n, ['p1', 'p2', 'p4']).includes('p1'));
    expect(lost.length).toBeGreaterThan(0);
    expect(countUnderReplicated({ nodeIds: nodes, members: ['p1', 'p2'], replicationFactor: 2, views: stale })).toBe(lost.length);
  });
});
