import { describe, expect, it } from 'vitest';
import { provinceCode, provinceCodeTable, provinceShortName } from './province-codes.js';

describe('provinceCode', () => {
  it('covers the 34 province-level divisions with distinct ISO 3166-2:CN codes', () => {
    const table = provinceCodeTable();
    const codes = Object.values(table);
    expect(codes).toHaveLength(34);
    expect(new Set(codes).size).toBe(34);
    for (const code of codes) expect(code).toMatch(/^CN-[A-Z]{2}$/);
  });

  it.each([
    ['广东省', 'CN-GD'],
    ['广东', 'CN-GD'],
    ['北京市', 'CN-BJ'],
    ['北京', 'CN-BJ'],
    ['广西壮族自治区', 'CN-GX'],
    ['广西', 'CN-GX'],
    ['宁夏回族自治区', 'CN-NX'],
    ['宁夏', 'CN-NX'],
    ['新疆维吾尔自治区', 'CN-XJ'],
    ['新疆', 'CN-XJ'],
    ['内蒙古自治区', 'CN-NM'],
    ['内蒙古', 'CN-NM'],
    ['西藏自治区', 'CN-XZ'],
    ['西藏', 'CN-XZ'],
    ['香港特别行政区', 'CN-HK'],
    ['香港', 'CN-HK'],
    ['中国香港', 'CN-HK'],
    ['澳门', 'CN-MO'],
    ['台湾省', 'CN-TW'],
    ['河南省', 'CN-HA'],
    ['河北', 'CN-HE'],
    ['湖南省', 'CN-HN'],
    ['湖北省', 'CN-HB'],
    ['海南省', 'CN-HI'],
    ['山西省', 'CN-SX'],
    ['陕西省', 'CN-SN'],
    ['黑龙江省', 'CN-HL'],
    ['重庆市', 'CN-CQ'],
    ['天津', 'CN-TJ'],
    ['上海市', 'CN-SH'],
  ])('%s → %s', (name, code) => {
    expect(provinceCode(name)).toBe(code);
  });

  it.each(['0', '', '加利福尼亚', '省', 'toString', '广东省深圳市'])('gives no code for %j', (name) => {
    expect(provinceCode(name)).toBe('');
  });

  it('strips the longest administrative suffix', () => {
    expect(provinceShortName('广西壮族自治区')).toBe('广西');
    expect(provinceShortName('新疆维吾尔自治区')).toBe('新疆');
    expect(provinceShortName('澳门特别行政区')).toBe('澳门');
    expect(provinceShortName(' 吉林省 ')).toBe('吉林');
  });
});
