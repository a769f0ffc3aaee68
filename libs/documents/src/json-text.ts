import { findJsonProblem } from './json-scanner.js';

/** Largest document value accepted, in bytes, unless a caller says otherwise: 64 KiB. */
export const DEFAULT_MAX_DOCUMENT_BYTES = 64 * 1024;

/** The outcome of reading a JSON value: the parsed value, or a reason for a person. */
export type JsonTextResult = { ok: true; value: unknown } | { ok: false; reason: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads an etcd value as JSON: size limit first (so a huge value is refused before any work is
 * spent on it), then UTF-8 decoding (RFC 8259 §8.1: JSON exchanged between systems is UTF-8;
 * a leading byte order mark is ignored, as §8.1 allows, since editors on some systems add one),
 * then a strict syntax scan (positions, duplicate properties), then `JSON.parse`.
 */
export function readJsonText(value: Uint8Array | string, maxBytes = DEFAULT_MAX_DOCUMENT_BYTES): JsonTextResult {
  const bytes = typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : value.byteLength;
  if (bytes > maxBytes) return { ok: false, reason: `value is ${bytes} bytes, over the ${maxBytes}-byte limit` };

  let text: string;
  if (typeof value === 'string') {
    text = value.startsWith('\uFEFF') ? value.slice(1) : value;
  } else {
    try {
      // TextDecoder drops a leading BOM by default (ignoreBOM: false).
      text = utf8.decode(value);
    } catch {
      return { ok: false, reason: 'value is not valid UTF-8' };
    }
  }
  if (/^[ \t\n\r]*$/.test(text)) return { ok: false, reason: 'value is empty' };

  const problem = findJsonProblem(text);
  if (problem !== undefined) {
    return { ok: false, reason: `invalid JSON at position ${problem.position} (line ${problem.line}, column ${problem.column}): ${problem.message}` };
  }
  return { ok: true, value: JSON.parse(text) as unknown };
}
