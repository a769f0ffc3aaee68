import { describe, expect, it } from 'vitest';
import { isIspCode, ispCode, ispCodeTable, MAX_ISP_CODE_LENGTH } from './isp-codes.js';

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

  it('gives only codes a node document accepts, or none', () => {
    for (const code of ispCodeTable().values()) expect(isIspCode(code), code).toBe(true);
    // Latin names of every shape: each slug is a valid code, or there is no code at all.
    const pieces = ['Level3', 'AT&T', ' ', '-', '_', '.', 'NTT', '2degrees', 'x'.repeat(40), '--', 'Ü', '21Vianet'];
    let seed = 7;
    const next = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let i = 0; i < 2000; i++) {
      const name = Array.from({ length: 1 + (next() % 4) }, () => pieces[next() % pieces.length]).join('');
      const code = ispCode(name);
      if (code !== '') expect(isIspCode(code), `${name} → ${code}`).toBe(true);
    }
    expect(ispCode('a'.repeat(MAX_ISP_CODE_LENGTH + 1))).toBe('');
  });
});

describe('isIspCode', () => {
  it('accepts the codes the IP data gives', () => {
    for (const code of ['ct', 'cu', 'cm', 'crtc', 'cernet', '21vianet', '3bb', 'hurricane-electric', 'finance-and-promoting-technology', 'a'.repeat(MAX_ISP_CODE_LENGTH)]) {
      expect(isIspCode(code), code).toBe(true);
    }
  });

  it('refuses what the IP data can never give', () => {
    for (const code of ['', 'CT', 'China Telecom', 'isp_2', '-ct', 'ct-', 'c--t', 'a'.repeat(MAX_ISP_CODE_LENGTH + 1), '电信']) expect(isIspCode(code), code).toBe(false);
  });
});
