const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** UTF-8 bytes of a key or value. */
export const toBytes = (s: string): Uint8Array => encoder.encode(s);
/** UTF-8 text of a key or value. */
export const toText = (b: Uint8Array): string => decoder.decode(b);

/**
 * The `range_end` that selects every key starting with `prefix`: the prefix with its last byte
 * incremented, dropping trailing 0xff bytes (etcd API: "If range_end is one bit larger than the given
 * key, then the range is all the keys with the prefix").
 */
export function prefixRangeEnd(prefix: Uint8Array): Uint8Array {
  // A copy, never a view: Buffer#slice shares memory with the caller's key.
  const end = new Uint8Array(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++;
      return end.subarray(0, i + 1);
    }
  }
  // All 0xff (or empty): "\0" means every key >= key.
  return new Uint8Array([0]);
}
