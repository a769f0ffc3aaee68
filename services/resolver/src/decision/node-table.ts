import { Health, NodeState, type Node, type NodeWeight } from '@cdn-sched/proto';

/**
 * The nodes a routing table can answer, as a struct of arrays indexed by node index (the integers a
 * decision writes into its result). Maintenance nodes are not in it at all: they are "not probed,
 * not answered" (documents.proto), not even by a best-effort all-down answer.
 */
export interface NodeTable {
  readonly count: number;
  readonly ids: readonly string[];
  readonly addresses: readonly string[];
  readonly ports: Int32Array;
  readonly capacityRps: Float64Array;
  /** Weight a decision uses: 0 for drained nodes and for nodes the weight-calculator reports DOWN. */
  readonly weights: Float64Array;
  /** Health as used here; UNKNOWN for a node no weight has been received for yet. */
  readonly health: Uint8Array;
  /** `NodeState` per node: ACTIVE or DRAIN. */
  readonly states: Uint8Array;
  /** 1 when the node has no weight yet and got the cold-start weight (see `buildNodeTable`). */
  readonly coldStart: Uint8Array;
  /** Nodes with `coldStart` 1. */
  readonly coldStartCount: number;
  /** The source documents, by node index. */
  readonly docs: readonly Node[];
  readonly indexById: ReadonlyMap<string, number>;
}

/**
 * Builds the node table from the node documents and the weights known so far.
 *
 * Effective weight of a node:
 * - state DRAIN → 0 (still probed, receives no new traffic), whatever its health;
 * - health DOWN → 0;
 * - a weight is known → that weight (negative or NaN → 0);
 * - no weight yet (the resolver started before the weight stream delivered, or the node was added
 *   a moment ago) → health UNKNOWN and `capacityRps × scale`, where scale is Σ weight / Σ capacity
 *   over the nodes that do have a positive weight, or 1 when none does. Proportional to capacity,
 *   as the weight formula is on a fleet without probe data, and on the same scale as the known
 *   weights, so a new node neither hogs nor starves next to weighed ones whatever unit the
 *   weight-calculator uses. UNKNOWN counts as healthy: answering nothing until the first probe
 *   round would turn every resolver restart into an outage.
 *
 * Duplicate ids: the last document wins. Weights of unknown node ids are ignored.
 */
export function buildNodeTable(nodes: Iterable<Node>, weights: Iterable<NodeWeight>): NodeTable {
  const byId = new Map<string, Node>();
  for (const node of nodes) {
    if (node.state === NodeState.MAINTENANCE) byId.delete(node.id);
    else byId.set(node.id, node);
  }
  const weightById = new Map<string, NodeWeight>();
  for (const w of weights) weightById.set(w.nodeId, w);

  const docs = [...byId.values()];
  const count = docs.length;
  const table = {
    count,
    ids: docs.map((n) => n.id),
    addresses: docs.map((n) => n.address),
    ports: new Int32Array(count),
    capacityRps: new Float64Array(count),
    weights: new Float64Array(count),
    health: new Uint8Array(count),
    states: new Uint8Array(count),
    coldStart: new Uint8Array(count),
    coldStartCount: 0,
    docs,
    indexById: new Map(docs.map((n, i) => [n.id, i])),
  } satisfies NodeTable;

  let knownWeight = 0;
  let knownCapacity = 0;
  for (let i = 0; i < count; i++) {
    const node = docs[i]!;
    table.ports[i] = node.port;
    table.capacityRps[i] = positive(node.capacityRps);
    // UNSPECIFIED is proto3's "field absent"; validated documents always carry a state, and a node
    // with none is treated as the document default, active.
    table.states[i] = node.state === NodeState.DRAIN ? NodeState.DRAIN : NodeState.ACTIVE;
    const known = weightById.get(node.id);
    if (known === undefined) {
      table.health[i] = Health.UNKNOWN;
      table.coldStart[i] = 1;
      continue;
    }
    table.health[i] = healthOf(known);
    const weight = knownWeightOf(known);
    table.weights[i] = weight;
    if (weight > 0) {
      knownWeight += weight;
      knownCapacity += table.capacityRps[i]!;
    }
  }

  const scale = knownWeight > 0 && knownCapacity > 0 ? knownWeight / knownCapacity : 1;
  let coldStartCount = 0;
  for (let i = 0; i < count; i++) {
    if (table.coldStart[i] === 1) {
      table.weights[i] = table.capacityRps[i]! * scale;
      coldStartCount++;
    }
    if (table.states[i] === NodeState.DRAIN) table.weights[i] = 0;
  }
  return { ...table, coldStartCount };
}

/** Health as the tables use it: UNSPECIFIED (proto3's absent) reads as UNKNOWN. */
export function healthOf(known: NodeWeight): Health {
  return known.health === Health.UNSPECIFIED ? Health.UNKNOWN : known.health;
}

/** A received weight as the tables use it, before drain: 0 when DOWN, negative or NaN. */
export function knownWeightOf(known: NodeWeight): number {
  return known.health === Health.DOWN ? 0 : positive(known.weight);
}

function positive(x: number): number {
  return x > 0 && Number.isFinite(x) ? x : 0;
}
