import { ispCode } from '@cdn-sched/location';
import { describe, expect, it } from 'vitest';
import { asnIspCode } from './asn-isp-codes.js';

describe('asnIspCode', () => {
  it('gives the same codes as the ip2region names for the big carriers', () => {
    expect(asnIspCode(4134)).toBe(ispCode('电信'));
    expect(asnIspCode(4837)).toBe(ispCode('联通'));
    expect(asnIspCode(9808)).toBe(ispCode('移动'));
    expect(asnIspCode(4538)).toBe(ispCode('教育网'));
    expect(asnIspCode(7018)).toBe(ispCode('美国电话电报'));
    expect(asnIspCode(3356)).toBe(ispCode('Level3'));
    expect(asnIspCode(64512)).toBe('');
  });
});
