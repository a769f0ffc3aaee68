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

/** One stored reply. `S` is what the caller needs to tell whether it still holds. */
export interface PacketEntry<S> {
  /** The query, whole (its ID is not compared). */
  readonly query: Uint8Array;
  /** The reply as first written (its ID is overwritten on every use). */
  readonly reply: Buffer;
  /** Offsets of the 32-bit TTLs to set on every use (the address answers; a NODATA SOA's is fixed). */
  readonly ttlOffsets: readonly number[];
  /** Largest TTL to answer (the decision's own), seconds. */
  readonly ttlCapS: number;
  readonly qtype: number;
  readonly state: S;
}

export interface PacketCache<S> {
  /** The entry whose query equals `packet` past its 2-byte ID, if any. */
  find(packet: Uint8Array): PacketEntry<S> | undefined;
  /** Stores `reply` for `packet` (both are copied). */
  store(packet: Uint8Array, reply: Uint8Array, ttlOffsets: readonly number[], ttlCapS: number, qtype: number, state: S): void;
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

function sameQuery(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 2; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A packet cache of at most `maxEntries` replies (0: it stores nothing). */
export function createPacketCache<S>(maxEntries: number): PacketCache<S> {
  const byHash = new Map<number, PacketEntry<S>>();
  /** Hashes in the order they were stored, a ring of `maxEntries`; a replaced entry's hash is passed over. */
  const ring = new Int32Array(Math.max(1, maxEntries));
  const ringEntry: (PacketEntry<S> | undefined)[] = new Array<undefined>(Math.max(1, maxEntries)).fill(undefined);
  let next = 0;

  return {
    find(packet) {
      if (maxEntries === 0) return undefined;
      const entry = byHash.get(queryHash(packet));
      return entry !== undefined && sameQuery(entry.query, packet) ? entry : undefined;
    },
    store(packet, reply, ttlOffsets, ttlCapS, qtype, state) {
      if (maxEntries === 0) return;
      const hash = queryHash(packet);
      // The slot this store takes held the oldest entry: it leaves unless a later store replaced it.
      const oldest = ringEntry[next];
      if (oldest !== undefined && byHash.get(ring[next]!) === oldest) byHash.delete(ring[next]!);
      const entry: PacketEntry<S> = { query: Uint8Array.from(packet), reply: Buffer.from(reply), ttlOffsets, ttlCapS, qtype, state };
      byHash.set(hash, entry);
      ring[next] = hash;
      ringEntry[next] = entry;
      next = (next + 1) % maxEntries;
    },
    replyTo(entry, id, ttlS) {
      const out = Buffer.allocUnsafe(entry.reply.length);
      entry.reply.copy(out);
      out[0] = id >> 8;
      out[1] = id & 0xff;
      const ttl = ttlS >>> 0;
      for (const o of entry.ttlOffsets) {
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
      ringEntry.fill(undefined);
      next = 0;
    },
  };
}
