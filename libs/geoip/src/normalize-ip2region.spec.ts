import { describe, expect, it } from 'vitest';
import { normalizeIp2RegionLocation, normalizeIp2RegionString } from './normalize-ip2region.js';

describe('normalizeIp2RegionLocation', () => {
  it('codes mainland records with country, province and ISP', () => {
    expect(normalizeIp2RegionLocation('中国', '广东省', '电信')).toEqual({ country: 'CN', region: 'CN-GD', isp: 'ct' });
    expect(normalizeIp2RegionLocation('中国', '广西', '移动')).toEqual({ country: 'CN', region: 'CN-GX', isp: 'cm' });
    expect(normalizeIp2RegionLocation('中国', '0', '0')).toEqual({ country: 'CN', region: '', isp: '' });
  });

  it('gives Hong Kong, Macao and Taiwan their own country code and no region', () => {
    expect(normalizeIp2RegionLocation('中国', '香港', '电讯盈科')).toEqual({ country: 'HK', region: '', isp: 'pccw' });
    expect(normalizeIp2RegionLocation('中国', '澳门', '0')).toEqual({ country: 'MO', region: '', isp: '' });
    expect(normalizeIp2RegionLocation('中国', '台湾省', '中华电信')).toEqual({ country: 'TW', region: '', isp: 'cht' });
  });

  it('leaves the provinces of other countries uncoded', () => {
    expect(normalizeIp2RegionLocation('美国', '加利福尼亚', 'Level3')).toEqual({ country: 'US', region: '', isp: 'level3' });
    // A province name that is Chinese but under another country is not a CN region.
    expect(normalizeIp2RegionLocation('美国', '广东省', '电信')).toEqual({ country: 'US', region: '', isp: 'ct' });
  });

  it('gives private ranges no location', () => {
    expect(normalizeIp2RegionLocation('0', '0', '内网IP')).toEqual({ country: '', region: '', isp: '' });
  });
});

describe('normalizeIp2RegionString', () => {
  it('splits the five xdb fields', () => {
    expect(normalizeIp2RegionString('中国|0|广东省|深圳市|电信')).toEqual({ country: 'CN', region: 'CN-GD', isp: 'ct' });
    expect(normalizeIp2RegionString('澳大利亚|0|0|0|0')).toEqual({ country: 'AU', region: '', isp: '' });
  });

  it('refuses other field counts', () => {
    expect(normalizeIp2RegionString('中国|广东省|电信')).toBeUndefined();
    expect(normalizeIp2RegionString('')).toBeUndefined();
  });
});
