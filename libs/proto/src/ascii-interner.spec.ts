import { describe, expect, it } from 'vitest';
import { AsciiInterner } from './ascii-interner.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('AsciiInterner', () => {
  it('returns the text of the range, the same string for the same bytes, and a new one when a colliding slot is replaced', () => {
    const interner = new AsciiInterner(2);
    const a = bytes('xx.music.demo.example.yy');
    const first = interner.string(a, 3, 21);
    expect(first).toBe('music.demo.example');
    expect(interner.string(bytes('music.demo.example'), 0, 18)).toBe(first);
    expect(interner.string(a, 0, 0)).toBe('');
    // With two slots, many different strings share slots: each must still come back right.
    const words = Array.from({ length: 50 }, (_, i) => `edge-${i}.cdn.example`);
    for (let round = 0; round < 3; round++) for (const w of words) expect(interner.string(bytes(w), 0, w.length)).toBe(w);
    // Same length and same hash slot but other bytes: compared, not trusted to the hash.
    expect(interner.string(bytes('ab'), 0, 2)).toBe('ab');
    expect(interner.string(bytes('ba'), 0, 2)).toBe('ba');
  });

  it('gives undefined for bytes that are not all ASCII, wherever the first such byte is', () => {
    const interner = new AsciiInterner(16);
    const text = bytes('ab\u00e9cd');
    expect(interner.string(text, 0, text.length)).toBeUndefined();
    expect(interner.string(text, 0, 2)).toBe('ab');
    expect(interner.string(new Uint8Array([0x61, 0x62, 0xff]), 0, 3)).toBeUndefined();
    expect(interner.string(new Uint8Array([0x80]), 0, 1)).toBeUndefined();
    // A cached ASCII string with the same length does not answer for non-ASCII bytes.
    expect(interner.string(new Uint8Array([0x7f]), 0, 1)).toBe('\u007f');
  });

  it('refuses a table size that is not a power of two', () => {
    expect(() => new AsciiInterner(3)).toThrow(/power of two/);
  });
});
