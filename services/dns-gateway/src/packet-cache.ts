/**
 * Whole UDP replies by the bytes of the query that produced them, in front of the answer cache:
 * a repeated query (same name, type, flags, EDNS size and Client Subnet; any ID) is answered by
 * copying the reply built the first time and setting its ID and TTLs, without reading the query,
 * looking the answer up or writing the reply again. PowerDNS Authoritative's packet cache is the
 * same idea; here an entry is only ever a copy of what the handler would write now, because it is
 * kept only while what it was built from still holds (the caller checks that on every use: the
 * answer-cache entry is still the fresh answer for the query, `AnswerCache.ttlLeftS`, and the zones
 * and config version are the same objects and number). Only answers that do not depend on the
 * packet's source are stored (the query carries a Client Subnet of at least one bit).
 *
 * An entry is one object in a map keyed by a 32-bit FNV-1a hash of the query past its ID; the bytes
 * are compared on every hit (a colliding query replaces the entry). Entries leave oldest-stored
 * first once `maxEntries` are held.
 */

/** Where the TTLs to set are: `count` 32-bit fields, the first at `first`, then every `stride` bytes. */
export interface TtlLayout {
  readonly first: number;
  readonly stride: number;
  readonly count: number;
}

/** One stored reply. `S` is what the caller needs to tell whether it still holds. */
export interface PacketEntry<S> {
  /**
   * The query, whole (its ID is not compared), then the reply as first written (its ID and TTLs
   * are overwritten on every use): one buffer, so a hit reads few cache lines.
   */
  readonly bytes: Buffer;
  readonly queryLength: number;
  /** The address answers' TTLs (none for NODATA: its SOA TTL is fixed). */
  readonly ttlFirst: number;
  readonly ttlStride: number;
  readonly ttlCount: number;
  /** Largest TTL to answer (the decision's own), seconds. */
  readonly ttlCapS: number;
  readonly qtype: number;
  readonly state: S;
  /** {@link queryHash} of the query: its key in the cache. */
  readonly hash: number;
}

export interface PacketCache<S> {
  /** The entry whose query equals `packet` past its 2-byte ID, if any. */
  find(packet: Uint8Array): PacketEntry<S> | undefined;
  /** Stores `reply` for `packet` (both are copied). */
  store(packet: Uint8Array, reply: Uint8Array, ttls: TtlLayout, ttlCapS: number, qtype: number, state: S): void;
  /** A copy of the entry's reply with `id` and every answer TTL set to `ttlS`. */
  replyTo(entry: PacketEntry<S>, id: number, ttlS: number): Buffer;
  readonly size: number;
  clear(): void;
}

/** FNV-1a over `bytes[2…]` (the query past its ID), as an unboxed signed 32-bit integer. */
export function queryHash(bytes: Uint8Array): number {
  let h = 0x811c9dc5 | 0;
  for (let i = 2; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h;
}

function sameQuery(entry: PacketEntry<unknown>, packet: Uint8Array): boolean {
  const n = entry.queryLength;
  if (packet.length !== n) return false;
  const bytes = entry.bytes;
  for (let i = 2; i < n; i++) if (bytes[i] !== packet[i]) return false;
  return true;
}

/** A packet cache of at most `maxEntries` replies (0: it stores nothing). */
export function createPacketCache<S>(maxEntries: number): PacketCache<S> {
  const byHash = new Map<number, PacketEntry<S>>();
  /** Entries in the order they were stored, a ring of `maxEntries`; a replaced one is passed over. */
  const ring: (PacketEntry<S> | undefined)[] = new Array<undefined>(Math.max(1, maxEntries)).fill(undefined);
  let next = 0;

  return {
    find(packet) {
      if (maxEntries === 0) return undefined;
      const entry = byHash.get(queryHash(packet));
      return entry !== undefined && sameQuery(entry, packet) ? entry : undefined;
    },
    store(packet, reply, ttls, ttlCapS, qtype, state) {
      if (maxEntries === 0) return;
      const hash = queryHash(packet);
      // The slot this store takes held the oldest entry: it leaves unless a later store replaced it.
      const oldest = ring[next];
      if (oldest !== undefined && byHash.get(oldest.hash) === oldest) byHash.delete(oldest.hash);
      const bytes = Buffer.allocUnsafe(packet.length + reply.length);
      bytes.set(packet, 0);
      bytes.set(reply, packet.length);
      const entry: PacketEntry<S> = { bytes, queryLength: packet.length, ttlFirst: ttls.first, ttlStride: ttls.stride, ttlCount: ttls.count, ttlCapS, qtype, state, hash };
      byHash.set(hash, entry);
      ring[next] = entry;
      next = (next + 1) % maxEntries;
    },
    replyTo(entry, id, ttlS) {
      const bytes = entry.bytes;
      const from = entry.queryLength;
      const n = bytes.length - from;
      const out = Buffer.allocUnsafe(n);
      // A byte loop: a reply is tens of bytes, too few for a native copy call to pay for itself.
      for (let i = 0; i < n; i++) out[i] = bytes[from + i]!;
      out[0] = id >> 8;
      out[1] = id & 0xff;
      const ttl = ttlS >>> 0;
      for (let k = 0, o = entry.ttlFirst; k < entry.ttlCount; k++, o += entry.ttlStride) {
        out[o] = ttl >>> 24;
        out[o + 1] = (ttl >>> 16) & 0xff;
        out[o + 2] = (ttl >>> 8) & 0xff;
        out[o + 3] = ttl & 0xff;
      }
      return out;
    },
    get size() {
      return byHash.size;
    },
    clear() {
      byHash.clear();
      ring.fill(undefined);
      next = 0;
    },
  };
}
