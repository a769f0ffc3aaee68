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

  it('gives every decision its own RDATA, equal for the same addresses (remembered parses are not shared storage)', () => {
    const a = toDecisionRecords(decision(['192.0.2.1', '192.0.2.2']), 24);
    const b = toDecisionRecords(decision(['192.0.2.2', '192.0.2.1']), 24);
    expect([...a.v4Packed.rdata]).toEqual([192, 0, 2, 1, 192, 0, 2, 2]);
    expect([...b.v4Packed.rdata]).toEqual([192, 0, 2, 2, 192, 0, 2, 1]);
    a.v4Packed.rdata.fill(0);
    expect([...toDecisionRecords(decision(['192.0.2.1']), 24).v4Packed.rdata]).toEqual([192, 0, 2, 1]);
    expect(toDecisionRecords(decision([]), 24)).toMatchObject({ v4: [], v6: [], hostNames: [], ttlS: 0 });
  });
});
