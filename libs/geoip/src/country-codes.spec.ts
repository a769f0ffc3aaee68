import { describe, expect, it } from 'vitest';
import { countryCode, countryCodeTable } from './country-codes.js';

describe('countryCode', () => {
  it.each([
    ['美国', 'US'],
    ['中国', 'CN'],
    ['日本', 'JP'],
    ['英国', 'GB'],
    ['德国', 'DE'],
    ['俄罗斯', 'RU'],
    ['澳大利亚', 'AU'],
    ['韩国', 'KR'],
    ['朝鲜', 'KP'],
    ['南非', 'ZA'],
    ['南极洲', 'AQ'],
    ['科索沃', 'XK'],
    ['香港', 'HK'],
    ['澳门', 'MO'],
    ['台湾', 'TW'],
    ['荷属圣马丁', 'SX'],
    ['圣马丁', 'MF'],
    ['多米尼克', 'DM'],
    ['多米尼加', 'DO'],
  ])('%s → %s', (name, code) => {
    expect(countryCode(name)).toBe(code);
  });

  it.each([
    ['阿联酋', 'AE'],
    ['波黑', 'BA'],
    ['刚果金', 'CD'],
    ['刚果布', 'CG'],
    ['中非', 'CF'],
    ['孟加拉', 'BD'],
    ['巴勒斯坦', 'PS'],
    ['马其顿', 'MK'],
    ['留尼旺', 'RE'],
    ['安的列斯', 'CW'],
    ['阿森松岛', 'SH'],
  ])('maps the data spelling %s → %s', (name, code) => {
    expect(countryCode(name)).toBe(code);
  });

  it.each(['0', '', '亚太地区', '北美地区', '欧洲', '非洲地区', '内网IP', '火星', 'toString'])('gives no code for %j', (name) => {
    expect(countryCode(name)).toBe('');
  });

  it('maps names to current codes only, never to deprecated or reserved ones', () => {
    const codes = new Set(countryCodeTable().values());
    for (const deprecated of ['DD', 'UK', 'YU', 'CS', 'ZR', 'TP', 'SU', 'BU', 'AN', 'FX']) expect(codes.has(deprecated)).toBe(false);
    for (const reserved of ['EU', 'UN', 'EZ', 'ZZ', 'QO', 'AC', 'XA']) expect(codes.has(reserved)).toBe(false);
    for (const code of codes) expect(code).toMatch(/^[A-Z]{2}$/);
    // ISO 3166-1 assigns 249 codes (plus XK in use); CLDR names all of them.
    expect(codes.size).toBeGreaterThanOrEqual(249);
  });
});
