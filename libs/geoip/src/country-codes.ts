import { COUNTRY_CODES } from '@cdn-sched/location';

/**
 * Chinese country names (as ip2region spells them) → ISO 3166-1 alpha-2.
 *
 * The bulk comes from CLDR through `Intl.DisplayNames('zh-CN')` over the country codes of the
 * location model (@cdn-sched/location, the same list node documents are checked against), so it
 * follows the standard names without a hand-typed list of 250 names and never yields a code a
 * document would refuse; the explicit entries cover the data's own short forms (`阿联酋`, `波黑`,
 * `刚果金`, …), checked against the distinct values of the shipped database (the spec test asserts
 * every one of them resolves).
 */

/**
 * ip2region spellings that CLDR does not use (checked: each is absent from the DisplayNames
 * output). `安的列斯` (the Netherlands Antilles, AN, withdrawn in 2010) maps to Curaçao, the
 * successor that holds its address blocks; `阿森松岛` maps to SH (Saint Helena, Ascension and
 * Tristan da Cunha) because AC is only exceptionally reserved.
 */
const DATA_SPELLINGS: Readonly<Record<string, string>> = {
  中国: 'CN',
  香港: 'HK',
  中国香港: 'HK',
  澳门: 'MO',
  中国澳门: 'MO',
  台湾: 'TW',
  台湾省: 'TW',
  中国台湾: 'TW',
  中非: 'CF',
  刚果布: 'CG',
  刚果金: 'CD',
  南乔治亚岛和南桑威奇群岛: 'GS',
  圣马丁: 'MF',
  多米尼加: 'DO',
  孟加拉: 'BD',
  安的列斯: 'CW',
  巴勒斯坦: 'PS',
  托克劳群岛: 'TK',
  法国南部领地: 'TF',
  波黑: 'BA',
  瓦利斯和富图纳群岛: 'WF',
  留尼旺: 'RE',
  蒙塞拉特岛: 'MS',
  阿联酋: 'AE',
  马其顿: 'MK',
  阿森松岛: 'SH',
};

/**
 * Values that name no country: unknown (`0`), private ranges, and continents or RIR service
 * regions. They map to the empty code (unknown country).
 */
const NOT_A_COUNTRY: ReadonlySet<string> = new Set(['', '0', '内网IP', '亚太地区', '北美地区', '欧洲', '非洲地区']);

function buildCountryTable(): ReadonlyMap<string, string> {
  const table = new Map<string, string>();
  const names = new Intl.DisplayNames(['zh-CN'], { type: 'region', fallback: 'none' });
  // Sorted, so that a name CLDR gives two codes maps to the same one on every build.
  for (const code of [...COUNTRY_CODES].sort()) {
    const name = names.of(code);
    if (name !== undefined && name !== code && !table.has(name)) table.set(name, code);
  }
  for (const [name, code] of Object.entries(DATA_SPELLINGS)) table.set(name, code);
  return table;
}

let countryTable: ReadonlyMap<string, string> | undefined;

/** The full name → code table (built once, on first use). */
export function countryCodeTable(): ReadonlyMap<string, string> {
  countryTable ??= buildCountryTable();
  return countryTable;
}

/**
 * ISO 3166-1 alpha-2 code of a Chinese country name (`美国` → `US`, `阿联酋` → `AE`).
 *
 * @returns the code, or `''` for unknown values, continents and names not in the table.
 */
export function countryCode(name: string): string {
  if (NOT_A_COUNTRY.has(name)) return '';
  return countryCodeTable().get(name) ?? '';
}
