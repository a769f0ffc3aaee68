import { describe, expect, it } from 'vitest';
import { isLeaderlessAnswer } from './etcd-client.js';

describe('isLeaderlessAnswer (errors that must not open a member breaker)', () => {
  it('recognises what a live member answers during an election', () => {
    for (const message of [
      '14 UNAVAILABLE: etcdserver: no leader',
      '14 UNAVAILABLE: etcdserver: request timed out',
      '14 UNAVAILABLE: etcdserver: request timed out, possibly due to previous leader failure',
      '14 UNAVAILABLE: etcdserver: leader changed',
    ]) {
      expect(isLeaderlessAnswer(new Error(message)), message).toBe(true);
    }
  });

  it('leaves failures of the member itself to the breaker', () => {
    for (const message of ['14 UNAVAILABLE: read ECONNRESET', '14 UNAVAILABLE: No connection established', '4 DEADLINE_EXCEEDED: Deadline exceeded']) {
      expect(isLeaderlessAnswer(new Error(message)), message).toBe(false);
    }
  });
});
