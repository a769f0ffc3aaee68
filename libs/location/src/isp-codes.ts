/**
 * ISP codes: the short codes node documents use (`ct` 电信, `cu` 联通, `cm` 移动, …;
 * docs/architecture.md, "Documents"), and the ISP names of the IP data (as ip2region spells them,
 * Chinese or Latin) → those codes. The IP data can only produce codes of the shape
 * {@link isIspCode} accepts, and a node document accepts exactly that shape, so a node's ISP can
 * always be one a client is found in.
 *
 * Built from the distinct ISP values of the shipped database: the Chinese carriers and the
 * Chinese-named ISPs with more than ~100 ranges are listed explicitly, except `印度电信` and
 * `层峰网络`, which name no single carrier in the data (an invented code would mislead).
 * Latin names (`Level3`, `Hurricane-Electric`) need no table: they become a lower-case slug
 * (`level3`, `hurricane-electric`). Any other value, and `0`, is unknown: the empty code.
 */

/** Explicit Chinese names. Several spellings of one company share its code. */
const ISP_NAMES: Readonly<Record<string, string>> = {
  // Mainland carriers and networks.
  电信: 'ct',
  联通: 'cu',
  移动: 'cm',
  铁通: 'crtc',
  教育网: 'cernet',
  鹏博士: 'drpeng',
  广电: 'cbn',
  科技网: 'cstnet',
  方正宽带: 'founder',
  世纪互联: '21vianet',
  华数: 'wasu',
  华数传媒: 'wasu',
  浙江华数: 'wasu',
  歌华: 'gehua',
  网宿: 'wangsu',
  阿里巴巴: 'alibaba',
  阿里云: 'alibaba',
  腾讯: 'tencent',
  百度: 'baidu',
  // Hong Kong, Macao, Taiwan.
  电讯盈科: 'pccw',
  香港宽频: 'hkbn',
  和记电讯: 'hutchison',
  澳门电讯: 'ctm',
  中华电信: 'cht',
  远传电信: 'fetnet',
  台湾固网: 'tfn',
  亚太电信: 'aptg',
  台湾大哥大: 'twm',
  台湾之星: 'tstar',
  // Frequent international carriers, clouds and CDNs named in Chinese.
  康卡斯特: 'comcast',
  美国电话电报: 'att',
  威瑞森: 'verizon',
  西班牙电信: 'telefonica',
  日本电信电话: 'ntt',
  多科莫: 'docomo',
  软银: 'softbank',
  沃达丰: 'vodafone',
  沃达丰印度: 'vodafone',
  橘子电信: 'orange',
  法国电信: 'orange',
  布伊格电信: 'bouygues',
  德国电信: 'dtag',
  意大利电信: 'tim',
  俄罗斯电信: 'rostelecom',
  俄罗斯Tele2: 'tele2',
  加拿大贝尔: 'bell',
  罗杰斯通信: 'rogers',
  澳大利亚电信: 'telstra',
  TPG电信: 'tpg',
  越南邮电: 'vnpt',
  越南军用通讯: 'viettel',
  马来西亚电信: 'tm',
  菲律宾长途电话公司: 'pldt',
  信实通信: 'reliance',
  新加坡电信: 'singtel',
  韩国电信: 'kt',
  SK宽带: 'skb',
  SK电讯: 'skt',
  卡塔尔电信: 'ooredoo',
  巴基斯坦电信: 'ptcl',
  墨西哥电信: 'telmex',
  哈萨克斯坦电信: 'kazakhtelecom',
  扎因: 'zain',
  谷歌: 'google',
  微软: 'microsoft',
  亚马逊: 'amazon',
  苹果: 'apple',
  脸书: 'facebook',
  雅虎: 'yahoo',
  阿卡迈: 'akamai',
  科进: 'cogent',
};

const ISP_BY_NAME: ReadonlyMap<string, string> = new Map(Object.entries(ISP_NAMES));

/** Provincial cable operators (`陕西广电`, `辽宁广电`, …) are all part of the 广电 network. */
const CABLE_SUFFIX = '广电';

/** Latin names only: letters, digits and the separators seen in the data. */
const LATIN_NAME = /^[A-Za-z0-9][A-Za-z0-9 ._&-]*$/;

/** Longest ISP code, in characters (the length of a DNS label; the longest in the shipped data is 32). */
export const MAX_ISP_CODE_LENGTH = 63;

/** What {@link ispCode} produces: lower-case letters and digits in runs joined by single hyphens. */
const ISP_CODE = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/** Human wording of the ISP code shape, for validation messages. */
export const ISP_CODE_SHAPE = `lower-case letters and digits, words joined by single hyphens, at most ${MAX_ISP_CODE_LENGTH} characters, such as "ct"`;

/** True for a code of the shape the IP data produces ("ct", "21vianet", "hurricane-electric"); false for "". */
export function isIspCode(code: string): boolean {
  return code.length <= MAX_ISP_CODE_LENGTH && ISP_CODE.test(code);
}

/**
 * Short code of an ISP name: `电信` → `ct`, `陕西广电` → `cbn`, `Level3` → `level3`.
 *
 * @returns the code, or `''` for `0`, private ranges (`内网IP`), Chinese names not in the table and
 * Latin names whose slug would be longer than {@link MAX_ISP_CODE_LENGTH}.
 */
export function ispCode(name: string): string {
  const known = ISP_BY_NAME.get(name);
  if (known !== undefined) return known;
  if (name.length > CABLE_SUFFIX.length && name.endsWith(CABLE_SUFFIX)) return 'cbn';
  if (name === '0' || !LATIN_NAME.test(name)) return '';
  const slug = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
  return slug.length <= MAX_ISP_CODE_LENGTH ? slug : '';
}

/** The explicit name → code table (Latin names are slugged, not listed). */
export function ispCodeTable(): ReadonlyMap<string, string> {
  return ISP_BY_NAME;
}
