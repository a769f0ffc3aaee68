import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_DOCUMENT_BYTES, readJsonText } from './json-text.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('readJsonText', () => {
  it('parses a string or UTF-8 bytes', () => {
    expect(readJsonText('{"a":1}')).toEqual({ ok: true, value: { a: 1 } });
    expect(readJsonText(bytes('{"isp":"电信"}'))).toEqual({ ok: true, value: { isp: '电信' } });
  });

  it('refuses a value over the limit before parsing it, counting bytes not characters', () => {
    expect(DEFAULT_MAX_DOCUMENT_BYTES).toBe(65_536);
    expect(readJsonText(`"${'x'.repeat(69_998)}"`)).toEqual({ ok: false, reason: 'value is 70000 bytes, over the 65536-byte limit' });
    // Not JSON at all, yet the size is what is reported: no parsing was attempted.
    expect(readJsonText(new Uint8Array(70_000))).toEqual({ ok: false, reason: 'value is 70000 bytes, over the 65536-byte limit' });
    // 3 bytes per character in UTF-8: 10 characters are 32 bytes with the quotes.
    expect(readJsonText(`"${'电'.repeat(10)}"`, 31)).toEqual({ ok: false, reason: 'value is 32 bytes, over the 31-byte limit' });
    expect(readJsonText(`"${'电'.repeat(10)}"`, 32).ok).toBe(true);
  });

  it('refuses invalid UTF-8', () => {
    expect(readJsonText(new Uint8Array([0x7b, 0xff, 0x7d]))).toEqual({ ok: false, reason: 'value is not valid UTF-8' });
  });

  it('ignores a leading byte order mark, in bytes and in strings', () => {
    expect(readJsonText(new Uint8Array([0xef, 0xbb, 0xbf, ...bytes('{"a":1}')]))).toEqual({ ok: true, value: { a: 1 } });
    expect(readJsonText('\uFEFF{"a":1}')).toEqual({ ok: true, value: { a: 1 } });
  });

  it('calls an empty or blank value empty', () => {
    expect(readJsonText('')).toEqual({ ok: false, reason: 'value is empty' });
    expect(readJsonText(bytes(' \n\t'))).toEqual({ ok: false, reason: 'value is empty' });
  });

  it('reports invalid JSON with position, line and column', () => {
    expect(readJsonText('{"capacity": -}')).toEqual({ ok: false, reason: 'invalid JSON at position 13 (line 1, column 14): invalid number' });
    expect(readJsonText('{"a":1,"a":2}')).toEqual({ ok: false, reason: 'invalid JSON at position 7 (line 1, column 8): duplicate property "a"' });
  });
});
