export { parseDocument } from './parse-document.js';
export { parseNodeDocument, documentOfNode } from './node-document.js';
export type { NodeDocument, ProbeDocument } from './node-document.js';
export { parseDomainDocument, documentOfDomain } from './domain-document.js';
export type { DomainDocument } from './domain-document.js';
export type {
  ParseOptions,
  DocumentParseResult,
  NodeParseResult,
  DomainParseResult,
  AcceptedNode,
  AcceptedDomain,
  IgnoredKey,
  DocumentRejection,
} from './document-result.js';
export { DEFAULT_PREFIX, keyKind, nodeKey, domainKey, normalizePrefix, nodeIdProblem, writerTraceKey, writerTracesPrefix } from './document-keys.js';
export type { KeyKind } from './document-keys.js';
export { DEFAULT_MAX_DOCUMENT_BYTES, readJsonText } from './json-text.js';
export type { JsonTextResult } from './json-text.js';
export { findJsonProblem } from './json-scanner.js';
export type { JsonProblem } from './json-scanner.js';
export { domainNameProblem, isAddress } from './host-names.js';
export { isPoolName } from './pool-name.js';
