import { cidrPrefixLenV4 } from './ipv4.js';

/**
 * An immutable IPv4 range → location-id index in typed arrays (struct of arrays):
 *
 * - `starts`: sorted `Uint32Array` of range starts; the ranges tile the whole address space (gaps
 *   are stored as ranges with no location), so a range ends where the next one starts;
 * - `ids`: location id per range in the narrowest of `Uint8Array`/`Uint16Array`/`Uint32Array`
 *   that holds every id plus a "no location" sentinel (its maximum value);
 * - `buckets`: 65,537 `Uint32` entries; `buckets[h]` is the range that contains `h << 16`, so the
 *   binary search for an address runs only over the ranges of its /16 (a handful of steps on the
 *   ip2region data, where a /16 holds ~10 ranges on average).
 *
 * Adjacent ranges with the same location are merged when built: the answer cannot differ between
 * them, and the merged block is what the ECS scope must describe.
 */
export interface Ipv4RangeIndex {
  /** Ranges stored after merging (gaps included). */
  readonly rangeCount: number;
  /** Bytes of the typed arrays (`starts`, `ids`, `buckets`). */
  readonly byteLength: number;
  /** Location id of `ip` (u32), or `-1` when no location is known. Allocation-free. */
  lookup(ip: number): number;
  /** Prefix length of the largest CIDR block around `ip` inside its (merged) range. */
  prefixLen(ip: number): number;
  /** Index of the stored range that contains `ip`. */
  rangeIndexOf(ip: number): number;
  /** First address of stored range `i`. */
  rangeStart(i: number): number;
  /** Last address of stored range `i`. */
  rangeEnd(i: number): number;
  /** Location id of stored range `i`, `-1` for none. */
  rangeLocation(i: number): number;
}

/** Builds an {@link Ipv4RangeIndex} from ranges added in ascending order. */
export interface Ipv4RangeIndexBuilder {
  /**
   * Adds the range `[start, end]` (u32, inclusive) with a location id (`-1` for none).
   *
   * @returns `undefined`, or what is wrong (unsorted, overlapping, inverted, out of range), for the
   *   loader to report with its file and line; the builder is unchanged then.
   */
  add(start: number, end: number, locationId: number): string | undefined;
  /** Last address covered so far; `-1` before the first range. */
  readonly coveredUpTo: number;
  /** Ranges accepted by {@link Ipv4RangeIndexBuilder.add} (before merging). */
  readonly addedCount: number;
  /** Freezes the ranges into an index; addresses after the last range have no location. */
  build(): Ipv4RangeIndex;
}

/** Options of {@link createIpv4RangeIndexBuilder}. */
export interface Ipv4RangeIndexBuilderOptions {
  /** Capacity to allocate up front, in ranges. Defaults to 4,096; the arrays double as needed. */
  readonly initialCapacity?: number;
}

const MAX_U32 = 0xffffffff;
const BUCKET_COUNT = 65536;

class TypedIpv4RangeIndex implements Ipv4RangeIndex {
  readonly rangeCount: number;
  readonly byteLength: number;
  private readonly starts: Uint32Array;
  private readonly ids: Uint8Array | Uint16Array | Uint32Array;
  private readonly none: number;
  private readonly buckets: Uint32Array;

  constructor(starts: Uint32Array, ids: Uint8Array | Uint16Array | Uint32Array, none: number) {
    this.starts = starts;
    this.ids = ids;
    this.none = none;
    this.rangeCount = starts.length;
    this.buckets = new Uint32Array(BUCKET_COUNT + 1);
    let i = 0;
    for (let h = 0; h < BUCKET_COUNT; h++) {
      const first = h * 65536;
      while (i + 1 < starts.length && starts[i + 1]! <= first) i++;
      this.buckets[h] = i;
    }
    this.buckets[BUCKET_COUNT] = starts.length - 1;
    this.byteLength = starts.byteLength + ids.byteLength + this.buckets.byteLength;
  }

  rangeIndexOf(ip: number): number {
    const addr = ip >>> 0;
    const starts = this.starts;
    const h = addr >>> 16;
    let lo = this.buckets[h]!;
    let hi = this.buckets[h + 1]!;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (starts[mid]! <= addr) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  lookup(ip: number): number {
    const id = this.ids[this.rangeIndexOf(ip)]!;
    return id === this.none ? -1 : id;
  }

  prefixLen(ip: number): number {
    const i = this.rangeIndexOf(ip);
    return cidrPrefixLenV4(ip >>> 0, this.starts[i]!, this.rangeEnd(i));
  }

  rangeStart(i: number): number {
    return this.starts[i]!;
  }

  rangeEnd(i: number): number {
    return i + 1 < this.starts.length ? this.starts[i + 1]! - 1 : MAX_U32;
  }

  rangeLocation(i: number): number {
    const id = this.ids[i]!;
    return id === this.none ? -1 : id;
  }
}

function isU32(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= MAX_U32;
}

/** Creates an empty {@link Ipv4RangeIndexBuilder}. */
export function createIpv4RangeIndexBuilder(options: Ipv4RangeIndexBuilderOptions = {}): Ipv4RangeIndexBuilder {
  let starts = new Uint32Array(Math.max(16, options.initialCapacity ?? 4096));
  let ids = new Int32Array(starts.length);
  let count = 0;
  let lastEnd = -1;
  let added = 0;
  let maxId = -1;
  let built = false;

  const append = (start: number, id: number): void => {
    if (count > 0 && ids[count - 1] === id) return;
    if (count === starts.length) {
      const grownStarts = new Uint32Array(count * 2);
      grownStarts.set(starts);
      starts = grownStarts;
      const grownIds = new Int32Array(count * 2);
      grownIds.set(ids);
      ids = grownIds;
    }
    starts[count] = start;
    ids[count] = id;
    count++;
  };

  return {
    get coveredUpTo() {
      return lastEnd;
    },
    get addedCount() {
      return added;
    },
    add(start, end, locationId) {
      if (built) return 'the index is already built';
      if (!isU32(start) || !isU32(end)) return `range bounds must be IPv4 addresses (got ${start}, ${end})`;
      if (start > end) return 'range start is after its end';
      if (start <= lastEnd) return 'range overlaps or precedes the previous range (ranges must be sorted and disjoint)';
      if (!Number.isInteger(locationId) || locationId < -1) return `invalid location id ${locationId}`;
      if (start > lastEnd + 1) append(lastEnd + 1, -1);
      append(start, locationId);
      lastEnd = end;
      added++;
      if (locationId > maxId) maxId = locationId;
      return undefined;
    },
    build() {
      if (built) throw new Error('Ipv4RangeIndexBuilder.build() called twice');
      built = true;
      if (lastEnd < MAX_U32) append(lastEnd + 1, -1);
      // The sentinel is the largest value of the chosen width, so it must exceed every real id.
      const none = maxId < 0xff ? 0xff : maxId < 0xffff ? 0xffff : MAX_U32;
      const packed = none === 0xff ? new Uint8Array(count) : none === 0xffff ? new Uint16Array(count) : new Uint32Array(count);
      for (let i = 0; i < count; i++) packed[i] = ids[i]! < 0 ? none : ids[i]!;
      return new TypedIpv4RangeIndex(starts.slice(0, count), packed, none);
    },
  };
}
