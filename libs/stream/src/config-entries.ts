import type { Domain, Node, RejectedDocument } from '@cdn-sched/proto';

/**
 * What the config-watcher's versioned store holds, keyed `node/<id>`, `domain/<fqdn>` and
 * `rejected/<etcd key>`. Rejections are entries too, so that they travel in snapshots and deltas
 * with the same ordering guarantees as the documents themselves.
 */
export type ConfigEntry =
  | { kind: 'node'; node: Node }
  | { kind: 'domain'; domain: Domain }
  | { kind: 'rejected'; rejected: RejectedDocument };

export const nodeEntryKey = (id: string): string => `node/${id}`;
export const domainEntryKey = (fqdn: string): string => `domain/${fqdn}`;
export const rejectedEntryKey = (etcdKey: string): string => `rejected/${etcdKey}`;
