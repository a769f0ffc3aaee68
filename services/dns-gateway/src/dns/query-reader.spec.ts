import dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { parseClientSubnet } from './ecs-option.js';
import { Rcode, readQuery } from './query-reader.js';

const query = (name: string, extra: Partial<dnsPacket.Packet> = {}): Buffer =>
  dnsPacket.encode({ id: 4242, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name }], ...extra });
const ecsQuery = (data: number[]): Buffer =>
  query('music.demo.example', { additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, options: [{ code: 8, data: Buffer.from(data) }] } as unknown as dnsPacket.Answer] });

describe('readQuery', () => {
  it('reads id, RD, the name as asked and canonical, type and class, and the raw question', () => {
    const r = readQuery(query('MuSiC.Demo.Example'));
    expect(r.kind).toBe('query');
    if (r.kind !== 'query') return;
    expect(r.query).toMatchObject({ id: 4242, rd: true, opcode: 0, askedName: 'MuSiC.Demo.Example', name: 'music.demo.example', qtype: 1, qclass: 1, edns: undefined });
    expect(Buffer.from(r.query.question).toString('hex')).toBe(query('MuSiC.Demo.Example').subarray(12).toString('hex'));
  });

  it('escapes dots and odd bytes inside labels, so they cannot alias a policy name', () => {
    const buf = Buffer.from(query('x.demo.example'));
    // One label "a.b" where "a.b.demo.example" would be three.
    const weird = Buffer.concat([buf.subarray(0, 12), Buffer.from([3, 0x61, 0x2e, 0x62, 0, 0, 1, 0, 1])]);
    const r = readQuery(weird);
    expect(r.kind === 'query' && r.query.name).toBe('a\\.b');
  });

  it('drops short packets and responses', () => {
    expect(readQuery(new Uint8Array(11))).toEqual({ kind: 'drop', reason: 'short' });
    const resp = Buffer.from(query('a.example'));
    resp[2] |= 0x80;
    expect(readQuery(resp)).toEqual({ kind: 'drop', reason: 'response' });
  });

  it('answers FORMERR for no or two questions, truncated names, compression in the question and bogus counts', () => {
    const none = dnsPacket.encode({ id: 1, type: 'query', questions: [] });
    const two = dnsPacket.encode({ id: 1, type: 'query', questions: [{ type: 'A', name: 'a.example' }, { type: 'A', name: 'b.example' }] });
    const cut = query('music.demo.example').subarray(0, 20);
    const pointer = Buffer.concat([query('a').subarray(0, 12), Buffer.from([0xc0, 0x0c, 0, 1, 0, 1])]);
    const bogus = Buffer.from(query('a.example'));
    bogus.writeUInt16BE(500, 6);
    for (const b of [none, two, cut, pointer, bogus]) {
      const r = readQuery(b);
      expect(r.kind).toBe('error');
      expect(r.kind === 'error' && r.rcode).toBe(Rcode.FORMERR);
    }
  });

  it('answers NOTIMP to other opcodes, BADVERS to EDNS version 1', () => {
    const notify = Buffer.from(query('a.example'));
    notify[2] = (notify[2]! & 0x87) | (4 << 3);
    expect(readQuery(notify)).toMatchObject({ kind: 'error', rcode: Rcode.NOTIMP });
    const v1 = query('a.example', { additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096, ednsVersion: 1, flags: 0, options: [] } as unknown as dnsPacket.Answer] });
    expect(readQuery(v1)).toMatchObject({ kind: 'error', rcode: Rcode.BADVERS, query: { edns: { version: 1 } } });
  });

  it('reads a valid ECS option and refuses malformed ones with FORMERR (RFC 7871 §7.1.1)', () => {
    const ok = readQuery(ecsQuery([0, 1, 24, 0, 1, 0, 8]));
    expect(ok.kind === 'query' && ok.query.edns?.ecs).toEqual(parseClientSubnet(Uint8Array.from([0, 1, 24, 0, 1, 0, 8])));
    const bad = [
      [0, 3, 24, 0, 1, 0, 8], // unknown family
      [0, 1, 33, 0, 1, 0, 8, 0, 0], // prefix longer than IPv4
      [0, 1, 24, 0, 1, 0], // too few address octets
      [0, 1, 24, 0, 1, 0, 8, 0], // too many
      [0, 1, 23, 0, 1, 0, 9], // a bit past the /23
      [0, 2, 129, 0, ...new Array(17).fill(0)],
      [0, 1],
    ];
    for (const data of bad) expect(readQuery(ecsQuery(data))).toMatchObject({ kind: 'error', rcode: Rcode.FORMERR });
  });
});
