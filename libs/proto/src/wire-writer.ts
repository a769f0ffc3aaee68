/**
 * A protobuf writer for the ResolveStream hot path: one growable byte buffer, nested messages
 * length-prefixed by back-patching, ASCII strings copied byte by byte.
 *
 * Why not `BinaryWriter` of `@bufbuild/protobuf/wire`: it keeps a JS array of bytes plus a list of
 * chunks, turns every string into a fresh `Uint8Array` (TextEncoder) and every `join()` into a
 * fresh concatenated copy. A decision has four nested messages and up to a dozen strings, so it
 * made some 30 allocations per decision and cost ~11 µs of CPU, five times the decision itself
 * (measured by the resolver's serving benchmark, services/resolver/src/bench/serving.bench.ts). This writer allocates only when
 * its buffer grows and in `finish()`.
 *
 * Encoding per https://protobuf.dev/programming-guides/encoding/: varints little-endian base 128,
 * a length-delimited field as its byte length (varint) then the bytes. A nested message's length is
 * known only once it is written, so `fork()` reserves one byte for it and `join()` moves the
 * message up when the length needs more than one byte (messages of 128 bytes or more: rare here,
 * and a `copyWithin` of a few hundred bytes when it happens).
 */

const encoder = new TextEncoder();

/**
 * After a large batch grew the buffer, this many `finish()` calls in a row that each used at most a
 * quarter of it shrink it again. Not after the first small one: a client that alternates large and
 * small batches would make the buffer grow (doubling and copying) on every large one.
 */
const SHRINK_AFTER_FINISHES = 8;

/** Writes protobuf fields into a reusable buffer. */
export class WireWriter {
  private buf: Uint8Array;
  /** A view of `buf`, for {@link WireWriter.rawFrom}'s four-byte copies; replaced with `buf`. */
  private view: DataView;
  private pos = 0;
  /** Start offsets of the open forks (their reserved length byte). */
  private forks = new Int32Array(8);
  private depth = 0;
  /** The size the buffer starts at and shrinks back to. */
  private readonly baseBytes: number;
  /** Consecutive finishes that used at most a quarter of a grown buffer, and the most they used. */
  private smallFinishes = 0;
  private smallPeak = 0;

  constructor(initialBytes: number) {
    this.baseBytes = Math.max(64, initialBytes);
    this.buf = new Uint8Array(this.baseBytes);
    this.view = new DataView(this.buf.buffer);
  }

  /** Bytes the buffer holds now (its capacity, not what is written). */
  get capacityBytes(): number {
    return this.buf.length;
  }

  /** Drops anything written since the last `finish()` (an encode that threw halfway). */
  reset(): this {
    this.pos = 0;
    this.depth = 0;
    return this;
  }

  /** Field number and wire type. */
  tag(fieldNo: number, wireType: number): this {
    return this.uint32(((fieldNo << 3) | wireType) >>> 0);
  }

  uint32(value: number): this {
    this.reserve(5);
    const b = this.buf;
    let p = this.pos;
    let v = value >>> 0;
    while (v > 0x7f) {
      b[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    b[p++] = v;
    this.pos = p;
    return this;
  }

  /** A negative int32 is sign-extended to 64 bits: ten bytes, as the spec requires. */
  int32(value: number): this {
    return value >= 0 ? this.uint32(value) : this.varint64(value >>> 0, 0xffffffff);
  }

  /**
   * A number is taken as an exact non-negative integer (below 2^53: what a decoder that reads
   * varints as numbers gives) and needs no BigInt arithmetic.
   */
  uint64(value: bigint | number): this {
    if (typeof value === 'number') return value <= 0xffffffff ? this.uint32(value) : this.varint64(value % 0x100000000, Math.floor(value / 0x100000000));
    if (value >= 0n && value <= 0xffffffffn) return this.uint32(Number(value));
    const v = BigInt.asUintN(64, value);
    return this.varint64(Number(v & 0xffffffffn), Number(v >> 32n));
  }

  bool(value: boolean): this {
    return this.uint32(value ? 1 : 0);
  }

  /** A string field's value: UTF-8 byte length, then the bytes. */
  string(value: string): this {
    const n = value.length;
    if (n < 128) {
      // Fast path: ASCII (node ids, addresses, ISO codes, reasons) is one byte per UTF-16 unit,
      // so the length byte is known before the copy.
      this.reserve(n + 1);
      const b = this.buf;
      const start = this.pos;
      let p = start + 1;
      for (let i = 0; i < n; i++) {
        const c = value.charCodeAt(i);
        if (c >= 0x80) return this.utf8(value);
        b[p++] = c;
      }
      b[start] = n;
      this.pos = p;
      return this;
    }
    return this.utf8(value);
  }

  /**
   * Copies `length` bytes of `source` from `start`, as they are: bytes encoded earlier (a field, or
   * several, kept pre-encoded because they are written again and again).
   */
  raw(source: Uint8Array, start: number, length: number): this {
    this.reserve(length);
    const b = this.buf;
    let p = this.pos;
    // A loop: the copies are a few dozen bytes, where TypedArray.set costs more than it saves.
    if (length <= 64) for (let i = start, end = start + length; i < end; i++) b[p++] = source[i]!;
    else {
      b.set(source.subarray(start, start + length), p);
      p += length;
    }
    this.pos = p;
    return this;
  }

  /**
   * As {@link WireWriter.raw}, from a `DataView` of the bytes, four at a time: the 20–40 byte
   * pre-encoded answers of a decision copy in 0.4× the time of the byte loop (DataView reads and
   * writes at any offset are inlined by V8's optimising compiler; byte order is kept, as both
   * sides use the same endianness).
   */
  rawFrom(source: DataView, start: number, length: number): this {
    this.reserve(length);
    const d = this.view;
    let p = this.pos;
    let s = start;
    const end = start + length;
    for (; s + 4 <= end; s += 4, p += 4) d.setUint32(p, source.getUint32(s));
    for (; s < end; s++, p++) d.setUint8(p, source.getUint8(s));
    this.pos = p;
    return this;
  }

  /**
   * Makes room for `length` bytes at the end, counts them as written and returns where they start:
   * for an encoder that knows a message's exact size up front and writes it into {@link
   * WireWriter.bytes} itself, with no call per field. It must write exactly those bytes.
   */
  claim(length: number): number {
    this.reserve(length);
    const at = this.pos;
    this.pos += length;
    return at;
  }

  /** The buffer being written, for {@link WireWriter.claim}: valid until the next call that writes. */
  get bytes(): Uint8Array {
    return this.buf;
  }

  /** A `DataView` of {@link WireWriter.bytes}, for word-wise copies into a claimed range. */
  get dataView(): DataView {
    return this.view;
  }

  /** Opens a length-delimited nested message (after its tag). */
  fork(): this {
    if (this.depth === this.forks.length) {
      const grown = new Int32Array(this.forks.length * 2);
      grown.set(this.forks);
      this.forks = grown;
    }
    this.reserve(1);
    this.forks[this.depth++] = this.pos++;
    return this;
  }

  /** Closes the innermost nested message, writing its length. */
  join(): this {
    if (this.depth === 0) throw new Error('WireWriter.join() without a fork()');
    const start = this.forks[--this.depth]!;
    const len = this.pos - start - 1;
    if (len < 0x80) {
      this.buf[start] = len;
      return this;
    }
    const size = len < 1 << 14 ? 2 : len < 1 << 21 ? 3 : len < 1 << 28 ? 4 : 5;
    this.reserve(size - 1);
    this.buf.copyWithin(start + size, start + 1, this.pos);
    this.pos += size - 1;
    let v = len;
    let p = start;
    while (v > 0x7f) {
      this.buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[p] = v;
    return this;
  }

  /**
   * The bytes written since the last `finish()`, as a copy the writer no longer touches; the writer
   * is then empty and reusable. The copy is cut from Node's shared `Buffer` pool when it is smaller
   * than half of `Buffer.poolSize` (https://nodejs.org/api/buffer.html#class-property-bufferpoolsize):
   * a fresh `ArrayBuffer` per message costs a few microseconds to allocate and to free again, and a
   * message is usually sent and dropped at once. A pooled copy keeps its whole pool alive, so copy a
   * result that is kept for long (`Uint8Array.from`). A plain `Uint8Array` over the pooled bytes, not
   * the `Buffer`, whose `slice` would be a view where `Uint8Array`'s is a copy.
   */
  finish(): Uint8Array {
    if (this.depth !== 0) throw new Error(`WireWriter.finish() with ${this.depth} fork(s) open`);
    const copy = Buffer.from(this.buf.subarray(0, this.pos));
    const out = new Uint8Array(copy.buffer, copy.byteOffset, copy.length);
    this.shrinkIfOversized(this.pos);
    this.pos = 0;
    return out;
  }

  /**
   * Gives back a buffer that one large batch grew (a 5,000-query batch takes ~1 MiB) once batches
   * are small again, so a burst does not pin its peak size for the life of the process.
   */
  private shrinkIfOversized(used: number): void {
    if (this.buf.length === this.baseBytes) return;
    if (used * 4 > this.buf.length) {
      this.smallFinishes = 0;
      this.smallPeak = 0;
      return;
    }
    this.smallPeak = Math.max(this.smallPeak, used);
    if (++this.smallFinishes < SHRINK_AFTER_FINISHES) return;
    // Room for twice the largest recent batch, so the next one of that size does not grow it again.
    let size = this.baseBytes;
    while (size < this.smallPeak * 2) size *= 2;
    if (size < this.buf.length) this.setBuffer(new Uint8Array(size));
    this.smallFinishes = 0;
    this.smallPeak = 0;
  }

  private utf8(value: string): this {
    const len = Buffer.byteLength(value, 'utf8');
    this.uint32(len);
    this.reserve(len);
    // encodeInto writes lone surrogates as U+FFFD, as TextEncoder (and so BinaryWriter) does.
    this.pos += encoder.encodeInto(value, this.buf.subarray(this.pos, this.pos + len)).written;
    return this;
  }

  /** A varint of the unsigned 64-bit value `hi * 2^32 + lo` (both halves unsigned 32-bit). */
  private varint64(lo: number, hi: number): this {
    this.reserve(10);
    const b = this.buf;
    let p = this.pos;
    while (hi !== 0 || lo > 0x7f) {
      b[p++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    b[p++] = lo;
    this.pos = p;
    return this;
  }

  private reserve(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + bytes) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buf.subarray(0, this.pos));
    this.setBuffer(grown);
  }

  private setBuffer(buf: Uint8Array): void {
    this.buf = buf;
    this.view = new DataView(buf.buffer);
  }
}

/** A writer whose buffer starts at `initialBytes` (default 16 KiB) and doubles as needed. */
export const createWireWriter = (initialBytes = 16 * 1024): WireWriter => new WireWriter(initialBytes);
