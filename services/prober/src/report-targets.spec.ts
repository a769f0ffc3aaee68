import { describe, expect, it } from 'vitest';
import { createReportTargets, type ReportTarget } from './report-targets.js';

const until = async (check: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
};

describe('createReportTargets', () => {
  it('passes host:port entries through at once', () => {
    const seen: (readonly ReportTarget[])[] = [];
    const t = createReportTargets({ entries: ['10.0.0.1:50053', '10.0.0.2:50053'], onChange: (x) => seen.push(x) });
    expect(seen).toEqual([[{ target: '10.0.0.1:50053' }, { target: '10.0.0.2:50053' }]]);
    t.close();
  });

  it('expands a dns:/// name to every address, with the name for certificate checks, and follows changes', async () => {
    let addresses = ['10.0.0.2', '10.0.0.1'];
    const seen: (readonly ReportTarget[])[] = [];
    const t = createReportTargets({ entries: ['dns:///wc.ns.svc:50053'], resolveIntervalMs: 10, lookup: async () => addresses, onChange: (x) => seen.push(x) });
    await until(() => seen.length >= 1);
    expect(seen[0]).toEqual([
      { target: '10.0.0.1:50053', serverName: 'wc.ns.svc' },
      { target: '10.0.0.2:50053', serverName: 'wc.ns.svc' },
    ]);
    // A scale-out adds a replica; an unchanged answer publishes nothing.
    addresses = ['10.0.0.1', '10.0.0.2', '10.0.0.3'];
    await until(() => seen.length >= 2);
    expect(seen[1]!.map((x) => x.target)).toEqual(['10.0.0.1:50053', '10.0.0.2:50053', '10.0.0.3:50053']);
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toHaveLength(2);
    t.close();
  });

  it('keeps the last addresses when a lookup fails, and names the entry', async () => {
    let fail = false;
    const errors: string[] = [];
    const seen: (readonly ReportTarget[])[] = [];
    const t = createReportTargets({
      entries: ['dns:///wc:50053'],
      resolveIntervalMs: 10,
      lookup: async () => {
        if (fail) throw new Error('ENOTFOUND');
        return ['10.0.0.1'];
      },
      onChange: (x) => seen.push(x),
      onError: (entry, e) => errors.push(`${entry}: ${e.message}`),
    });
    await until(() => seen.length >= 1);
    fail = true;
    await until(() => errors.length >= 2);
    expect(errors[0]).toBe('dns:///wc:50053: ENOTFOUND');
    expect(seen).toHaveLength(1);
    expect(t.current.map((x) => x.target)).toEqual(['10.0.0.1:50053']);
    t.close();
  });

  it('refuses a dns:/// entry without a port', () => {
    expect(() => createReportTargets({ entries: ['dns:///wc'], onChange: () => undefined })).toThrow('WEIGHT_CALCULATORS: "dns:///wc" needs a port (dns:///name:port)');
  });
});
