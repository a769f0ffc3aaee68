/**
 * Chinese province-level divisions → ISO 3166-2:CN codes (the two-letter codes in force since the
 * ISO 3166-2 newsletter of 2017-11-23, e.g. `CN-GD`; before that they were numeric, `CN-44`).
 *
 * All 34 divisions are listed: 23 provinces (Taiwan included, as ISO lists it), 5 autonomous
 * regions, 4 municipalities and 2 special administrative regions. Note that {@link
 * normalizeIp2RegionLocation} places Hong Kong, Macao and Taiwan under their own ISO 3166-1 codes
 * (HK, MO, TW) rather than under CN; the table keeps CN-HK/CN-MO/CN-TW so the full standard is
 * available to callers that want it.
 */

/** Short name (no administrative suffix) → ISO 3166-2 code. */
const PROVINCES: Readonly<Record<string, string>> = {
  北京: 'CN-BJ',
  天津: 'CN-TJ',
  河北: 'CN-HE',
  山西: 'CN-SX',
  内蒙古: 'CN-NM',
  辽宁: 'CN-LN',
  吉林: 'CN-JL',
  黑龙江: 'CN-HL',
  上海: 'CN-SH',
  江苏: 'CN-JS',
  浙江: 'CN-ZJ',
  安徽: 'CN-AH',
  福建: 'CN-FJ',
  江西: 'CN-JX',
  山东: 'CN-SD',
  河南: 'CN-HA',
  湖北: 'CN-HB',
  湖南: 'CN-HN',
  广东: 'CN-GD',
  广西: 'CN-GX',
  海南: 'CN-HI',
  重庆: 'CN-CQ',
  四川: 'CN-SC',
  贵州: 'CN-GZ',
  云南: 'CN-YN',
  西藏: 'CN-XZ',
  陕西: 'CN-SN',
  甘肃: 'CN-GS',
  青海: 'CN-QH',
  宁夏: 'CN-NX',
  新疆: 'CN-XJ',
  台湾: 'CN-TW',
  香港: 'CN-HK',
  澳门: 'CN-MO',
};

/** Lookups go through a Map: a plain object would answer `toString` from its prototype. */
const PROVINCE_BY_NAME: ReadonlyMap<string, string> = new Map(Object.entries(PROVINCES));

/**
 * Administrative suffixes, longest first so `广西壮族自治区` loses `壮族自治区`, not just `区`.
 * The data spells the same province with and without them (`辽宁省` and `辽宁`).
 */
const SUFFIXES: readonly string[] = ['维吾尔自治区', '壮族自治区', '回族自治区', '特别行政区', '自治区', '省', '市'];

/** Prefixes some sources put before the SARs and Taiwan (`中国香港`). */
const PREFIX_CHINA = '中国';

/** The short name of a province-level division: suffixes and a leading `中国` removed. */
export function provinceShortName(name: string): string {
  let short = name.trim();
  if (short.startsWith(PREFIX_CHINA) && short.length > PREFIX_CHINA.length) short = short.slice(PREFIX_CHINA.length);
  for (const suffix of SUFFIXES) {
    if (short.length > suffix.length && short.endsWith(suffix)) return short.slice(0, -suffix.length);
  }
  return short;
}

/**
 * ISO 3166-2 code of a Chinese province-level division, tolerant of the spellings found in
 * ip2region: `广东省`, `广东`, `广西壮族自治区`, `广西`, `北京市`, `北京`, `香港特别行政区`, `台湾省`.
 *
 * @returns the code (`CN-GD`), or `''` for `0`, empty or unknown names.
 */
export function provinceCode(name: string): string {
  return PROVINCE_BY_NAME.get(provinceShortName(name)) ?? '';
}

/** Every ISO 3166-2:CN code known to {@link provinceCode}, keyed by short Chinese name. */
export function provinceCodeTable(): Readonly<Record<string, string>> {
  return PROVINCES;
}
