import { describe, expect, it } from 'vitest';
import { numericLookup } from './udp-server.js';

describe('numericLookup', () => {
  it('gives a numeric address back in the same turn, with its family', () => {
    const seen: [string, number][] = [];
    numericLookup('192.0.2.7', 4, (error, address, family) => {
      expect(error).toBeNull();
      seen.push([address, family]);
    });
    numericLookup('2001:db8::1', 6, (error, address, family) => {
      expect(error).toBeNull();
      seen.push([address, family]);
    });
    expect(seen).toEqual([
      ['192.0.2.7', 4],
      ['2001:db8::1', 6],
    ]);
  });

  it('leaves a host name to dns.lookup, in a later turn', async () => {
    let sync = true;
    const answer = new Promise<[string, number]>((resolve, reject) =>
      numericLookup('localhost', 4, (error, address, family) => {
        expect(sync).toBe(false);
        if (error) reject(error);
        else resolve([address, family]);
      }),
    );
    sync = false;
    expect(await answer).toEqual(['127.0.0.1', 4]);
  });
});
