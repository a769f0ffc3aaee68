import { describe, expect, it } from 'vitest';
import { asnIspCode } from './asn-isp-codes.js';
import { ispCode, ispCodeTable } from './isp-codes.js';

describe('ispCode', () => {
  it.each([
    ['电信', 'ct'],
    ['联通', 'cu'],
    ['移动', 'cm'],
    ['铁通', 'crtc'],
    ['教育网', 'cernet'],
    ['鹏博士', 'drpeng'],
    ['广电', 'cbn'],
    ['科技网', 'cstnet'],
    ['阿里云', 'alibaba'],
    ['阿里巴巴', 'alibaba'],
    ['电讯盈科', 'pccw'],
    ['中华电信', 'cht'],
    ['康卡斯特', 'comcast'],
    ['美国电话电报', 'att'],
    ['西班牙电信', 'telefonica'],
    ['橘子电信', 'orange'],
    ['法国电信', 'orange'],
  ])('%s → %s', (name, code) => {
    expect(ispCode(name)).toBe(code);
  });

  it('maps every provincial cable operator (…广电) to the 广电 network', () => {
    expect(ispCode('陕西广电')).toBe('cbn');
    expect(ispCode('山东青岛广电')).toBe('cbn');
  });

  it('slugs Latin names', () => {
    expect(ispCode('Level3')).toBe('level3');
    expect(ispCode('Hurricane-Electric')).toBe('hurricane-electric');
    expect(ispCode('Finance-and-Promoting-Technology')).toBe('finance-and-promoting-technology');
    expect(ispCode('KDDI')).toBe('kddi');
    expect(ispCode('AT&T Services')).toBe('at-t-services');
  });

  it.each(['0', '', '内网IP', '湖南巨亚', 'toString!'])('gives no code for %j', (name) => {
    expect(ispCode(name)).toBe('');
  });

  it('uses short lower-case codes only', () => {
    for (const code of ispCodeTable().values()) expect(code).toMatch(/^[a-z0-9][a-z0-9-]*$/);
  });
});

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
