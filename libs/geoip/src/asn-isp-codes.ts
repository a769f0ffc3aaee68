/**
 * Autonomous system numbers → ISP short codes, for MaxMind records that carry an ASN (GeoLite2-ASN,
 * GeoIP2-ISP, Enterprise `traits`). The codes are the ones `ispCode` (@cdn-sched/location) gives the same carriers
 * in ip2region data, so an address gets the same ISP code whichever database is loaded.
 *
 * Only the networks a CDN in China most needs to tell apart, plus the largest global carriers;
 * every other ASN is an unknown ISP (empty code).
 */
const ASN_CODES: ReadonlyMap<number, string> = new Map([
  // China Telecom: CHINANET backbone, CN2, Shanghai.
  [4134, 'ct'],
  [4809, 'ct'],
  [4812, 'ct'],
  // China Unicom: CHINA169 backbone, CNCNET, Beijing.
  [4837, 'cu'],
  [9929, 'cu'],
  [4808, 'cu'],
  // China Mobile: CMNET and China Mobile International.
  [9808, 'cm'],
  [58453, 'cm'],
  // China Railcom (铁通), CERNET (教育网), CSTNET (科技网).
  [9394, 'crtc'],
  [4538, 'cernet'],
  [7497, 'cstnet'],
  // Large global networks.
  [7018, 'att'],
  [7922, 'comcast'],
  [701, 'verizon'],
  [3320, 'dtag'],
  [2914, 'ntt'],
  [1221, 'telstra'],
  [3356, 'level3'],
  [174, 'cogent'],
  [15169, 'google'],
  [16509, 'amazon'],
  [8075, 'microsoft'],
  [20940, 'akamai'],
]);

/**
 * ISP short code of an autonomous system number (`4134` → `ct`).
 *
 * @returns the code, or `''` for an ASN not in the table.
 */
export function asnIspCode(asn: number): string {
  return ASN_CODES.get(asn) ?? '';
}
