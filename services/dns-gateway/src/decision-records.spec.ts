import { describe, expect, it } from 'vitest';
import { answerRecords, QType, toDecisionRecords } from './decision-records.js';

const decision = (addresses: string[], ttlS = [60]) => ({ answers: addresses.map((address, i) => ({ nodeId: `n${i}`, address, ttlS: ttlS[i % ttlS.length]! })), ecsScope: 16, degraded: false, configVersion: 7n });

describe('decision records', () => {
  it('splits answers by kind of address in the decision order, packs the RDATA, takes the smallest TTL', () => {
    const d = toDecisionRecords(decision(['127.0.0.11', 'edge-7.cdn.example.net', '2001:db8::7', '10.0.0.1', '::ffff:1.2.3.4'], [60, 30, 90]), 21);
    expect(d).toMatchObject({ v4: ['127.0.0.11', '10.0.0.1'], v6: ['2001:db8::7', '::ffff:1.2.3.4'], hostNames: ['edge-7.cdn.example.net'], ttlS: 30, scope: 21, configVersion: 7 });
    expect([...d.v4Packed.rdata]).toEqual([127, 0, 0, 11, 10, 0, 0, 1]);
    expect(Buffer.from(d.v6Packed.rdata).toString('hex')).toBe('20010db8000000000000000000000007' + '00000000000000000000ffff01020304');
    expect(answerRecords(d, QType.AAAA, 'x.example', 30).map((r) => (r as { data: unknown }).data)).toEqual(['2001:db8::7', '::ffff:1.2.3.4']);
  });

  it('shares the record set of an address sequence between decisions, and keeps sequences apart (order and length matter)', () => {
    const a = toDecisionRecords(decision(['192.0.2.1', '192.0.2.2']), 24);
    const b = toDecisionRecords(decision(['192.0.2.2', '192.0.2.1']), 24);
    const c = toDecisionRecords(decision(['192.0.2.1']), 24);
    const again = toDecisionRecords(decision(['192.0.2.1', '192.0.2.2'], [5]), 16);
    expect([...a.v4Packed.rdata]).toEqual([192, 0, 2, 1, 192, 0, 2, 2]);
    expect([...b.v4Packed.rdata]).toEqual([192, 0, 2, 2, 192, 0, 2, 1]);
    expect([...c.v4Packed.rdata]).toEqual([192, 0, 2, 1]);
    expect(c.v4).toEqual(['192.0.2.1']);
    // The same sequence: the same arrays and RDATA, with this decision's own TTL, scope and version.
    expect(again.v4Packed).toBe(a.v4Packed);
    expect(again.v4).toBe(a.v4);
    expect(again).toMatchObject({ ttlS: 5, scope: 16 });
    expect(again).not.toBe(a);
    expect(toDecisionRecords(decision([]), 24)).toMatchObject({ v4: [], v6: [], hostNames: [], ttlS: 0 });
  });

  it('keeps giving right records after the memo is forgotten (more sequences than it holds)', () => {
    for (let i = 0; i < 60_000; i++) {
      const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
      const d = toDecisionRecords(decision([ip, '2001:db8::1']), 24);
      if (i % 997 === 0) expect({ v4: d.v4, v6: d.v6, rdata: [...d.v4Packed.rdata] }).toEqual({ v4: [ip], v6: ['2001:db8::1'], rdata: ip.split('.').map(Number) });
    }
    expect(toDecisionRecords(decision(['192.0.2.1', '192.0.2.2']), 24).v4).toEqual(['192.0.2.1', '192.0.2.2']);
  });
});
