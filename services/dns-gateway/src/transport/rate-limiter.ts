/** What to do with one UDP reply under response rate limiting. */
export type RateDecision = 'send' | 'drop' | 'slip';

/** Options of {@link createRateLimiter}. */
export interface RateLimiterOptions {
  /** Replies per second allowed per client /24 (IPv6 /56). 0 turns limiting off. Defaults to 0. */
  ratePerS?: number;
  /** Every `slip`-th limited reply is sent truncated (TC=1) instead of dropped; 0 drops all. Defaults to 2. */
  slip?: number;
  /** Most tracked subnets; the oldest are forgotten first. Defaults to 100 000. */
  maxSubnets?: number;
  /** Clock in milliseconds. Defaults to performance.now. */
  now?: () => number;
}

/** Response rate limiting per source subnet. */
export interface RateLimiter {
  readonly enabled: boolean;
  check(address: string): RateDecision;
}

interface Bucket {
  tokens: number;
  atMs: number;
  limited: number;
}

/** The subnet a source address is limited by: /24 for IPv4, /56 for IPv6 (the first 14 hex digits). */
export function rateLimitKey(address: string): string {
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (!v4.includes(':')) return v4.slice(0, v4.lastIndexOf('.'));
  const [head, tail] = v4.split('::') as [string, string | undefined];
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined ? [] : tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const hex = groups.map((g) => g.padStart(4, '0')).join('');
  return hex.slice(0, 14);
}

/**
 * A token bucket per source /24 (/56), as BIND's and Knot's response rate limiting do: a
 * spoofed-source flood cannot turn the gateway into an amplifier, while "slipped" truncated replies
 * still let a real client behind a limited subnet get its answer over TCP.
 */
export function createRateLimiter(options: RateLimiterOptions = {}): RateLimiter {
  const rate = options.ratePerS ?? 0;
  const slip = options.slip ?? 2;
  const maxSubnets = options.maxSubnets ?? 100_000;
  const now = options.now ?? (() => performance.now());
  const buckets = new Map<string, Bucket>();
  return {
    enabled: rate > 0,
    check(address) {
      if (rate <= 0) return 'send';
      const key = rateLimitKey(address);
      const t = now();
      let b = buckets.get(key);
      if (!b) {
        b = { tokens: rate, atMs: t, limited: 0 };
        buckets.set(key, b);
        if (buckets.size > maxSubnets) buckets.delete(buckets.keys().next().value!);
      } else {
        b.tokens = Math.min(rate, b.tokens + ((t - b.atMs) / 1000) * rate);
        b.atMs = t;
      }
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return 'send';
      }
      b.limited++;
      return slip > 0 && b.limited % slip === 0 ? 'slip' : 'drop';
    },
  };
}
