import { NodeState } from '@cdn-sched/proto';
import type { Node } from '@cdn-sched/proto';

/**
 * The invariants the weight table relies on for a node document. libs/documents validates the
 * SRE-facing JSON; this is the last line of defence, so that a document that slipped through (or a
 * hand-built one in a test) is rejected with a reason instead of turning into a NaN weight. A
 * rejected update keeps the node's last good document, as docs/architecture.md ("Documents") asks of every document.
 */

/** A node document the table accepted. */
export interface NodeAccepted {
  readonly accepted: true;
}

/** A node document the table refused; its previous version (if any) stays in force. */
export interface NodeRejected {
  readonly accepted: false;
  /** Stable code, fit for a metrics label. */
  readonly code: 'INVALID_NODE';
  /** The id of the rejected document (may be empty when that is the problem). */
  readonly nodeId: string;
  /** For a person, naming the field. */
  readonly error: string;
}

/** The outcome of one node update. */
export type NodeUpdateOutcome = NodeAccepted | NodeRejected;

/** The one accepted outcome, shared. */
export const NODE_ACCEPTED: NodeAccepted = Object.freeze({ accepted: true });

/** The rejection for `node`, or undefined when the table can use it. Pure. */
export function validateNodeDocument(node: Node): NodeRejected | undefined {
  const problem = findProblem(node);
  if (problem === undefined) return undefined;
  return { accepted: false, code: 'INVALID_NODE', nodeId: node.id, error: `node ${node.id}: ${problem}` };
}

function findProblem(node: Node): string | undefined {
  if (node.id === '') return 'id must not be empty';
  if (!(node.capacityRps > 0) || node.capacityRps === Infinity) {
    return `capacity_rps must be a finite number > 0, got ${String(node.capacityRps)}`;
  }
  if (node.state !== NodeState.ACTIVE && node.state !== NodeState.DRAIN && node.state !== NodeState.MAINTENANCE) {
    return `state must be ACTIVE, DRAIN or MAINTENANCE, got ${NodeState[node.state] ?? String(node.state)}`;
  }
  return undefined;
}
