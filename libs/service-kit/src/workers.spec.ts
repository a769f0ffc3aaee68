import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from './config.js';
import { isWorkerPrimary, workersSetting } from './workers.js';

describe('workersSetting', () => {
  const spec = workersSetting('X_WORKERS');

  it('defaults to one process, and reads --workers and its environment variable', () => {
    expect(parseConfig(spec, [], {}).workers).toBe(1);
    expect(parseConfig(spec, ['--workers', '3'], {}).workers).toBe(3);
    expect(parseConfig(spec, ['--workers=4'], {}).workers).toBe(4);
    expect(parseConfig(spec, [], { X_WORKERS: '2' }).workers).toBe(2);
    expect(parseConfig(spec, ['--workers', '5'], { X_WORKERS: '2' }).workers).toBe(5);
  });

  it('refuses a count out of range with a message that names the setting', () => {
    expect(() => parseConfig(spec, ['--workers', '0'], {})).toThrow(ConfigError);
    expect(() => parseConfig(spec, ['--workers', '65'], {})).toThrow(/workers/);
  });

  it('forks only for more than one worker, in the primary', () => {
    expect(isWorkerPrimary(1)).toBe(false);
    expect(isWorkerPrimary(2)).toBe(true);
    expect(isWorkerPrimary(undefined)).toBe(false);
  });
});
