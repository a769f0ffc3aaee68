import { describe, expect, it } from 'vitest';
import { ConfigError, createShutdown, formatHelp, parseConfig } from './index.js';

const spec = {
  endpoints: { type: 'list', env: 'ETCD_ENDPOINTS', flag: 'etcd-endpoints', default: ['http://127.0.0.1:2379'], description: 'etcd client URLs' },
  port: { type: 'int', env: 'PORT', flag: 'port', min: 0, max: 65535, description: 'gRPC port' },
  keep: { type: 'bool', flag: 'keep', default: false, description: 'keep data' },
} as const;

describe('parseConfig', () => {
  it('takes flags over env over defaults, with types', () => {
    expect(parseConfig(spec, ['--port', '50051'], { ETCD_ENDPOINTS: 'http://a:1,http://b:2' })).toEqual({
      endpoints: ['http://a:1', 'http://b:2'],
      port: 50051,
      keep: false,
    });
    expect(parseConfig(spec, ['--port=1', '--keep'], { PORT: '2' })).toMatchObject({ port: 1, keep: true });
  });

  it('rejects bad input with a message naming the setting', () => {
    expect(() => parseConfig(spec, [], {})).toThrow(new ConfigError('missing setting: --port or PORT (gRPC port)'));
    expect(() => parseConfig(spec, ['--port', 'x'], {})).toThrow('--port: expected an integer, got "x"');
    expect(() => parseConfig(spec, [], { PORT: '70000' })).toThrow('PORT: must be <= 65535, got 70000');
    expect(() => parseConfig(spec, ['--prot', '1'], {})).toThrow('unknown flag --prot (see --help)');
  });

  it('documents every setting in --help', () => {
    const help = formatHelp('resolver', 'Answers routing decisions.', spec);
    expect(help).toContain('--etcd-endpoints, $ETCD_ENDPOINTS');
    expect(help).toContain('default http://127.0.0.1:2379');
    expect(help).toContain('gRPC port (required)');
  });
});

describe('createShutdown', () => {
  it('runs steps last-registered first, aborts the signal, and bounds the time', async () => {
    const order: string[] = [];
    const s = createShutdown({ timeoutMs: 100, signals: [] });
    s.add('server', () => void order.push('server'));
    s.add('streams', async () => void order.push('streams'));
    expect(s.signal.aborted).toBe(false);
    expect(await s.run('test')).toBe(0);
    expect(order).toEqual(['streams', 'server']);
    expect(s.signal.aborted).toBe(true);

    const slow = createShutdown({ timeoutMs: 50, signals: [] });
    slow.add('hang', () => new Promise(() => undefined));
    expect(await slow.run('test')).toBe(1);
  });
});
