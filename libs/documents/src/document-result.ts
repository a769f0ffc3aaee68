import type { Domain, Node } from '@cdn-sched/proto';
import { DEFAULT_MAX_DOCUMENT_BYTES } from './json-text.js';
import { DEFAULT_PREFIX } from './document-keys.js';

/** Options of the document parsers. */
export interface ParseOptions {
  /** Key prefix of the documents. Defaults to "/cdn/". */
  prefix?: string;
  /** Largest value accepted, in bytes; larger values are refused before parsing. Defaults to 65 536 (64 KiB). */
  maxBytes?: number;
}

/** A document that was not accepted, with what is wrong for a person. */
export interface DocumentRejection {
  ok: false;
  kind: 'node' | 'domain';
  key: string;
  /** Every problem joined with "; " ("capacity: must be a number > 0, got -3; state: ..."). */
  reason: string;
  /** The problems one by one, each "<field>: <problem>". */
  problems: string[];
}

/** An accepted node document. */
export interface AcceptedNode {
  ok: true;
  kind: 'node';
  key: string;
  node: Node;
}

/** An accepted domain document. */
export interface AcceptedDomain {
  ok: true;
  kind: 'domain';
  key: string;
  domain: Domain;
}

/** A key under the prefix that holds no SRE document (weights, members, heartbeats, ...). */
export interface IgnoredKey {
  ok: true;
  kind: 'ignored';
  key: string;
}

/** Result of parsing a node document. */
export type NodeParseResult = AcceptedNode | DocumentRejection;
/** Result of parsing a domain document. */
export type DomainParseResult = AcceptedDomain | DocumentRejection;
/** Result of {@link parseDocument}. */
export type DocumentParseResult = AcceptedNode | AcceptedDomain | IgnoredKey | DocumentRejection;

/** The options with defaults applied. */
export function resolveParseOptions(options: ParseOptions = {}): Required<ParseOptions> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_DOCUMENT_BYTES;
  if (!(Number.isInteger(maxBytes) && maxBytes > 0)) throw new RangeError(`maxBytes: must be a positive integer, got ${maxBytes}`);
  return { prefix: options.prefix ?? DEFAULT_PREFIX, maxBytes };
}

/** A rejection from a list of problems. */
export function rejected(kind: 'node' | 'domain', key: string, problems: string[]): DocumentRejection {
  return { ok: false, kind, key, reason: problems.join('; '), problems };
}
