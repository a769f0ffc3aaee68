/**
 * The officially assigned ISO 3166-1 alpha-2 codes (249, as maintained by the ISO 3166
 * Maintenance Agency), plus "XK" (Kosovo): not ISO-assigned, but the user-assigned code that
 * MaxMind GeoIP2 and most geolocation data return for Kosovo, so a node there must be expressible.
 *
 * An explicit list rather than one derived from `Intl.DisplayNames` at run time: ICU also names
 * non-country codes (EU, UN, EZ, QO, ZZ "Unknown Region", pseudo-locales XA/XB) and its data changes
 * with the Node build, while a validator must give the same answer everywhere. The spec checks this
 * list against ICU so a typo here cannot go unnoticed.
 */
const ASSIGNED = [
  'AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ',
  'BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ',
  'CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ',
  'DE DJ DK DM DO DZ',
  'EC EE EG EH ER ES ET',
  'FI FJ FK FM FO FR',
  'GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY',
  'HK HM HN HR HT HU',
  'ID IE IL IM IN IO IQ IR IS IT',
  'JE JM JO JP',
  'KE KG KH KI KM KN KP KR KW KY KZ',
  'LA LB LC LI LK LR LS LT LU LV LY',
  'MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ',
  'NA NC NE NF NG NI NL NO NP NR NU NZ',
  'OM',
  'PA PE PF PG PH PK PL PM PN PR PS PT PW PY',
  'QA',
  'RE RO RS RU RW',
  'SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ',
  'TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ',
  'UA UG UM US UY UZ',
  'VA VC VE VG VI VN VU',
  'WF WS',
  'YE YT',
  'ZA ZM ZW',
].flatMap((row) => row.split(' '));

/** User-assigned codes accepted in addition to the ISO ones (see the file comment). */
export const USER_ASSIGNED_COUNTRY_CODES: readonly string[] = ['XK'];

/** Every accepted country code, upper case. */
export const COUNTRY_CODES: ReadonlySet<string> = new Set([...ASSIGNED, ...USER_ASSIGNED_COUNTRY_CODES]);

/** Number of officially assigned ISO 3166-1 alpha-2 codes in {@link COUNTRY_CODES}. */
export const ISO_ASSIGNED_COUNT = ASSIGNED.length;

/** True for an accepted ISO 3166-1 alpha-2 code, upper case ("CN"); "cn" and "XX" are false. */
export function isCountryCode(code: string): boolean {
  return COUNTRY_CODES.has(code);
}
