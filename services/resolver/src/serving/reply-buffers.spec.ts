import { describe, expect, it } from 'vitest';
import { ReplyBuffers } from './reply-buffers.js';

describe('ReplyBuffers', () => {
  it('hands out a buffer of at least the size asked, and the same one again once given back', () => {
    const buffers = new ReplyBuffers();
    const a = buffers.take(100);
    expect(a.byteLength).toBe(16 * 1024);
    buffers.give(a.subarray(0, 100));
    expect(buffers.kept).toBe(1);
    const b = buffers.take(5000);
    expect(b.buffer).toBe(a.buffer);
    expect(buffers.kept).toBe(0);
    // Not given back yet: the next one is new.
    expect(buffers.take(10).buffer).not.toBe(a.buffer);
  });

  it('grows to the next power of two and keeps a larger buffer for a larger reply', () => {
    const buffers = new ReplyBuffers();
    const small = buffers.take(1000);
    const large = buffers.take(40_000);
    expect(large.byteLength).toBe(64 * 1024);
    buffers.give(small);
    buffers.give(large);
    expect(buffers.take(30_000).buffer).toBe(large.buffer);
    expect(buffers.take(30_000).buffer).not.toBe(small.buffer);
  });

  it('takes back only its own buffers, each once, up to its limits', () => {
    const buffers = new ReplyBuffers(2, 64 * 1024);
    buffers.give(new Uint8Array(16 * 1024));
    buffers.give(Buffer.allocUnsafe(100));
    expect(buffers.kept).toBe(0);
    const a = buffers.take(1);
    buffers.give(a);
    buffers.give(a);
    expect(buffers.kept).toBe(1);
    // One given twice goes out once.
    expect(buffers.take(1).buffer).toBe(a.buffer);
    expect(buffers.take(1).buffer).not.toBe(a.buffer);
    const huge = buffers.take(100_000);
    buffers.give(huge);
    expect(buffers.kept).toBe(0);
    const [x, y, z] = [buffers.take(1), buffers.take(1), buffers.take(1)];
    for (const t of [x, y, z]) buffers.give(t);
    expect(buffers.kept).toBe(2);
  });
});
