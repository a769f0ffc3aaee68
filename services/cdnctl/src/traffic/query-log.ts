import { parseClientAddress, parseEcsSubnet } from '@cdn-sched/geoip';

/**
 * One query of a log: who asks for which domain. A client written as `address/prefix` is sent as
 * the EDNS client subnet (`ecs_subnet`), as a DNS front-end forwarding ECS would.
 */
export interface Query {
  /** Client address; empty when `ecsSubnet` is set. */
  readonly clientIp: string;
  /** EDNS client subnet `address/prefix`; empty for a plain client address. */
  readonly ecsSubnet: string;
  readonly domain: string;
}

/** A line of a query log that could not be read, for the operator to fix. */
export interface QueryLogError {
  /** 1-based line number. */
  readonly line: number;
  /** The line as written (trimmed, cut to 120 characters). */
  readonly text: string;
  readonly reason: string;
}

/** What {@link parseQueryLog} read. */
export interface ParsedQueryLog {
  readonly queries: Query[];
  readonly errors: QueryLogError[];
}

/** Header names a CSV export may start with; such a first line is skipped, not reported. */
const HEADER_FIELDS = new Set(['ip', 'client', 'client_ip', 'clientip', 'src', 'address', 'subnet']);

/** RFC 1035 §2.3.1 label syntax, relaxed to allow `_` (service labels) and any case. */
const LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

/** Why `domain` is not a domain name, or `undefined` when it is one. */
export function domainProblem(domain: string): string | undefined {
  const name = domain.endsWith('.') ? domain.slice(0, -1) : domain;
  if (name.length === 0) return 'empty domain';
  // RFC 1035 §3.1: 255 octets on the wire, i.e. 253 characters in text form without the root dot.
  if (name.length > 253) return `domain longer than 253 characters`;
  for (const label of name.split('.')) {
    if (!LABEL.test(label)) return `'${domain}' is not a domain name (bad label '${label.slice(0, 63)}')`;
  }
  return undefined;
}

/** Turns `client domain` fields into a query, or says what is wrong with them. */
function toQuery(client: string, domain: string): Query | string {
  try {
    if (client.includes('/')) parseEcsSubnet(client, 'client subnet');
    else parseClientAddress(client, 'client address');
  } catch (error) {
    return (error as Error).message;
  }
  const problem = domainProblem(domain);
  if (problem !== undefined) return problem;
  return client.includes('/') ? { clientIp: '', ecsSubnet: client, domain } : { clientIp: client, ecsSubnet: '', domain };
}

/**
 * Reads a query log: one query per line as `client domain` (whitespace-separated, the form
 * `gen-queries` writes) or `client,domain` (CSV); `client` is an IPv4/IPv6 address or an
 * `address/prefix` subnet. Blank lines and `#` comments (whole line or trailing) are skipped, and so
 * is a CSV header line such as `client_ip,domain`. A bad line is reported with its number and does
 * not stop the others from being read.
 */
export function parseQueryLog(text: string): ParsedQueryLog {
  const queries: Query[] = [];
  const errors: QueryLogError[] = [];
  // Domains repeat on almost every line: share one string per distinct domain.
  const domains = new Map<string, string>();
  let seenData = false;
  let lineNo = 0;
  let from = 0;
  while (from <= text.length) {
    let to = text.indexOf('\n', from);
    if (to === -1) to = text.length;
    lineNo++;
    const raw = text.slice(from, to);
    from = to + 1;
    const hash = raw.indexOf('#');
    const line = (hash === -1 ? raw : raw.slice(0, hash)).trim();
    if (line === '') continue;
    const fields = line.includes(',') ? line.split(',').map((f) => f.trim()) : line.split(/\s+/);
    const firstData = !seenData;
    seenData = true;
    if (firstData && HEADER_FIELDS.has(fields[0]!.toLowerCase())) continue;
    if (fields.length !== 2 || fields[0] === '' || fields[1] === '') {
      errors.push({ line: lineNo, text: line.slice(0, 120), reason: `expected 'client domain' or 'client,domain', got ${fields.length} field(s)` });
      continue;
    }
    const q = toQuery(fields[0]!, fields[1]!);
    if (typeof q === 'string') {
      errors.push({ line: lineNo, text: line.slice(0, 120), reason: q });
      continue;
    }
    let domain = domains.get(q.domain);
    if (domain === undefined) domains.set(q.domain, (domain = q.domain));
    queries.push({ clientIp: q.clientIp, ecsSubnet: q.ecsSubnet, domain });
  }
  return { queries, errors };
}

/** The log line of a query, as {@link parseQueryLog} reads it back. */
export function formatQueryLine(q: Query): string {
  return `${q.ecsSubnet !== '' ? q.ecsSubnet : q.clientIp} ${q.domain}`;
}
