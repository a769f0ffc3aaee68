/**
 * Buffers for ResolveStream replies on the direct path, used again once grpc-js has written the
 * reply (`DirectStreamMethod.sent`). Every reply costs grpc-js two copies of its own (nice-grpc's
 * serializer wrapper, then grpc-js's framing), both from Node's `Buffer` pool; the encoder's copy
 * out of the shared writer need not be a third allocation. Why it matters: a batch's
 * `ArrayBuffer`s are freed only by a scavenge, and when their bytes pile up between two scavenges
 * V8 starts a mark-compact for the external memory; under full load at batches of 500 a resolver
 * could settle into one every ~70 ms, which halves its rate (docs/benchmarks.md, "Decision path
 * benchmarks", twenty-third and twenty-fifth sessions).
 *
 * Only buffers this list made are taken back, each once; a reply the call never wrote (cancelled)
 * is simply dropped and left to the GC, so nothing leaks.
 */
export class ReplyBuffers {
  private readonly free: ArrayBuffer[] = [];
  private readonly made = new WeakSet<ArrayBuffer>();

  /**
   * @param maxKept - buffers kept for reuse at most (a stream has at most 4 replies in flight).
   * @param maxBytes - a buffer larger than this (a rare batch of thousands) is not kept.
   */
  constructor(
    private readonly maxKept = 16,
    private readonly maxBytes = 256 * 1024,
  ) {}

  /** A buffer of at least `length` bytes: a kept one if one is large enough, else a new one. */
  readonly take = (length: number): Uint8Array => {
    const free = this.free;
    for (let i = free.length - 1; i >= 0; i--) {
      const buffer = free[i]!;
      if (buffer.byteLength < length) continue;
      free[i] = free[free.length - 1]!;
      free.pop();
      return new Uint8Array(buffer);
    }
    // Powers of two from 16 KiB, so that kept buffers fit the next replies of about the same size.
    let size = 16 * 1024;
    while (size < length) size *= 2;
    const buffer = new ArrayBuffer(size);
    this.made.add(buffer);
    return new Uint8Array(buffer);
  };

  /** Takes back the buffer under `bytes` (a reply {@link take} gave out) once nothing reads it. */
  give(bytes: Uint8Array): void {
    const buffer = bytes.buffer as ArrayBuffer;
    if (!this.made.has(buffer) || buffer.byteLength > this.maxBytes || this.free.length >= this.maxKept) return;
    // Given back twice (a caller's mistake) it must still go out only once.
    if (!this.free.includes(buffer)) this.free.push(buffer);
  }

  /** Buffers kept for reuse now. */
  get kept(): number {
    return this.free.length;
  }
}
