import { describe, expect, it } from 'vitest';
import { parseEdgeLoad } from './edge-load.js';

const body = (text: string): Buffer => Buffer.from(text);
const JSON_TYPE = 'application/json; charset=utf-8';

describe('parseEdgeLoad', () => {
  it('reads the load from the X-Edge-Load header, which wins over the body', () => {
    expect(parseEdgeLoad('0.42', JSON_TYPE, body('{"load":0.9}'))).toEqual({ ok: true, load: 0.42 });
    expect(parseEdgeLoad(' 1 ', undefined, null)).toEqual({ ok: true, load: 1 });
    expect(parseEdgeLoad(['0', '0.5'], undefined, null)).toEqual({ ok: true, load: 0 });
  });

  it('reads the load from a JSON body', () => {
    expect(parseEdgeLoad(undefined, JSON_TYPE, body('{"status":"ok","load":0.25}'))).toEqual({ ok: true, load: 0.25 });
    // Untyped but object-shaped bodies are read too.
    expect(parseEdgeLoad(undefined, 'text/plain', body(' {"load":0.5}'))).toEqual({ ok: true, load: 0.5 });
  });

  it('reports no load (-1) when the edge says nothing about it', () => {
    expect(parseEdgeLoad(undefined, JSON_TYPE, body('{"status":"ok"}'))).toEqual({ ok: true, load: -1 });
    expect(parseEdgeLoad(undefined, 'text/plain', body('OK'))).toEqual({ ok: true, load: -1 });
    expect(parseEdgeLoad(undefined, undefined, null)).toEqual({ ok: true, load: -1 });
    expect(parseEdgeLoad(undefined, JSON_TYPE, body(''))).toEqual({ ok: true, load: -1 });
  });

  it.each([
    ['lots', undefined],
    ['', undefined],
    ['1.5', undefined],
    ['-0.1', undefined],
    ['0x1', undefined],
    ['NaN', undefined],
  ])('rejects the malformed header %j', (header) => {
    const result = parseEdgeLoad(header, undefined, null);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.detail).toMatch(/x-edge-load/);
  });

  it.each([
    '{"status":"ok","load":',
    '[0.5]',
    '{"load":"0.5"}',
    '{"load":2}',
    '{"load":null}',
    'null',
  ])('rejects the malformed JSON body %j without throwing', (text) => {
    const result = parseEdgeLoad(undefined, JSON_TYPE, body(text));
    expect(result.ok).toBe(false);
    expect(!result.ok && result.detail).toMatch(/^body: /);
  });
});
