import { create } from '@bufbuild/protobuf';
import { NodeSchema, NodeState, ProbeSpecSchema, ProbeType, type Node, type ProbeSpec } from '@cdn-sched/proto';
import { keyKind, nodeIdProblem, normalizePrefix } from './document-keys.js';
import { rejected, resolveParseOptions, type NodeParseResult, type ParseOptions } from './document-result.js';
import { accept, FieldReader, integerRule, isJsonObject, jsonTypeOf, mismatch, oneOfRule, stringRule, type Rule } from './field-reader.js';
import { isAddress } from './host-names.js';
import { readJsonText } from './json-text.js';
import { regionCountry } from '@cdn-sched/location';
import { countryRule, ispRule, regionRule } from './location-codes.js';
import { poolNameRule } from './pool-name.js';

/** Health-probe settings as SREs write them; absent fields take the prober's defaults. */
export interface ProbeDocument {
  type: 'http' | 'tcp';
  /** HTTP path, from "/"; http probes only. */
  path?: string;
  /** Port to probe; absent means the node's port. */
  port?: number;
  /** Interval between probes, 100–600 000 ms. */
  intervalMs?: number;
  /** Timeout of one probe, ms, below `intervalMs`. */
  timeoutMs?: number;
}

/** The JSON of `/cdn/nodes/<id>` (docs/architecture.md, "Documents"). */
export interface NodeDocument {
  id: string;
  address: string;
  port: number;
  country: string;
  region?: string;
  isp?: string;
  /** Requests per second the node is sized for, > 0. */
  capacity: number;
  state: 'active' | 'drain' | 'maintenance';
  pools: string[];
  probe?: ProbeDocument;
}

const NODE_FIELDS = ['id', 'address', 'port', 'country', 'region', 'isp', 'capacity', 'state', 'pools', 'probe'] as const;
const PROBE_FIELDS = ['type', 'path', 'port', 'intervalMs', 'timeoutMs'] as const;

const STATES = new Map<string, NodeState>([
  ['active', NodeState.ACTIVE],
  ['drain', NodeState.DRAIN],
  ['maintenance', NodeState.MAINTENANCE],
]);
const PROBE_TYPES = new Map<string, ProbeType>([
  ['http', ProbeType.HTTP],
  ['tcp', ProbeType.TCP],
]);

// An origin-form request target (RFC 9112 §3.2.1) kept to printable ASCII without spaces; a
// fragment ("#") is never sent to a server, so one in a probe path is a mistake.
const HTTP_PATH = /^\/[!-"$-~]{0,1023}$/;

const stringOf: Rule<string> = stringRule('a string', () => true);
const portRule = integerRule(1, 65_535);
const addressRule = stringRule('an IPv4 or IPv6 literal or a host name', isAddress);

const capacityRule: Rule<number> = {
  expected: 'a number > 0',
  check: (value) => (typeof value === 'number' && Number.isFinite(value) && value > 0 ? accept(value) : mismatch('a number > 0', value)),
};

function readProbe(reader: FieldReader): ProbeSpec | undefined {
  const probe = reader.nested('probe');
  if (probe === undefined) return undefined;
  probe.rejectUnknown(PROBE_FIELDS);
  const type = probe.required('type', oneOfRule(PROBE_TYPES));
  const path = probe.optional('path', stringRule('an absolute path such as "/health" (printable ASCII, no spaces or "#")', (t) => HTTP_PATH.test(t)));
  if (type === ProbeType.TCP && path !== undefined) probe.report('path', 'only http probes have a path; remove it or use "type": "http"');
  const port = probe.optional('port', portRule);
  const intervalMs = probe.optional('intervalMs', integerRule(100, 600_000, 'ms'));
  // 599 999: below the largest interval; the check against this node's own interval follows.
  const timeoutMs = probe.optional('timeoutMs', integerRule(1, 599_999, 'ms'));
  if (intervalMs !== undefined && timeoutMs !== undefined && timeoutMs >= intervalMs) {
    probe.report('timeoutMs', `must be less than probe.intervalMs (${intervalMs}), got ${timeoutMs}`);
  }
  if (type === undefined) return undefined;
  return create(ProbeSpecSchema, { type, path: path ?? '', port: port ?? 0, intervalMs: intervalMs ?? 0, timeoutMs: timeoutMs ?? 0 });
}

/** Validates the fields of a node document; `keyId` is the id from the key (undefined if invalid). */
function readNode(reader: FieldReader, key: string, keyId: string | undefined): Node | undefined {
  reader.rejectUnknown(NODE_FIELDS);
  const id = reader.required('id', stringOf);
  if (id !== undefined && keyId !== undefined && id !== keyId) reader.reportAsIs(`id "${id}" does not match key ${key}`);
  const address = reader.required('address', addressRule);
  const port = reader.required('port', portRule);
  const country = reader.required('country', countryRule);
  const region = reader.optional('region', regionRule) ?? '';
  if (region !== '' && country !== undefined && regionCountry(region) !== country) {
    reader.report('region', `must be in country "${country}", got "${region}"`);
  }
  const isp = reader.optional('isp', ispRule) ?? '';
  const capacity = reader.required('capacity', capacityRule);
  const state = reader.required('state', oneOfRule(STATES));
  const pools = reader.requiredList('pools', poolNameRule, 'pool names');
  const probe = readProbe(reader);
  if (reader.problems.length > 0) return undefined;
  return create(NodeSchema, {
    id,
    address,
    port,
    country,
    region,
    isp,
    capacityRps: capacity,
    state,
    pools,
    probe,
  });
}

/**
 * Parses and validates the value of `/cdn/nodes/<id>` into a `Node`. Every problem is reported,
 * each naming its field; the id in the document must equal the one in the key.
 */
export function parseNodeDocument(key: string, value: Uint8Array | string, options?: ParseOptions): NodeParseResult {
  const { prefix, maxBytes } = resolveParseOptions(options);
  const kind = keyKind(prefix, key);
  if (kind.kind !== 'node') return rejected('node', key, [`key ${key} is not a node key; expected ${normalizePrefix(prefix)}nodes/<id>`]);
  const problems: string[] = [];
  const idProblem = nodeIdProblem(kind.id);
  if (idProblem !== undefined) problems.push(`key ${key}: node id ${idProblem}`);

  const json = readJsonText(value, maxBytes);
  if (!json.ok) return rejected('node', key, [...problems, json.reason]);
  if (!isJsonObject(json.value)) return rejected('node', key, [...problems, `document: must be a JSON object, got ${jsonTypeOf(json.value)}`]);

  const node = readNode(new FieldReader(json.value, problems), key, idProblem === undefined ? kind.id : undefined);
  return node === undefined ? rejected('node', key, problems) : { ok: true, kind: 'node', key, node };
}

function stateName(state: NodeState): NodeDocument['state'] {
  for (const [name, value] of STATES) if (value === state) return name as NodeDocument['state'];
  throw new RangeError(`state: ${NodeState[state] ?? state} has no document form`);
}

function probeTypeName(type: ProbeType): ProbeDocument['type'] {
  for (const [name, value] of PROBE_TYPES) if (value === type) return name as ProbeDocument['type'];
  throw new RangeError(`probe.type: ${ProbeType[type] ?? type} has no document form`);
}

/**
 * The document form of a node, for cdnctl: the inverse of {@link parseNodeDocument}. Empty
 * region/isp and zero (default) probe settings are left out, as an SRE would write them.
 * Throws RangeError for an UNSPECIFIED state or probe type, which have no document form.
 */
export function documentOfNode(node: Node): NodeDocument {
  const document: NodeDocument = {
    id: node.id,
    address: node.address,
    port: node.port,
    country: node.country,
    ...(node.region === '' ? {} : { region: node.region }),
    ...(node.isp === '' ? {} : { isp: node.isp }),
    capacity: node.capacityRps,
    state: stateName(node.state),
    pools: [...node.pools],
  };
  if (node.probe !== undefined) {
    const { type, path, port, intervalMs, timeoutMs } = node.probe;
    document.probe = {
      type: probeTypeName(type),
      ...(path === '' ? {} : { path }),
      ...(port === 0 ? {} : { port }),
      ...(intervalMs === 0 ? {} : { intervalMs }),
      ...(timeoutMs === 0 ? {} : { timeoutMs }),
    };
  }
  return document;
}
