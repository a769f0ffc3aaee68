import { create } from '@bufbuild/protobuf';
import { AllDownPolicy, DomainSchema, Strategy, type Domain } from '@cdn-sched/proto';
import { keyKind, normalizePrefix } from './document-keys.js';
import { rejected, resolveParseOptions, type DomainParseResult, type ParseOptions } from './document-result.js';
import { FieldReader, integerRule, isJsonObject, jsonTypeOf, oneOfRule, stringRule } from './field-reader.js';
import { documentTierName, fallbackOrderProblems, TIER_NAMES, TIERS_BY_NAME, type TierName } from '@cdn-sched/location';
import { domainNameProblem } from './host-names.js';
import { readJsonText } from './json-text.js';
import { poolNameRule } from './pool-name.js';

/** The JSON of `/cdn/domains/<fqdn>` (docs/architecture.md, "Documents"). */
export interface DomainDocument {
  /** Equal to the <fqdn> of the key: lower case, no trailing dot. */
  domain: string;
  pool: string;
  /** Answers per decision, 1–16. */
  answers: number;
  /** TTL of answers, 1–86 400 seconds. */
  ttl: number;
  strategy: 'weighted' | 'consistent';
  /** Location tiers, tried in order, narrow to wide. */
  fallback: TierName[];
  /** When no node of the pool is healthy; absent means "best-effort". */
  allDown?: 'best-effort' | 'error';
}

const DOMAIN_FIELDS = ['domain', 'pool', 'answers', 'ttl', 'strategy', 'fallback', 'allDown'] as const;

const STRATEGIES = new Map<string, Strategy>([
  ['weighted', Strategy.WEIGHTED],
  ['consistent', Strategy.CONSISTENT],
]);
const ALL_DOWN = new Map<string, AllDownPolicy>([
  ['best-effort', AllDownPolicy.BEST_EFFORT],
  ['error', AllDownPolicy.ERROR],
]);

const domainRule = stringRule('a domain name', () => true);
const tierRule = oneOfRule(TIERS_BY_NAME);

function readDomain(reader: FieldReader, key: string, keyDomain: string | undefined): Domain | undefined {
  reader.rejectUnknown(DOMAIN_FIELDS);
  const domain = reader.required('domain', domainRule);
  if (domain !== undefined && keyDomain !== undefined && domain !== keyDomain) {
    reader.reportAsIs(`domain "${domain}" does not match key ${key}`);
  }
  const pool = reader.required('pool', poolNameRule);
  const answers = reader.required('answers', integerRule(1, 16));
  const ttlS = reader.required('ttl', integerRule(1, 86_400, 'seconds'));
  const strategy = reader.required('strategy', oneOfRule(STRATEGIES));
  const fallback = reader.requiredList('fallback', tierRule, `tiers (${TIER_NAMES.join('|')})`);
  for (const { index, problem } of fallbackOrderProblems(fallback ?? [])) reader.report(`fallback[${index}]`, problem);
  // Best-effort by default: answering with possibly-down nodes beats answering nothing
  // (gdnsd's "all down = all up").
  const allDown = reader.optional('allDown', oneOfRule(ALL_DOWN)) ?? AllDownPolicy.BEST_EFFORT;
  if (reader.problems.length > 0) return undefined;
  return create(DomainSchema, { domain, pool, answers, ttlS, strategy, fallback, allDown });
}

/**
 * Parses and validates the value of `/cdn/domains/<fqdn>` into a `Domain`. Every problem is
 * reported, each naming its field; the domain in the document must equal the one in the key.
 */
export function parseDomainDocument(key: string, value: Uint8Array | string, options?: ParseOptions): DomainParseResult {
  const { prefix, maxBytes } = resolveParseOptions(options);
  const kind = keyKind(prefix, key);
  if (kind.kind !== 'domain') return rejected('domain', key, [`key ${key} is not a domain key; expected ${normalizePrefix(prefix)}domains/<fqdn>`]);
  const problems: string[] = [];
  const nameProblem = domainNameProblem(kind.domain);
  if (nameProblem !== undefined) problems.push(`key ${key}: domain ${nameProblem}`);

  const json = readJsonText(value, maxBytes);
  if (!json.ok) return rejected('domain', key, [...problems, json.reason]);
  if (!isJsonObject(json.value)) return rejected('domain', key, [...problems, `document: must be a JSON object, got ${jsonTypeOf(json.value)}`]);

  const domain = readDomain(new FieldReader(json.value, problems), key, nameProblem === undefined ? kind.domain : undefined);
  return domain === undefined ? rejected('domain', key, problems) : { ok: true, kind: 'domain', key, domain };
}

function nameOf<T>(choices: ReadonlyMap<string, T>, value: T, field: string, enumName: string): string {
  for (const [name, candidate] of choices) if (candidate === value) return name;
  throw new RangeError(`${field}: ${enumName} has no document form`);
}

/**
 * The document form of a domain, for cdnctl: the inverse of {@link parseDomainDocument}. `allDown`
 * is always written, so the policy is visible to whoever reads the document. Throws RangeError
 * for UNSPECIFIED enum values, which have no document form.
 */
export function documentOfDomain(domain: Domain): DomainDocument {
  return {
    domain: domain.domain,
    pool: domain.pool,
    answers: domain.answers,
    ttl: domain.ttlS,
    strategy: nameOf(STRATEGIES, domain.strategy, 'strategy', Strategy[domain.strategy] ?? String(domain.strategy)) as DomainDocument['strategy'],
    fallback: domain.fallback.map(documentTierName),
    allDown: nameOf(ALL_DOWN, domain.allDown, 'allDown', AllDownPolicy[domain.allDown] ?? String(domain.allDown)) as DomainDocument['allDown'],
  };
}
