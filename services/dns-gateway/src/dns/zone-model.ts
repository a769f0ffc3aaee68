import { canonicalName, isAtOrBelow, parentName, qualify } from './names.js';

/** A routing policy name the gateway answers from decisions. */
export interface PolicyName {
  /** Canonical name (lower case, no trailing dot). */
  readonly name: string;
  /** Consistent hashing: the answer depends on the client /24 (/56), not only on its geo block. */
  readonly consistent: boolean;
}

/** SOA and NS settings shared by every zone (names relative to the zone unless they end in a dot). */
export interface ApexSettings {
  /** NS host names. Defaults to `["ns1"]`. */
  nsNames: readonly string[];
  /** Addresses answered (A/AAAA) for NS host names inside the zone. Defaults to none. */
  nsAddresses: readonly string[];
  /** Mailbox of the zone's SOA RNAME. Defaults to `hostmaster`. */
  soaRname: string;
  /** SOA serial; 0 means the config version (the etcd revision), so it moves with every change. */
  soaSerial: number;
  soaRefreshS: number;
  soaRetryS: number;
  soaExpireS: number;
  /** SOA MINIMUM: the negative-caching TTL of RFC 2308 (with the SOA's own TTL as the upper bound). */
  soaMinimumS: number;
  /** TTL of the SOA and NS records. */
  apexTtlS: number;
}

/** One authoritative zone. */
export interface Zone {
  /** Canonical apex name. */
  readonly apex: string;
  /** Fully qualified NS names (canonical). */
  readonly nsNames: readonly string[];
  readonly soaMname: string;
  readonly soaRname: string;
}

/** Where a question name falls. */
export type NameMatch =
  | { readonly kind: 'outside' }
  | {
      readonly kind: 'inside';
      readonly zone: Zone;
      readonly apex: boolean;
      readonly policy: PolicyName | undefined;
      /** One of the zone's NS host names. */
      readonly nsHost: boolean;
      /** Has names below it (an empty non-terminal when nothing else: NODATA, not NXDOMAIN; RFC 8020). */
      readonly nonTerminal: boolean;
    };

/** The zones, policies and apex records the gateway is authoritative for, immutable. */
export interface ZoneModel {
  readonly zones: readonly Zone[];
  readonly policies: ReadonlyMap<string, PolicyName>;
  /** Domains that fall outside every explicit zone (not served; for logs). */
  readonly outsideZones: readonly string[];
  match(canonical: string): NameMatch;
}

/**
 * Zones are either given (`explicitZones`) or derived: the parent of every policy name
 * (`music.demo.example` → `demo.example`), keeping only the topmost when one derived zone sits
 * below another, so the gateway never creates a zone cut it cannot delegate. A policy name that is
 * itself an apex is served at the apex beside SOA and NS.
 */
export function createZoneModel(options: { policies: readonly PolicyName[]; explicitZones: readonly string[]; apex: ApexSettings }): ZoneModel {
  const policies = new Map(options.policies.map((p) => [p.name, p]));
  let apexes: string[];
  if (options.explicitZones.length > 0) {
    apexes = [...new Set(options.explicitZones.map(canonicalName))];
  } else {
    const parents = new Set<string>();
    for (const p of policies.keys()) parents.add(parentName(p) ?? p);
    apexes = [...parents].filter((z) => ![...parents].some((other) => other !== z && isAtOrBelow(z, other)));
  }
  // Longest apex first: the most specific zone answers.
  apexes.sort((a, b) => b.length - a.length);
  const zones: Zone[] = apexes.map((apex) => {
    const nsNames = options.apex.nsNames.map((n) => qualify(n, apex));
    return { apex, nsNames, soaMname: nsNames[0] ?? apex, soaRname: qualify(options.apex.soaRname, apex) };
  });
  const nsHosts = new Set<string>();
  const nonTerminals = new Set<string>();
  const addAncestors = (name: string, apex: string): void => {
    for (let n = parentName(name); n !== undefined && n !== apex && isAtOrBelow(n, apex); n = parentName(n)) nonTerminals.add(n);
  };
  const zoneOf = (name: string): Zone | undefined => zones.find((z) => isAtOrBelow(name, z.apex));
  const outsideZones: string[] = [];
  for (const p of policies.keys()) {
    const z = zoneOf(p);
    if (z) addAncestors(p, z.apex);
    else outsideZones.push(p);
  }
  for (const p of outsideZones) policies.delete(p);
  for (const z of zones) {
    for (const ns of z.nsNames) {
      if (isAtOrBelow(ns, z.apex)) {
        nsHosts.add(ns);
        addAncestors(ns, z.apex);
      }
    }
  }
  return {
    zones,
    policies,
    outsideZones,
    match(name) {
      const zone = zoneOf(name);
      if (!zone) return { kind: 'outside' };
      return { kind: 'inside', zone, apex: name === zone.apex, policy: policies.get(name), nsHost: nsHosts.has(name), nonTerminal: nonTerminals.has(name) };
    },
  };
}
