import { domainNameProblem } from './host-names.js';

/** Prefix of every document key unless configured otherwise (docs/architecture.md, "Documents"). */
export const DEFAULT_PREFIX = '/cdn/';

/** What a key under the prefix holds. */
export type KeyKind = { kind: 'node'; id: string } | { kind: 'domain'; domain: string } | { kind: 'ignored' };

const NODE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * The prefix with exactly one trailing slash ("/cdn" and "/cdn/" are the same prefix), so keys
 * are built and matched one way.
 */
export function normalizePrefix(prefix: string): string {
  if (prefix === '') throw new RangeError('prefix: must not be empty, e.g. "/cdn/"');
  return `${prefix.replace(/\/+$/, '')}/`;
}

/**
 * Problem with a node id, or `undefined`. Ids appear in keys, metric labels and span attributes,
 * so they are 1–64 characters of letters, digits, ".", "_" and "-" (no "/": a key has one id).
 */
export function nodeIdProblem(id: string): string | undefined {
  if (NODE_ID.test(id)) return undefined;
  return `must be 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit, got ${JSON.stringify(id)}`;
}

/** Tells node, domain and other keys apart; other keys under the prefix (weights, members) are "ignored". */
export function keyKind(prefix: string, key: string): KeyKind {
  const base = normalizePrefix(prefix);
  if (key.startsWith(`${base}nodes/`)) return { kind: 'node', id: key.slice(base.length + 'nodes/'.length) };
  if (key.startsWith(`${base}domains/`)) return { kind: 'domain', domain: key.slice(base.length + 'domains/'.length) };
  return { kind: 'ignored' };
}

/** The key of a node document ("/cdn/nodes/gz-ct-01"); throws RangeError on an invalid id. */
export function nodeKey(prefix: string, id: string): string {
  const problem = nodeIdProblem(id);
  if (problem !== undefined) throw new RangeError(`node id: ${problem}`);
  return `${normalizePrefix(prefix)}nodes/${id}`;
}

/** The key of a domain document ("/cdn/domains/img.example.com"); throws RangeError on an invalid name. */
export function domainKey(prefix: string, fqdn: string): string {
  const problem = domainNameProblem(fqdn);
  if (problem !== undefined) throw new RangeError(`domain: ${problem}`);
  return `${normalizePrefix(prefix)}domains/${fqdn}`;
}

/**
 * Where a writer (cdnctl) leaves the W3C traceparent of the span that made a change: put in the
 * same etcd transaction as the documents, so the config-watcher sees it in the same revision (etcd
 * never splits one revision's events across watch responses) and links that version's
 * `cdn.config.publish` span to the writer's span. etcd keeps no other metadata with a value, and a
 * field in the document would change the documents' contract. One key per writer, overwritten by
 * each write: the watch delivers every revision's value, so nothing accumulates.
 */
export function writerTracesPrefix(prefix: string): string {
  return `${normalizePrefix(prefix)}traces/`;
}

/** The key of a writer's traceparent ("/cdn/traces/cdnctl"); see {@link writerTracesPrefix}. */
export function writerTraceKey(prefix: string, writer: string): string {
  return `${writerTracesPrefix(prefix)}${writer}`;
}
