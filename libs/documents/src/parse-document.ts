import { keyKind } from './document-keys.js';
import { resolveParseOptions, type DocumentParseResult, type ParseOptions } from './document-result.js';
import { parseDomainDocument } from './domain-document.js';
import { parseNodeDocument } from './node-document.js';

/**
 * Parses any value under the prefix: node and domain documents are validated into `Node` /
 * `Domain`, other keys (weights, members, election, heartbeats: owned by the services) come back
 * as `{ ok: true, kind: 'ignored' }`. The one entry point config-watcher needs for a watch event.
 */
export function parseDocument(key: string, value: Uint8Array | string, options?: ParseOptions): DocumentParseResult {
  const resolved = resolveParseOptions(options);
  switch (keyKind(resolved.prefix, key).kind) {
    case 'node':
      return parseNodeDocument(key, value, resolved);
    case 'domain':
      return parseDomainDocument(key, value, resolved);
    case 'ignored':
      return { ok: true, kind: 'ignored', key };
  }
}
