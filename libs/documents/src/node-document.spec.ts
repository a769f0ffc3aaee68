import { create, equals } from '@bufbuild/protobuf';
import { NodeSchema, NodeState, ProbeSpecSchema, ProbeType, type Node } from '@cdn-sched/proto';
import { createSeededUniform } from '@cdn-sched/testing';
import { describe, expect, it } from 'vitest';
import { documentOfNode, parseNodeDocument, type NodeDocument } from './node-document.js';

const KEY = '/cdn/nodes/gz-ct-01';
const GOOD: NodeDocument = {
  id: 'gz-ct-01',
  address: '203.0.113.10',
  port: 443,
  country: 'CN',
  region: 'CN-GD',
  isp: 'ct',
  capacity: 5000,
  state: 'active',
  pools: ['default', 'video'],
  probe: { type: 'http', path: '/health', port: 8080, intervalMs: 1000, timeoutMs: 500 },
};

function parse(document: unknown, key = KEY): ReturnType<typeof parseNodeDocument> {
  return parseNodeDocument(key, JSON.stringify(document));
}

/** The problems of a document that differs from GOOD by `changes` (undefined deletes a field). */
function problemsWith(changes: Record<string, unknown>): string[] {
  const document: Record<string, unknown> = { ...GOOD, ...changes };
  for (const [field, value] of Object.entries(changes)) if (value === undefined) delete document[field];
  const result = parse(document);
  return result.ok ? [] : result.problems;
}

function probeProblemsWith(probe: Record<string, unknown>): string[] {
  return problemsWith({ probe });
}

describe('parseNodeDocument: a good document', () => {
  it('becomes a Node message with every field mapped', () => {
    const result = parseNodeDocument(KEY, new TextEncoder().encode(JSON.stringify(GOOD)));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.kind).toBe('node');
    expect(result.key).toBe(KEY);
    const expected = create(NodeSchema, {
      id: 'gz-ct-01',
      address: '203.0.113.10',
      port: 443,
      country: 'CN',
      region: 'CN-GD',
      isp: 'ct',
      capacityRps: 5000,
      state: NodeState.ACTIVE,
      pools: ['default', 'video'],
      probe: create(ProbeSpecSchema, { type: ProbeType.HTTP, path: '/health', port: 8080, intervalMs: 1000, timeoutMs: 500 }),
    });
    expect(equals(NodeSchema, result.node, expected)).toBe(true);
  });

  it('needs only the required fields: region, isp and probe may be absent or null', () => {
    const minimal = { id: 'n1', address: 'edge1.example.net', port: 80, country: 'US', capacity: 0.5, state: 'drain', pools: ['p'] };
    const result = parse(minimal, '/cdn/nodes/n1');
    expect(result.ok && result.node).toMatchObject({ region: '', isp: '', capacityRps: 0.5, state: NodeState.DRAIN });
    expect(result.ok && result.node.probe).toBeUndefined();
    expect(parse({ ...minimal, region: null, isp: null, probe: null }, '/cdn/nodes/n1').ok).toBe(true);
    expect(parse({ ...minimal, region: '', isp: '' }, '/cdn/nodes/n1').ok).toBe(true);
  });

  it('maps the three states', () => {
    for (const [name, state] of [['active', NodeState.ACTIVE], ['drain', NodeState.DRAIN], ['maintenance', NodeState.MAINTENANCE]] as const) {
      const result = parse({ ...GOOD, state: name });
      expect(result.ok && result.node.state).toBe(state);
    }
  });

  it('accepts IPv6 literals and host names as address, and tcp probes with defaults', () => {
    expect(problemsWith({ address: '2001:db8::10' })).toEqual([]);
    expect(problemsWith({ address: 'edge-1.gz.example.net' })).toEqual([]);
    const tcp = parse({ ...GOOD, probe: { type: 'tcp' } });
    expect(tcp.ok && tcp.node.probe).toMatchObject({ type: ProbeType.TCP, path: '', port: 0, intervalMs: 0, timeoutMs: 0 });
  });

  it('honours another prefix', () => {
    const result = parseNodeDocument('/staging/nodes/gz-ct-01', JSON.stringify(GOOD), { prefix: '/staging' });
    expect(result.ok).toBe(true);
  });
});

describe('parseNodeDocument: field rules', () => {
  it('id must be present and equal the key', () => {
    expect(problemsWith({ id: 'n2' })).toEqual(['id "n2" does not match key /cdn/nodes/gz-ct-01']);
    expect(problemsWith({ id: undefined })).toEqual(['id: required, must be a string']);
    expect(problemsWith({ id: 7 })).toEqual(['id: must be a string, got 7']);
  });

  it('address must be an IP literal or a host name', () => {
    expect(problemsWith({ address: '256.0.0.1' })).toEqual(['address: must be an IPv4 or IPv6 literal or a host name, got "256.0.0.1"']);
    expect(problemsWith({ address: 'http://edge1' })).toEqual(['address: must be an IPv4 or IPv6 literal or a host name, got "http://edge1"']);
    expect(problemsWith({ address: undefined })).toEqual(['address: required, must be an IPv4 or IPv6 literal or a host name']);
  });

  it('port must be an integer from 1 to 65535', () => {
    expect(problemsWith({ port: 1 })).toEqual([]);
    expect(problemsWith({ port: 65_535 })).toEqual([]);
    expect(problemsWith({ port: 0 })).toEqual(['port: must be an integer from 1 to 65535, got 0']);
    expect(problemsWith({ port: 65_536 })).toEqual(['port: must be an integer from 1 to 65535, got 65536']);
    expect(problemsWith({ port: 443.5 })).toEqual(['port: must be an integer from 1 to 65535, got 443.5']);
    expect(problemsWith({ port: '443' })).toEqual(['port: must be an integer from 1 to 65535, got "443"']);
  });

  it('country must be an assigned upper-case alpha-2 code', () => {
    expect(problemsWith({ country: 'XX', region: undefined })).toEqual(['country: must be an assigned ISO 3166-1 alpha-2 code, got "XX"']);
    expect(problemsWith({ country: 'China', region: undefined })).toEqual(['country: must be an ISO 3166-1 alpha-2 code such as "CN", got "China"']);
    expect(problemsWith({ country: 'cn' })).toEqual(['country: must be upper case, got "cn"; did you mean "CN"?']);
    expect(problemsWith({ country: undefined })).toEqual(['country: required, must be an ISO 3166-1 alpha-2 code such as "CN"']);
  });

  it('region must be ISO 3166-2 inside the node country', () => {
    expect(problemsWith({ region: 'US-CA' })).toEqual(['region: must be in country "CN", got "US-CA"']);
    expect(problemsWith({ region: 'cn-gd' })).toEqual(['region: must be upper case, got "cn-gd"; did you mean "CN-GD"?']);
    expect(problemsWith({ region: 'Guangdong' })).toEqual(['region: must be an ISO 3166-2 code such as "CN-GD", got "Guangdong"']);
    expect(problemsWith({ country: 'US', region: 'US-CA' })).toEqual([]);
  });

  it('isp must be a short lower-case code', () => {
    expect(problemsWith({ isp: 'China Telecom' })).toEqual([
      'isp: must be lower-case letters and digits, words joined by single hyphens, at most 63 characters, such as "ct", got "China Telecom"',
    ]);
    expect(problemsWith({ isp: 'cernet' })).toEqual([]);
  });

  it('capacity must be a number > 0', () => {
    expect(problemsWith({ capacity: -3 })).toEqual(['capacity: must be a number > 0, got -3']);
    expect(problemsWith({ capacity: 0 })).toEqual(['capacity: must be a number > 0, got 0']);
    expect(problemsWith({ capacity: '5000' })).toEqual(['capacity: must be a number > 0, got "5000"']);
    expect(problemsWith({ capacity: undefined })).toEqual(['capacity: required, must be a number > 0']);
    expect(parseNodeDocument(KEY, JSON.stringify(GOOD).replace('5000', '1e400'))).toMatchObject({
      problems: ['capacity: must be a number > 0, got Infinity'],
    });
  });

  it('state must be active, drain or maintenance', () => {
    expect(problemsWith({ state: 'down' })).toEqual(['state: must be one of active|drain|maintenance, got "down"']);
    expect(problemsWith({ state: 'Active' })).toEqual(['state: must be one of active|drain|maintenance, got "Active"']);
  });

  it('pools must be a non-empty list of distinct pool names', () => {
    expect(problemsWith({ pools: [] })).toEqual(['pools: must be a non-empty array of pool names, got []']);
    expect(problemsWith({ pools: 'default' })).toEqual(['pools: must be a non-empty array of pool names, got "default"']);
    expect(problemsWith({ pools: ['default', 'Video', 'default'] })).toEqual([
      'pools[1]: must be a pool name matching [a-z0-9][a-z0-9_.-]* (at most 64 characters), got "Video"',
      'pools[2]: duplicate of pools[0] "default"',
    ]);
    expect(problemsWith({ pools: ['video.hd', '4k_live', 'a-b'] })).toEqual([]);
  });

  it('probe.type is required and must be http or tcp', () => {
    expect(probeProblemsWith({})).toEqual(['probe.type: required, must be one of http|tcp']);
    expect(probeProblemsWith({ type: 'icmp' })).toEqual(['probe.type: must be one of http|tcp, got "icmp"']);
    expect(problemsWith({ probe: 'http' })).toEqual(['probe: must be a JSON object, got a string']);
  });

  it('probe.path starts with "/" and belongs to http probes only', () => {
    expect(probeProblemsWith({ type: 'http', path: 'health' })).toEqual([
      'probe.path: must be an absolute path such as "/health" (printable ASCII, no spaces or "#"), got "health"',
    ]);
    expect(probeProblemsWith({ type: 'http', path: '/a b' })).toHaveLength(1);
    expect(probeProblemsWith({ type: 'http', path: '/x#frag' })).toHaveLength(1);
    expect(probeProblemsWith({ type: 'http', path: '/status?full=1' })).toEqual([]);
    expect(probeProblemsWith({ type: 'tcp', path: '/health' })).toEqual(['probe.path: only http probes have a path; remove it or use "type": "http"']);
  });

  it('probe.intervalMs is 100 to 600000 ms and probe.timeoutMs below it', () => {
    expect(probeProblemsWith({ type: 'tcp', intervalMs: 100, timeoutMs: 99 })).toEqual([]);
    expect(probeProblemsWith({ type: 'tcp', intervalMs: 600_000 })).toEqual([]);
    expect(probeProblemsWith({ type: 'tcp', intervalMs: 99 })).toEqual(['probe.intervalMs: must be an integer from 100 to 600000 ms, got 99']);
    expect(probeProblemsWith({ type: 'tcp', intervalMs: 600_001 })).toEqual(['probe.intervalMs: must be an integer from 100 to 600000 ms, got 600001']);
    expect(probeProblemsWith({ type: 'tcp', intervalMs: 1000, timeoutMs: 1000 })).toEqual(['probe.timeoutMs: must be less than probe.intervalMs (1000), got 1000']);
    expect(probeProblemsWith({ type: 'tcp', timeoutMs: 0 })).toEqual(['probe.timeoutMs: must be an integer from 1 to 599999 ms, got 0']);
    expect(probeProblemsWith({ type: 'tcp', port: 0 })).toEqual(['probe.port: must be an integer from 1 to 65535, got 0']);
  });

  it('unknown fields are rejected by name, with a suggestion for typos', () => {
    expect(problemsWith({ capcity: 100 })).toEqual(['capcity: unknown field; did you mean "capacity"?']);
    expect(probeProblemsWith({ type: 'http', intervalMS: 1000 })).toEqual(['probe.intervalMS: unknown field; did you mean "probe.intervalMs"?']);
    expect(problemsWith({ owner: 'sre' })).toEqual([
      'owner: unknown field; allowed: id, address, port, country, region, isp, capacity, state, pools, probe',
    ]);
  });

  it('reports every problem of a document at once, in field order', () => {
    const result = parse({ ...GOOD, id: 'n2', capacity: -3, state: 'down', pools: [] });
    expect(result).toEqual({
      ok: false,
      kind: 'node',
      key: KEY,
      reason: 'id "n2" does not match key /cdn/nodes/gz-ct-01; capacity: must be a number > 0, got -3; state: must be one of active|drain|maintenance, got "down"; pools: must be a non-empty array of pool names, got []',
      problems: [
        'id "n2" does not match key /cdn/nodes/gz-ct-01',
        'capacity: must be a number > 0, got -3',
        'state: must be one of active|drain|maintenance, got "down"',
        'pools: must be a non-empty array of pool names, got []',
      ],
    });
  });
});

describe('parseNodeDocument: the value and the key', () => {
  it('rejects invalid JSON, empty and oversized values before looking at fields', () => {
    expect(parseNodeDocument(KEY, '{"id": "gz-ct-01", }')).toMatchObject({
      ok: false,
      reason: 'invalid JSON at position 19 (line 1, column 20): expected a property name after "," (trailing comma?), found "}"',
    });
    expect(parseNodeDocument(KEY, '')).toMatchObject({ reason: 'value is empty' });
    expect(parseNodeDocument(KEY, `{"id":"${'x'.repeat(70_000)}"}`)).toMatchObject({ reason: 'value is 70009 bytes, over the 65536-byte limit' });
    expect(parseNodeDocument(KEY, JSON.stringify(GOOD), { maxBytes: 100 })).toMatchObject({ ok: false, reason: expect.stringMatching(/over the 100-byte limit$/) });
  });

  it('rejects a value that is not a JSON object', () => {
    expect(parseNodeDocument(KEY, '[1]')).toMatchObject({ reason: 'document: must be a JSON object, got an array' });
    expect(parseNodeDocument(KEY, 'null')).toMatchObject({ reason: 'document: must be a JSON object, got null' });
  });

  it('rejects keys that cannot hold a node, and says why', () => {
    expect(parseNodeDocument('/cdn/domains/x.com', JSON.stringify(GOOD))).toMatchObject({
      reason: 'key /cdn/domains/x.com is not a node key; expected /cdn/nodes/<id>',
    });
    expect(parseNodeDocument('/cdn/nodes/a/b', JSON.stringify({ ...GOOD, id: 'a/b' }))).toMatchObject({
      ok: false,
      problems: ['key /cdn/nodes/a/b: node id must be 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit, got "a/b"'],
    });
  });

  it('refuses options that cannot work', () => {
    expect(() => parseNodeDocument(KEY, '{}', { maxBytes: 0 })).toThrow('maxBytes: must be a positive integer, got 0');
  });
});

function randomNode(next: () => number, index: number): Node {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
  const country = pick(['CN', 'US', 'DE', 'JP']);
  const withProbe = next() < 0.7;
  const intervalMs = 100 + Math.floor(next() * 10_000);
  return create(NodeSchema, {
    id: `n${index}`,
    address: pick(['203.0.113.7', '2001:db8::1', `edge${index}.example.net`]),
    port: 1 + Math.floor(next() * 65_535),
    country,
    region: next() < 0.5 ? `${country}-${pick(['GD', 'BJ', 'CA', '13'])}` : '',
    isp: pick(['', 'ct', 'cu', 'cm', 'cernet']),
    capacityRps: Math.round(next() * 1e6) / 100 + 0.01,
    state: pick([NodeState.ACTIVE, NodeState.DRAIN, NodeState.MAINTENANCE]),
    pools: pick([['default'], ['default', 'video'], ['img', 'video.hd', 'x-1']]),
    probe: withProbe
      ? create(ProbeSpecSchema, {
          type: pick([ProbeType.HTTP, ProbeType.TCP]),
          port: pick([0, 8080]),
          intervalMs: pick([0, intervalMs]),
          timeoutMs: pick([0, Math.max(1, Math.floor(intervalMs / 2))]),
        })
      : undefined,
  });
}

describe('documentOfNode', () => {
  it('round-trips a document: parse, then back to the same JSON', () => {
    const result = parse(GOOD);
    expect(result.ok && documentOfNode(result.node)).toEqual(GOOD);
  });

  it('leaves out empty region and isp and default probe settings', () => {
    const node = create(NodeSchema, {
      id: 'n1', address: '::1', port: 80, country: 'DE', capacityRps: 10, state: NodeState.MAINTENANCE, pools: ['p'],
      probe: create(ProbeSpecSchema, { type: ProbeType.TCP }),
    });
    expect(documentOfNode(node)).toEqual({
      id: 'n1', address: '::1', port: 80, country: 'DE', capacity: 10, state: 'maintenance', pools: ['p'], probe: { type: 'tcp' },
    });
  });

  it('round-trips 500 seeded random nodes: document, JSON, parse gives the same message', () => {
    const next = createSeededUniform(20_240_601);
    for (let index = 0; index < 500; index += 1) {
      const node = randomNode(next, index);
      if (node.probe?.type === ProbeType.HTTP) node.probe.path = '/health';
      const document = documentOfNode(node);
      const result = parseNodeDocument(`/cdn/nodes/${node.id}`, JSON.stringify(document));
      if (!result.ok) throw new Error(`${JSON.stringify(document)}: ${result.reason}`);
      expect(equals(NodeSchema, result.node, node)).toBe(true);
    }
  });

  it('throws for states and probe types that have no document form', () => {
    const base = { id: 'n1', address: '::1', port: 80, country: 'DE', capacityRps: 10, pools: ['p'] };
    expect(() => documentOfNode(create(NodeSchema, base))).toThrow('state: UNSPECIFIED has no document form');
    expect(() => documentOfNode(create(NodeSchema, { ...base, state: NodeState.ACTIVE, probe: create(ProbeSpecSchema, {}) }))).toThrow(
      'probe.type: UNSPECIFIED has no document form',
    );
  });
});
