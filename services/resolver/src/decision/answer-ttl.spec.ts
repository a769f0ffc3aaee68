import { describe, expect, it } from 'vitest';
import { answerTtlS } from './answer-ttl.js';

const options = { spillThreshold: 0.5, minTtlS: 5, shortTtlS: 10 };

describe('answerTtlS', () => {
  it.each([
    // policy, share, shortened, expected
    [300, 1, false, 300],
    [300, 0.6, false, 180],
    [300, 0.999, false, 299],
    [300, 0.01, false, 5],
    [300, 0, false, 5],
    [300, 1, true, 10],
    [300, 0.6, true, 10],
    [300, 0, true, 5],
    [8, 1, true, 8],
    [2, 0.3, false, 2],
    [2, 1, true, 2],
    [0, 0.5, true, 0],
  ])('policy %i s, share %f, shortened %s → %i s', (policy, share, shortened, expected) => {
    expect(answerTtlS({ ttlS: policy }, { healthyShare: share }, shortened, options)).toBe(expected);
  });

  it('follows the configured floor and cap', () => {
    expect(answerTtlS({ ttlS: 300 }, { healthyShare: 0.01 }, false, { ...options, minTtlS: 30 })).toBe(30);
    expect(answerTtlS({ ttlS: 300 }, { healthyShare: 1 }, true, { ...options, shortTtlS: 60 })).toBe(60);
  });
});
