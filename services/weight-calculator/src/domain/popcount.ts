/**
 * Number of set bits of a 32-bit integer, without a loop (the SWAR method). The hysteresis and the
 * loss window keep their recent probes as bit masks and count failures with this on every result.
 */
export function popcount(value: number): number {
  let v = value - ((value >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}
