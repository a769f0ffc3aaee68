import { describe, expect, it } from 'vitest';
import { buildRoutingTable } from '../decision/index.js';
import { createVersionTracing } from './version-tracing.js';

const CONFIG_PRODUCER = '00-11111111111111111111111111111111-1111111111111111-01';
const REPLICA_A_PRODUCER = '00-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-aaaaaaaaaaaaaaaa-01';
const REPLICA_B_PRODUCER = '00-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-bbbbbbbbbbbbbbbb-01';

const tableAt = (configVersion: bigint, weightsVersion: bigint) => buildRoutingTable({ nodes: [], domains: [], configVersion, weightsVersion });
const linked = (links: { context: { spanId: string }; attributes?: unknown }[]) => links.map((l) => [l.context.spanId, l.attributes]);

describe('createVersionTracing', () => {
  it('links a table to the producers of its config version and of its weight version in its own epoch', () => {
    const tracing = createVersionTracing();
    tracing.configApplied(40, CONFIG_PRODUCER, true);
    tracing.weightsApplied('wc-a@1', 5, REPLICA_A_PRODUCER, true);
    const table = tableAt(40n, 5n);
    tracing.tableBuilt(table, 'wc-a@1');
    expect(linked(tracing.links(table))).toEqual([
      ['1111111111111111', { 'cdn.config.version': 40 }],
      ['aaaaaaaaaaaaaaaa', { 'cdn.weights.version': 5 }],
    ]);
  });

  it('after a failover to a replica whose versions collide, each table still links to the span that made its own weights', () => {
    // Every weight-calculator replica numbers its own versions: replica B's version 5 is not A's.
    const tracing = createVersionTracing();
    tracing.weightsApplied('wc-a@1', 5, REPLICA_A_PRODUCER, false);
    const fromA = tableAt(40n, 5n);
    tracing.tableBuilt(fromA, 'wc-a@1');
    // The standby stream to B applies B's snapshot at the same number while decisions still use A's table.
    tracing.weightsApplied('wc-b@2', 5, REPLICA_B_PRODUCER, true);
    expect(linked(tracing.links(fromA))).toEqual([['aaaaaaaaaaaaaaaa', { 'cdn.weights.version': 5 }]]);
    const fromB = tableAt(40n, 5n);
    tracing.tableBuilt(fromB, 'wc-b@2');
    expect(linked(tracing.links(fromB))).toEqual([['bbbbbbbbbbbbbbbb', { 'cdn.weights.version': 5 }]]);
  });

  it("links nothing for an untraced version of a new epoch, not another epoch's span of the same number", () => {
    const tracing = createVersionTracing();
    tracing.weightsApplied('wc-a@1', 3, REPLICA_A_PRODUCER, true);
    tracing.tableBuilt(tableAt(40n, 3n), 'wc-a@1');
    // The new leader restarted its numbering; its version 3 came without a (sampled) producer.
    tracing.weightsApplied('wc-b@2', 3, '', true);
    const fromB = tableAt(40n, 3n);
    tracing.tableBuilt(fromB, 'wc-b@2');
    expect(tracing.links(fromB)).toEqual([]);
    // A table nobody recorded (built outside the routing state) has no weight epoch: no weight link.
    expect(tracing.links(tableAt(40n, 3n))).toEqual([]);
  });
});
