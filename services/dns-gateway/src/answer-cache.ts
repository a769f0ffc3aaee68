/** Where a client sits: the subnet the cache matches decisions against. */
export interface ClientKey {
  readonly family: 1 | 2;
  /** 4 or 16 bytes. */
  readonly address: Uint8Array;
  /** How many leading bits of `address` the client revealed (32/128 for a packet source). */
  readonly prefixLength: number;
}

/** A cached decision. */
export interface CacheEntry<V> {
  readonly value: V;
  /** Config version (etcd revision) the decision was made on. */
  readonly configVersion: number;
  readonly expiresAtMs: number;
}

/** A lookup result: `fresh` entries are answered as they are; others only when no resolver answers. */
export interface CacheHit<V> {
  readonly entry: CacheEntry<V>;
  readonly fresh: boolean;
  /** Whole seconds of TTL left (0 for a stale entry). */
  readonly ttlLeftS: number;
  /** How many entries longer than this one that could hold the client had been stored, for {@link AnswerCache.ttlLeftS}. */
  readonly stamp: number;
}

/** Options of {@link createAnswerCache}. */
export interface AnswerCacheOptions {
  /** Most entries; the oldest are dropped first. 0 turns the cache off. Defaults to 100 000. */
  maxEntries?: number;
  /** How long past its TTL an entry may still be served when no resolver answers, milliseconds. Defaults to 30 000. */
  staleMs?: number;
  /** Clock in milliseconds. Defaults to Date.now. */
  now?: () => number;
}

/** The scope-aware answer cache. */
export interface AnswerCache<V> {
  /** The entry for (name, type) whose decided subnet contains `client`, fresh or within the staleness bound. */
  get(name: string, qtype: number, client: ClientKey): CacheHit<V> | undefined;
  /** Stores a decision valid for the client's subnet cut at `scope` bits, for `ttlS` seconds. */
  set(name: string, qtype: number, client: ClientKey, scope: number, ttlS: number, configVersion: number, value: V): void;
  /**
   * Whole seconds of TTL left of `entry` while it is still the fresh answer the lookup for
   * `client` that found it at `stamp` would find again; -1 once anything that lookup depended on
   * may have changed (an entry with a longer scope stored for the same name and type that could
   * hold the client — for IPv4, one in the client's /8 or one shorter than /8 —, the entry dropped
   * or replaced, less than a second left, a newer config version). Lets a caller keep what it
   * built from a hit (the packet cache).
   */
  ttlLeftS(entry: CacheEntry<V>, stamp: number, client: ClientKey): number;
  /** Entries made on a config version below this are no longer fresh (a config change is seen at once). */
  setConfigVersion(version: number): void;
  readonly size: number;
  clear(): void;
}

/**
 * An IPv4 subnet's key in the map of its prefix length: the masked address as a signed 32-bit
 * integer, which V8 keeps unboxed (a small integer on 64-bit Node), so a lookup neither allocates
 * nor follows a pointer to compare keys.
 */
function v4Key(u32: number, bits: number): number {
  return bits === 0 ? 0 : u32 & (-1 << (32 - bits));
}

/** An IPv6 subnet's key in the map of its prefix length: the hex of its whole bytes and of the masked partial byte. */
function v6Key(a: Uint8Array, bits: number): string {
  let text = '';
  const whole = bits >> 3;
  for (let i = 0; i < whole; i++) text += a[i]!.toString(16).padStart(2, '0');
  if (bits % 8 !== 0) text += (a[whole]! & (0xff << (8 - (bits % 8)))).toString(16).padStart(2, '0');
  return text;
}

/**
 * Stores since the bucket began that could change what a lookup of a client (`u32` for IPv4)
 * finding a slot of `bits` returns: those longer than `bits` that could hold the client. Both
 * counts only grow, so their sum changes whenever either does.
 */
function stampOf(bucket: Bucket<unknown>, bits: number, family: 1 | 2, u32: number): number {
  const all = bucket.storesAtLeast[bits + 1] ?? 0;
  if (family !== 1) return all;
  return all + (bits >= 32 ? 0 : (bucket.storesIn8[u32 >>> 24]?.[bits + 1] ?? 0));
}

/** Most remembered /24 lookups per bucket ({@link Bucket.near}); past it they are forgotten at once. */
const NEAR_MAX = 65_536;

/** The entries of one (name, type, family): the scope lengths stored, longest first, and one map of subnets per length. */
interface Bucket<V> {
  readonly lengths: number[];
  /** Indexed by prefix length (0–128). */
  readonly byLength: (Map<number | string, Slot<V>> | undefined)[];
  /**
   * IPv4 only, while every stored length is 24 or less: the result of an earlier lookup, by client
   * /24 (all clients of a /24 that reveal at least 24 bits find the same entry then). Spares a hit
   * one map lookup per scope length longer than its own (geo blocks come in many lengths). Emptied
   * whenever an entry is stored in the bucket; an entry dropped since is seen by its `live` flag.
   */
  readonly near: Map<number, Slot<V>>;
  /**
   * Stores into the bucket so far at each prefix length or longer (index 0–129): IPv6 ones, and
   * IPv4 ones shorter than /8. A lookup that found a slot of length b can only find another one
   * after a store longer than b that holds the client (or when its slot dies): a shorter one is
   * tried after it, and one of the same length and key replaces it.
   */
  readonly storesAtLeast: Int32Array;
  /**
   * IPv4 stores of /8 or longer, counted the same way per first octet (index 0–33; made on the
   * first store in that /8): a store elsewhere cannot hold the client, so it does not count.
   */
  readonly storesIn8: (Int32Array | undefined)[];
}
/**
 * One stored entry, which is also the {@link CacheEntry} a lookup returns (one object and one
 * pointer less per lookup); in the eviction order until it is replaced or dropped.
 */
interface Slot<V> extends CacheEntry<V> {
  readonly bucket: Bucket<V>;
  readonly bits: number;
  readonly key: number | string;
  live: boolean;
}

/**
 * Answers keyed by (name, type, client subnet at the decided scope), RFC 7871 §7.3.1 style: a
 * decision whose scope is /S answers every client inside that /S, and only clients that revealed
 * at least S bits. For each (name, type, family) the cache remembers which scope lengths it holds,
 * so a lookup tries each of those (a handful: the geo blocks' lengths) from the longest down.
 * Lookups build no string for IPv4 (an integer key per subnet, {@link v4Key}); entries are
 * dropped oldest-stored first when the cache is full.
 *
 * Freshness bound: an entry is fresh for the decision's TTL and only while no newer config version
 * has been seen; the config stream announces a change within milliseconds, so a drained or edited
 * node leaves cached answers at once. Weight changes (health) are not announced to the gateway:
 * they reach answers within the decision's TTL, which the resolver keeps short (at most the
 * policy's TTL, 10 s for degraded tiers).
 */
export function createAnswerCache<V>(options: AnswerCacheOptions = {}): AnswerCache<V> {
  const maxEntries = options.maxEntries ?? 100_000;
  const staleMs = options.staleMs ?? 30_000;
  const now = options.now ?? Date.now;
  /** name -> (type × 2 + family − 1) -> bucket. */
  const buckets = new Map<string, Map<number, Bucket<V>>>();
  /** Slots in the order they were stored; replaced and dropped ones stay until passed (`live` false). */
  let order: Slot<V>[] = [];
  let head = 0;
  let live = 0;
  let configVersion = 0;
  const u32Of = (a: Uint8Array): number => ((a[0]! << 24) | (a[1]! << 16) | (a[2]! << 8) | a[3]!) >>> 0;

  /** Whole seconds of TTL left while `slot` is fresh (a second or more, made on the newest config version), else -1. */
  const freshS = (slot: Slot<V>, leftMs: number): number => (leftMs >= 1000 && slot.configVersion >= configVersion ? Math.floor(leftMs / 1000) : -1);
  /** A lookup's result: `slot` found for a client (`u32` for IPv4) with `leftMs` of TTL left, within the staleness bound. */
  const hitOf = (slot: Slot<V>, leftMs: number, family: 1 | 2, u32: number): CacheHit<V> => {
    const ttlLeftS = freshS(slot, leftMs);
    return { entry: slot, fresh: ttlLeftS >= 0, ttlLeftS: Math.max(0, ttlLeftS), stamp: stampOf(slot.bucket, slot.bits, family, u32) };
  };

  const drop = (slot: Slot<V>): void => {
    slot.live = false;
    slot.bucket.byLength[slot.bits]!.delete(slot.key);
    live--;
  };

  return {
    get(name, qtype, client) {
      if (maxEntries === 0) return undefined;
      const bucket = buckets.get(name)?.get(qtype * 2 + client.family - 1);
      if (!bucket) return undefined;
      const u32 = client.family === 1 ? u32Of(client.address) : 0;
      const t = now();
      const lengths = bucket.lengths;
      const nearKey = client.family === 1 && client.prefixLength >= 24 && lengths[0]! <= 24 ? v4Key(u32, 24) : -1;
      if (nearKey !== -1) {
        const slot = bucket.near.get(nearKey);
        if (slot?.live) {
          const leftMs = slot.expiresAtMs - t;
          if (leftMs > -staleMs) return hitOf(slot, leftMs, client.family, u32);
        }
      }
      for (let i = 0; i < lengths.length; i++) {
        const bits = lengths[i]!;
        if (bits > client.prefixLength) continue;
        const slot = bucket.byLength[bits]!.get(client.family === 1 ? v4Key(u32, bits) : v6Key(client.address, bits));
        if (!slot) continue;
        const leftMs = slot.expiresAtMs - t;
        if (leftMs <= -staleMs) continue;
        if (nearKey !== -1) {
          if (bucket.near.size >= NEAR_MAX) bucket.near.clear();
          bucket.near.set(nearKey, slot);
        }
        return hitOf(slot, leftMs, client.family, u32);
      }
      return undefined;
    },
    set(name, qtype, client, scope, ttlS, version, value) {
      if (maxEntries === 0 || ttlS <= 0) return;
      // A scope longer than what the client revealed is stored at the client's own prefix: the
      // answer is known to hold for that subnet only.
      const bits = Math.min(scope, client.prefixLength);
      let byType = buckets.get(name);
      if (!byType) buckets.set(name, (byType = new Map()));
      const typeKey = qtype * 2 + client.family - 1;
      let bucket = byType.get(typeKey);
      if (!bucket) byType.set(typeKey, (bucket = { lengths: [], byLength: new Array<undefined>(129).fill(undefined), near: new Map(), storesAtLeast: new Int32Array(130), storesIn8: [] }));
      bucket.near.clear();
      let subnets = bucket.byLength[bits];
      if (!subnets) {
        bucket.byLength[bits] = subnets = new Map();
        bucket.lengths.push(bits);
        bucket.lengths.sort((a, b) => b - a);
      }
      const counts = client.family === 1 && bits >= 8 ? (bucket.storesIn8[client.address[0]!] ??= new Int32Array(34)) : bucket.storesAtLeast;
      for (let i = 0; i <= bits; i++) counts[i]!++;
      const key = client.family === 1 ? v4Key(u32Of(client.address), bits) : v6Key(client.address, bits);
      const replaced = subnets.get(key);
      if (replaced) drop(replaced);
      const slot: Slot<V> = { value, configVersion: version, expiresAtMs: now() + ttlS * 1000, bucket, bits, key, live: true };
      subnets.set(key, slot);
      order.push(slot);
      live++;
      while (live > maxEntries) {
        const oldest = order[head++]!;
        if (oldest.live) drop(oldest);
      }
      // Passed and replaced slots are garbage: compact once they outnumber the live ones.
      if (order.length - live > Math.max(1024, live)) {
        order = order.slice(head).filter((x) => x.live);
        head = 0;
      }
    },
    ttlLeftS(entry, stamp, client) {
      const slot = entry as Slot<V>;
      if (!slot.live || stampOf(slot.bucket, slot.bits, client.family, client.family === 1 ? u32Of(client.address) : 0) !== stamp) return -1;
      return freshS(slot, slot.expiresAtMs - now());
    },
    setConfigVersion(version) {
      if (version > configVersion) configVersion = version;
    },
    get size() {
      return live;
    },
    clear() {
      // Dead, so that nothing kept from an earlier lookup (ttlLeftS) outlives the clear.
      for (let i = head; i < order.length; i++) order[i]!.live = false;
      buckets.clear();
      order = [];
      head = 0;
      live = 0;
    },
  };
}
