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
  /** Entries made on a config version below this are no longer fresh (a config change is seen at once). */
  setConfigVersion(version: number): void;
  readonly size: number;
  clear(): void;
}

function subnetKey(client: ClientKey, bits: number): string {
  const a = client.address;
  if (client.family === 1) {
    const u32 = ((a[0]! << 24) | (a[1]! << 16) | (a[2]! << 8) | a[3]!) >>> 0;
    const masked = bits === 0 ? 0 : (u32 & (~0 << (32 - bits))) >>> 0;
    return `4:${masked}/${bits}`;
  }
  let text = '6:';
  const whole = bits >> 3;
  for (let i = 0; i < whole; i++) text += a[i]!.toString(16).padStart(2, '0');
  if (bits % 8 !== 0) text += (a[whole]! & (0xff << (8 - (bits % 8)))).toString(16).padStart(2, '0');
  return `${text}/${bits}`;
}

/**
 * Answers keyed by (name, type, client subnet at the decided scope), RFC 7871 §7.3.1 style: a
 * decision whose scope is /S answers every client inside that /S, and only clients that revealed
 * at least S bits. For each (name, type, family) the cache remembers which scope lengths it holds,
 * so a lookup tries each of those (a handful: the geo blocks' lengths) from the longest down.
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
  const entries = new Map<string, CacheEntry<V>>();
  /** Scope lengths held per `name|type|family`, longest first. */
  const scopes = new Map<string, number[]>();
  let configVersion = 0;

  return {
    get(name, qtype, client) {
      if (maxEntries === 0) return undefined;
      const base = `${name}|${qtype}|${client.family}`;
      const lengths = scopes.get(base);
      if (!lengths) return undefined;
      const t = now();
      for (const bits of lengths) {
        if (bits > client.prefixLength) continue;
        const entry = entries.get(`${base}|${subnetKey(client, bits)}`);
        if (!entry) continue;
        const leftMs = entry.expiresAtMs - t;
        if (leftMs >= 1000 && entry.configVersion >= configVersion) return { entry, fresh: true, ttlLeftS: Math.floor(leftMs / 1000) };
        if (leftMs > -staleMs) return { entry, fresh: false, ttlLeftS: 0 };
      }
      return undefined;
    },
    set(name, qtype, client, scope, ttlS, version, value) {
      if (maxEntries === 0 || ttlS <= 0) return;
      // A scope longer than what the client revealed is stored at the client's own prefix: the
      // answer is known to hold for that subnet only.
      const bits = Math.min(scope, client.prefixLength);
      const base = `${name}|${qtype}|${client.family}`;
      const key = `${base}|${subnetKey(client, bits)}`;
      let lengths = scopes.get(base);
      if (!lengths) scopes.set(base, (lengths = []));
      if (!lengths.includes(bits)) {
        lengths.push(bits);
        lengths.sort((a, b) => b - a);
      }
      entries.delete(key);
      entries.set(key, { value, configVersion: version, expiresAtMs: now() + ttlS * 1000 });
      while (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
    },
    setConfigVersion(version) {
      if (version > configVersion) configVersion = version;
    },
    get size() {
      return entries.size;
    },
    clear() {
      entries.clear();
      scopes.clear();
    },
  };
}
