/**
 * Small, fast, deterministic 32-bit hashing for rendezvous hashing. Not cryptographic: inputs are
 * node ids and client subnets, and we only need a good spread and stability across processes
 * (every replica of every service must compute the same score).
 */

/** murmur3's 32-bit finaliser ("fmix32"): full avalanche of a 32-bit value. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a over the UTF-16 code units of `s`, finalised with fmix32. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h >>> 0);
}

/** Hash of a 32-bit integer key (e.g. an IPv4 /24 network address). */
export function hashU32(x: number): number {
  return fmix32((x ^ 0x9e3779b9) >>> 0);
}

/** Combines two hashes into one (order matters): the per-(key, member) draw of rendezvous hashing. */
export function mix32(a: number, b: number): number {
  return fmix32((a ^ Math.imul(b ^ (b >>> 15), 0x2c1b3c6d)) >>> 0);
}
