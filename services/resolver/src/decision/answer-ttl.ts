import type { ResolvedTableOptions } from './candidate-tables.js';

/**
 * TTL of an answer, seconds. The policy TTL is what clients cache on a healthy fleet; when the
 * answer rests on reduced capacity we want them back sooner, so that they move again as soon as
 * the picture changes (a recovered tier gets its clients back within one short TTL):
 *
 * 1. tier partly down (healthy share < 1): ttl × share, rounded down, but at least `minTtlS`
 *    (default 5 s) — at 60 % healthy a 300 s policy gives 180 s, at 1 % it gives 5 s;
 * 2. spill, below-threshold and best-effort answers (`shortened`): at most `shortTtlS`
 *    (default 10 s) — they are the answers we most want to take back;
 * 3. never longer than the policy TTL (a 2 s policy stays 2 s whatever the floor).
 *
 * Rules 1 and 2 both apply when both hold (a spill to a tier that is itself partly down).
 */
export function answerTtlS(
  policy: { readonly ttlS: number },
  tier: { readonly healthyShare: number },
  shortened: boolean,
  options: ResolvedTableOptions,
): number {
  // Takes the objects, not the numbers: a fractional share passed to a call V8 does not inline
  // is boxed into a fresh heap number, an allocation per decision.
  const policyTtlS = policy.ttlS;
  const healthyShare = tier.healthyShare;
  let ttl = policyTtlS;
  if (healthyShare < 1) ttl = Math.min(ttl, Math.max(options.minTtlS, Math.floor(policyTtlS * healthyShare)));
  if (shortened && ttl > options.shortTtlS) ttl = options.shortTtlS;
  return ttl;
}
