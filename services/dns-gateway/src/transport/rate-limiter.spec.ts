import { describe, expect, it } from 'vitest';
import { createRateLimiter, rateLimitKey } from './rate-limiter.js';

function clocked(options: { ratePerS: number; slip?: number; maxSubnets?: number }) {
  let t = 0;
  const limiter = createRateLimiter({ ...options, now: () => t });
  return { limiter, advance: (ms: number) => (t += ms) };
}

describe('response rate limiting', () => {
  it('is off by default: every reply is sent', () => {
    const limiter = createRateLimiter();
    expect(limiter.enabled).toBe(false);
    for (let i = 0; i < 1000; i++) expect(limiter.check('192.0.2.1')).toBe('send');
  });

  it('limits per source /24 and /56, not per address', () => {
    expect(rateLimitKey('192.0.2.1')).toBe(rateLimitKey('192.0.2.254'));
    expect(rateLimitKey('192.0.2.1')).not.toBe(rateLimitKey('192.0.3.1'));
    expect(rateLimitKey('::ffff:192.0.2.7')).toBe(rateLimitKey('192.0.2.1'));
    expect(rateLimitKey('2001:db8:0:ab00::1')).toBe(rateLimitKey('2001:db8:0:abff:ffff::9'));
    expect(rateLimitKey('2001:db8:0:ab00::1')).not.toBe(rateLimitKey('2001:db8:0:ac00::1'));
    expect(rateLimitKey('2001:db8::1')).toBe(rateLimitKey('2001:0db8:0000:0000::2'));

    const { limiter } = clocked({ ratePerS: 5, slip: 0 });
    const verdicts = (address: string, n: number) => Array.from({ length: n }, () => limiter.check(address));
    // A full bucket: the first 5 replies of a /24 go out, from any address in it.
    expect([...verdicts('192.0.2.1', 3), ...verdicts('192.0.2.200', 2)]).toEqual(Array(5).fill('send'));
    expect(verdicts('192.0.2.9', 3)).toEqual(['drop', 'drop', 'drop']);
    // Another /24 has its own bucket.
    expect(verdicts('198.51.100.1', 5)).toEqual(Array(5).fill('send'));
  });

  it('refills at the configured rate, up to one second of burst', () => {
    const { limiter, advance } = clocked({ ratePerS: 10, slip: 0 });
    for (let i = 0; i < 10; i++) expect(limiter.check('192.0.2.1')).toBe('send');
    expect(limiter.check('192.0.2.1')).toBe('drop');
    advance(250); // 2.5 tokens
    expect([limiter.check('192.0.2.1'), limiter.check('192.0.2.1'), limiter.check('192.0.2.1')]).toEqual(['send', 'send', 'drop']);
    advance(60_000); // a long pause fills the bucket, no more
    const after = Array.from({ length: 12 }, () => limiter.check('192.0.2.1'));
    expect(after.filter((v) => v === 'send')).toHaveLength(10);
  });

  it('slips every Nth limited reply (sent truncated, so a real client retries over TCP), as BIND RRL does', () => {
    const { limiter } = clocked({ ratePerS: 1, slip: 2 });
    expect(limiter.check('203.0.113.5')).toBe('send');
    const limited = Array.from({ length: 6 }, () => limiter.check('203.0.113.5'));
    expect(limited).toEqual(['drop', 'slip', 'drop', 'slip', 'drop', 'slip']);
    const { limiter: every } = clocked({ ratePerS: 1, slip: 1 });
    every.check('203.0.113.5');
    expect([every.check('203.0.113.5'), every.check('203.0.113.5')]).toEqual(['slip', 'slip']);
  });

  it('forgets the oldest subnets beyond its bound (a spoofed-source flood cannot grow it without limit)', () => {
    const { limiter } = clocked({ ratePerS: 1, slip: 0, maxSubnets: 2 });
    expect(limiter.check('10.0.1.1')).toBe('send');
    expect(limiter.check('10.0.1.1')).toBe('drop');
    limiter.check('10.0.2.1');
    limiter.check('10.0.3.1'); // evicts 10.0.1.0/24
    expect(limiter.check('10.0.1.1')).toBe('send');
  });
});
