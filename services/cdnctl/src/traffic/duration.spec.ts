import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from './duration.js';

describe('parseDuration', () => {
  it.each([
    ['30s', 30_000],
    ['2m', 120_000],
    ['500ms', 500],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['1.5s', 1500],
    ['.25s', 250],
    ['90', 90_000],
    ['0.5', 500],
    ['0', 0],
    [' 10s ', 10_000],
  ])('reads %s as %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', 's', '-5s', '5x', '10 s', '5s3', 'ms', '1e3', 'abc'])('refuses %j', (text) => {
    expect(() => parseDuration(text)).toThrow(/is not a duration/);
  });

  it('names the text and the accepted forms in its error', () => {
    expect(() => parseDuration('3 minutes')).toThrow("'3 minutes' is not a duration (expected e.g. 500ms, 30s, 2m, 1h, 1m30s, or a number of seconds)");
  });
});

describe('formatDuration', () => {
  it('picks a unit people read at a glance', () => {
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(12_540)).toBe('12.5 s');
    expect(formatDuration(200_000)).toBe('3 m 20 s');
    expect(formatDuration(120_000)).toBe('2 m');
  });
});
