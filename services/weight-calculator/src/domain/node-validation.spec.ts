import { describe, expect, it } from 'vitest';
import { create } from '@bufbuild/protobuf';
import { NodeSchema, NodeState } from '@cdn-sched/proto';
import { validateNodeDocument } from './node-validation.js';

const good = { id: 'n1', capacityRps: 100, state: NodeState.ACTIVE, country: 'CN', pools: ['video'] };

describe('validateNodeDocument', () => {
  it('accepts active, drained and maintenance nodes', () => {
    for (const state of [NodeState.ACTIVE, NodeState.DRAIN, NodeState.MAINTENANCE]) {
      expect(validateNodeDocument(create(NodeSchema, { ...good, state }))).toBeUndefined();
    }
  });

  it.each([
    [{ id: '' }, 'node : id must not be empty'],
    [{ capacityRps: 0 }, 'node n1: capacity_rps must be a finite number > 0, got 0'],
    [{ capacityRps: -3 }, 'node n1: capacity_rps must be a finite number > 0, got -3'],
    [{ capacityRps: Number.NaN }, 'node n1: capacity_rps must be a finite number > 0, got NaN'],
    [{ capacityRps: Infinity }, 'node n1: capacity_rps must be a finite number > 0, got Infinity'],
    [{ state: NodeState.UNSPECIFIED }, 'node n1: state must be ACTIVE, DRAIN or MAINTENANCE, got UNSPECIFIED'],
  ])('rejects %o', (patch, error) => {
    const node = create(NodeSchema, { ...good, ...patch });
    expect(validateNodeDocument(node)).toEqual({ accepted: false, code: 'INVALID_NODE', nodeId: node.id, error });
  });
});
