/**
 * Chunk size of snapshots and deltas, bytes (estimated). A quarter of grpc's default 4 MiB message
 * limit, so the estimate below may be off by a factor of four before a chunk meets the limit.
 */
export const DEFAULT_CHUNK_BYTES = 1024 * 1024;

/**
 * An upper bound of a string's UTF-8 length without encoding it: its length when it is ASCII,
 * else three bytes per UTF-16 unit (the most any BMP character takes; a surrogate pair is 4 bytes
 * for 2 units).
 */
export function utf8Bound(s: string): number {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return s.length * 3;
  return s.length;
}

/**
 * Estimated wire size of a message made of `strings` plus `fixedBytes` of numbers and tags:
 * each string costs its bytes plus a tag and a length prefix (≤ 6 bytes below 2 MiB), and the
 * message its own tag and length prefix inside its parent.
 */
export function estimateBytes(fixedBytes: number, ...strings: readonly (string | readonly string[])[]): number {
  let n = fixedBytes + 6;
  for (const s of strings) {
    if (typeof s === 'string') n += utf8Bound(s) + 6;
    else for (const x of s) n += utf8Bound(x) + 6;
  }
  return n;
}

/**
 * Groups `items` into consecutive chunks whose estimated sizes add up to at most `budgetBytes`
 * (an item larger than the budget gets a chunk of its own). Always returns at least one chunk, so
 * an empty snapshot is still one message.
 */
export function chunkBySize<T>(items: Iterable<T>, sizeOf: (item: T) => number, budgetBytes: number): T[][] {
  const chunks: T[][] = [[]];
  let used = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (used > 0 && used + size > budgetBytes) {
      chunks.push([]);
      used = 0;
    }
    chunks[chunks.length - 1]!.push(item);
    used += size;
  }
  return chunks;
}
