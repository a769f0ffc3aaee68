/**
 * Strings of ASCII byte ranges, remembered by FNV-1a hash in a small direct-mapped table: decoded
 * messages repeat a handful of strings (domains in a batch of queries, node ids and addresses in a
 * batch of decisions), and a hit costs a hash and a compare where decoding costs a TextDecoder call
 * and a new string. A miss replaces the slot. Bytes that are not all ASCII give `undefined`: the
 * check rides on the hash loop (one pass over the bytes, not two), and only ASCII reads the same
 * as UTF-8 and as Latin-1.
 */
export class AsciiInterner {
  private readonly hashes: Int32Array;
  private readonly strings: string[];
  private readonly mask: number;
  private static readonly latin1 = new TextDecoder('latin1');

  /** `slots`: a power of two. */
  constructor(slots = 256) {
    if (slots <= 0 || (slots & (slots - 1)) !== 0) throw new Error(`AsciiInterner: slots must be a power of two, not ${slots}`);
    this.hashes = new Int32Array(slots);
    this.strings = new Array<string>(slots).fill('');
    this.mask = slots - 1;
  }

  /** The string of the bytes [start, end) of `bytes`, or `undefined` when one is not ASCII. */
  string(bytes: Uint8Array, start: number, end: number): string | undefined {
    if (start === end) return '';
    let h = 0x811c9dc5 | 0;
    let any = 0;
    for (let i = start; i < end; i++) {
      const b = bytes[i]!;
      any |= b;
      h = Math.imul(h ^ b, 0x01000193);
    }
    if (any >= 0x80) return undefined;
    const slot = (h ^ (h >>> 16)) & this.mask;
    const kept = this.strings[slot]!;
    if (this.hashes[slot] === h && kept.length === end - start) {
      let i = 0;
      while (i < kept.length && kept.charCodeAt(i) === bytes[start + i]) i++;
      if (i === kept.length) return kept;
    }
    const fresh = AsciiInterner.latin1.decode(bytes.subarray(start, end));
    this.hashes[slot] = h;
    this.strings[slot] = fresh;
    return fresh;
  }
}
