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

const NODE = 'node/';
const DOMAIN = 'domain/';
const REJECTED = 'rejected/';

/** What a config entry key names. */
export type ConfigEntryKey = { kind: 'node'; id: string } | { kind: 'domain'; fqdn: string } | { kind: 'rejected'; etcdKey: string };

/** Parses a key of the config stream (`node/<id>`, `domain/<fqdn>`, `rejected/<etcd key>`); undefined for any other. */
export function parseConfigEntryKey(key: string): ConfigEntryKey | undefined {
  if (key.startsWith(NODE)) return { kind: 'node', id: key.slice(NODE.length) };
  if (key.startsWith(DOMAIN)) return { kind: 'domain', fqdn: key.slice(DOMAIN.length) };
  if (key.startsWith(REJECTED)) return { kind: 'rejected', etcdKey: key.slice(REJECTED.length) };
  return undefined;
}

/** A typed view of the config: node documents by id, domain policies by name. */
export interface ConfigView {
  readonly nodes: ReadonlyMap<string, Node>;
  readonly domains: ReadonlyMap<string, Domain>;
}

/** The typed view of a config consumer's entries (a new view, built in one pass). */
export function configView(entries: ReadonlyMap<string, ConfigEntry>): ConfigView {
  const nodes = new Map<string, Node>();
  const domains = new Map<string, Domain>();
  for (const e of entries.values()) {
    if (e.kind === 'node') nodes.set(e.node.id, e.node);
    else if (e.kind === 'domain') domains.set(e.domain.domain, e.domain);
  }
  return { nodes, domains };
}

/** What one applied config update did to the node documents. */
export interface NodeChanges {
  /** True for a snapshot: `upserted` is then every node, and nodes not in it are gone. */
  readonly snapshot: boolean;
  readonly upserted: readonly Node[];
  readonly removedIds: readonly string[];
}

/** The node changes of an update as a config consumer's `onApplied` receives it. */
export function nodeChanges(
  update: { snapshot: boolean; changes: readonly { key: string; value: ConfigEntry | undefined }[] },
  entries: ReadonlyMap<string, ConfigEntry>,
): NodeChanges {
  if (update.snapshot) return { snapshot: true, upserted: [...configView(entries).nodes.values()], removedIds: [] };
  const upserted: Node[] = [];
  const removedIds: string[] = [];
  for (const c of update.changes) {
    const key = parseConfigEntryKey(c.key);
    if (key?.kind !== 'node') continue;
    if (c.value?.kind === 'node') upserted.push(c.value.node);
    else removedIds.push(key.id);
  }
  return { snapshot: false, upserted, removedIds };
}
