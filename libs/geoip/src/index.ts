/**
 * `@cdn-sched/geoip` — the IP → location index of the resolver: an IPv4 range index in typed
 * arrays over the ip2region data (text or xdb), MaxMind `.mmdb` for IPv6, normalisation to ISO
 * and ISP codes, address parsing, and a hot-reloading provider.
 */
export { asnIspCode } from './asn-isp-codes.js';
export {
  ecsV4Address,
  ecsV4PrefixLen,
  parseClientAddress,
  parseEcsSubnet,
  parseEcsSubnetV4Bytes,
  SUBNET_KEY_PREFIX_V4,
  SUBNET_KEY_PREFIX_V6,
  subnetKey,
  subnetKeyV4,
  type ClientAddress,
} from './client-address.js';
export { countryCode, countryCodeTable } from './country-codes.js';
export {
  createRangeDatabase,
  type GeoIpDatabase,
  type GeoIpDatabaseStats,
  type GeoIpFormat,
  type RangeDatabaseParts,
} from './geoip-database.js';
export { GeoIpError, type GeoIpErrorCode, type GeoIpErrorOptions } from './geoip-error.js';
export {
  createGeoIpProvider,
  type GeoIpLogger,
  type GeoIpProvider,
  type GeoIpProviderOptions,
  type GeoIpReloadEvent,
} from './geoip-provider.js';
export { createIp2RegionTextParser, type Ip2RegionTextParser } from './ip2region-text-parser.js';
export {
  createIp2RegionXdbParser,
  looksLikeXdb,
  XDB_HEADER_BYTES,
  XDB_SEGMENT_BYTES,
  XDB_VECTOR_INDEX_BYTES,
  type Ip2RegionXdbParser,
} from './ip2region-xdb-parser.js';
export {
  createIpv4RangeIndexBuilder,
  type Ipv4RangeIndex,
  type Ipv4RangeIndexBuilder,
  type Ipv4RangeIndexBuilderOptions,
} from './ipv4-range-index.js';
export { cidrPrefixLenV4, formatIpv4, maskIpv4, parseIpv4, parseIpv4Bytes, parseIpv4Slice } from './ipv4.js';
export { formatIpv6, formatIpv6Full, ipv4FromMapped, isIpv4Mapped, maskIpv6, parseIpv6 } from './ipv6.js';
// ISP codes belong to the location model; re-exported for readers of the IP data.
export { ispCode, ispCodeTable } from '@cdn-sched/location';
export {
  defaultDatabasePath,
  detectGeoIpFormat,
  GEOIP_DB_ENV,
  loadGeoIpDatabase,
  parseGeoIpDatabase,
  resolveDatabasePath,
  type LoadGeoIpDatabaseOptions,
} from './load-geoip-database.js';
export {
  createLocationTable,
  UNKNOWN_LOCATION,
  type GeoIpResult,
  type GeoLocation,
  type LocationTable,
} from './location-table.js';
export { createMmdbParser, looksLikeMmdb, mmdbRecordLocation, type MmdbParser } from './mmdb-database.js';
export { IP2REGION_REGION_FIELDS, normalizeIp2RegionLocation, normalizeIp2RegionString } from './normalize-ip2region.js';
export { provinceCode, provinceCodeTable, provinceShortName } from './province-codes.js';
export { DEFAULT_RECORDS_PER_SLICE, type SlicedParseOptions } from './sliced-parse.js';
