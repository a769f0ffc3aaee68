import { describe, expect, it } from 'vitest';
import { formatQueryLine, parseQueryLog } from './query-log.js';

describe('parseQueryLog', () => {
  it('reads space-separated, tab-separated and CSV lines, and ECS subnets', () => {
    const log = parseQueryLog('1.2.3.4 music.demo.example\n5.6.7.8\tvideo.demo.example\n9.9.9.9, a.example\n2001:db8::1 b.example.\n10.1.2.0/24 c.example\n');
    expect(log.errors).toEqual([]);
    expect(log.queries).toEqual([
      { clientIp: '1.2.3.4', ecsSubnet: '', domain: 'music.demo.example' },
      { clientIp: '5.6.7.8', ecsSubnet: '', domain: 'video.demo.example' },
      { clientIp: '9.9.9.9', ecsSubnet: '', domain: 'a.example' },
      { clientIp: '2001:db8::1', ecsSubnet: '', domain: 'b.example.' },
      { clientIp: '', ecsSubnet: '10.1.2.0/24', domain: 'c.example' },
    ]);
  });

  it('skips blank lines, comments (whole and trailing), a CSV header and CRLF endings', () => {
    const log = parseQueryLog('client_ip,domain\r\n# a comment\r\n\r\n   \r\n1.1.1.1,x.example  # trailing\r\n');
    expect(log.errors).toEqual([]);
    expect(log.queries).toEqual([{ clientIp: '1.1.1.1', ecsSubnet: '', domain: 'x.example' }]);
  });

  it('treats a header-like word as a header only on the first data line', () => {
    const log = parseQueryLog('1.1.1.1 x.example\nip,domain\n');
    expect(log.queries).toHaveLength(1);
    expect(log.errors).toEqual([{ line: 2, text: 'ip,domain', reason: expect.stringContaining("'ip' is not an IPv4 or IPv6 address") as unknown }]);
  });

  it('reports each bad line with its 1-based number and keeps the good ones', () => {
    const text = [
      '# header comment', // 1
      '1.2.3.4 ok.example', // 2
      '1.2.3 short.example', // 3
      'only-one-field', // 4
      '1.2.3.4 a.example extra', // 5
      '1.2.3.4 bad_label-.example', // 6
      '', // 7
      '300.1.1.1 x.example', // 8
      '1.2.3.4/40 x.example', // 9
      '5.6.7.8 fine.example', // 10
    ].join('\n');
    const log = parseQueryLog(text);
    expect(log.queries.map((q) => q.domain)).toEqual(['ok.example', 'fine.example']);
    expect(log.errors.map((e) => e.line)).toEqual([3, 4, 5, 6, 8, 9]);
    expect(log.errors[0]!.reason).toMatch(/'1\.2\.3' is not an IPv4 or IPv6 address/);
    expect(log.errors[1]!.reason).toBe("expected 'client domain' or 'client,domain', got 1 field(s)");
    expect(log.errors[2]!.reason).toBe("expected 'client domain' or 'client,domain', got 3 field(s)");
    expect(log.errors[3]!.reason).toMatch(/is not a domain name \(bad label 'bad_label-'\)/);
    expect(log.errors[3]!.text).toBe('1.2.3.4 bad_label-.example');
  });

  it('refuses an empty field of a CSV line and an over-long domain', () => {
    const log = parseQueryLog(`1.2.3.4,\n1.2.3.4 ${'a.'.repeat(130)}example\n`);
    expect(log.queries).toEqual([]);
    expect(log.errors.map((e) => [e.line, e.reason])).toEqual([
      [1, "expected 'client domain' or 'client,domain', got 2 field(s)"],
      [2, 'domain longer than 253 characters'],
    ]);
  });

  it('reads back what formatQueryLine writes', () => {
    const queries = [
      { clientIp: '1.2.3.4', ecsSubnet: '', domain: 'a.example' },
      { clientIp: '', ecsSubnet: '10.0.0.0/8', domain: 'b.example' },
    ];
    expect(parseQueryLog(queries.map(formatQueryLine).join('\n')).queries).toEqual(queries);
  });
});
