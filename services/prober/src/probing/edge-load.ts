import { LOAD_NOT_REPORTED } from './probe-result.js';

/** Header in which an edge may report its load, 0..1 of its capacity. */
export const LOAD_HEADER = 'x-edge-load';

/** Outcome of reading an edge's load report: a figure (or none), or why it is unusable. */
export type EdgeLoad = { ok: true; load: number } | { ok: false; detail: string };

const NUMBER = /^\s*(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?\s*$/;

function checkLoad(value: unknown, where: string): EdgeLoad {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) {
    return { ok: false, detail: `${where}: load must be a number in [0, 1], got ${JSON.stringify(value) ?? String(value)}` };
  }
  return { ok: true, load: value };
}

/**
 * Reads the load an edge reports in a health answer. The `X-Edge-Load` header wins when present
 * (it costs no body parsing); otherwise a JSON body (`{"status":"ok","load":0.42}`) is read when the
 * content type says JSON or the body looks like an object. A body without `load`, or a non-JSON body
 * ("OK"), reports no load. A report that is there but malformed (bad number, out of range, broken
 * JSON) is an error, so a misbehaving edge shows up as `bad_body` instead of silently losing its load.
 */
export function parseEdgeLoad(
  header: string | string[] | undefined,
  contentType: string | string[] | undefined,
  body: Uint8Array | null,
): EdgeLoad {
  if (header !== undefined) {
    const value = Array.isArray(header) ? header[0] : header;
    if (value === undefined || !NUMBER.test(value)) return { ok: false, detail: `${LOAD_HEADER}: not a number: ${JSON.stringify(value)}` };
    return checkLoad(Number(value), LOAD_HEADER);
  }
  if (body === null || body.length === 0) return { ok: true, load: LOAD_NOT_REPORTED };
  const type = (Array.isArray(contentType) ? contentType[0] : contentType) ?? '';
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  if (!type.toLowerCase().includes('json') && !text.trimStart().startsWith('{')) {
    return { ok: true, load: LOAD_NOT_REPORTED };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return { ok: false, detail: `body: invalid JSON (${(error as Error).message})` };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { ok: false, detail: 'body: JSON is not an object' };
  }
  if (!('load' in parsed)) return { ok: true, load: LOAD_NOT_REPORTED };
  return checkLoad((parsed as { load: unknown }).load, 'body');
}
