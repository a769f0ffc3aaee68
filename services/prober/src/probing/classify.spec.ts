import { ProbeErrorClass } from '@cdn-sched/proto';
import { describe, expect, it } from 'vitest';
import { PROBE_CLASS_NAMES, ProbeError, classifyError, describeError, probeClassName } from './classify.js';

const withCode = (code: string, message = 'boom'): Error => Object.assign(new Error(message), { code });

describe('classifyError', () => {
  it.each([
    ['ECONNREFUSED', ProbeErrorClass.REFUSED],
    ['ECONNRESET', ProbeErrorClass.RESET],
    ['EPIPE', ProbeErrorClass.RESET],
    ['UND_ERR_SOCKET', ProbeErrorClass.RESET],
    ['ENOTFOUND', ProbeErrorClass.DNS],
    ['EAI_AGAIN', ProbeErrorClass.DNS],
    ['ETIMEDOUT', ProbeErrorClass.TIMEOUT],
    ['UND_ERR_CONNECT_TIMEOUT', ProbeErrorClass.TIMEOUT],
    ['UND_ERR_HEADERS_TIMEOUT', ProbeErrorClass.TIMEOUT],
    ['UND_ERR_BODY_TIMEOUT', ProbeErrorClass.TIMEOUT],
    ['ERR_TLS_CERT_ALTNAME_INVALID', ProbeErrorClass.TLS],
    ['CERT_HAS_EXPIRED', ProbeErrorClass.TLS],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', ProbeErrorClass.TLS],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', ProbeErrorClass.TLS],
    ['ERR_SSL_WRONG_VERSION_NUMBER', ProbeErrorClass.TLS],
    ['EHOSTUNREACH', ProbeErrorClass.OTHER],
  ])('maps %s to its class', (code, expected) => {
    expect(classifyError(withCode(code))).toBe(expected);
  });

  it("classifies the prober's own errors by their stable codes", () => {
    expect(classifyError(new ProbeError('EPROBETIMEOUT', 'x'))).toBe(ProbeErrorClass.TIMEOUT);
    expect(classifyError(new ProbeError('EBADBODY', 'x'))).toBe(ProbeErrorClass.BAD_BODY);
    expect(classifyError(new ProbeError('EPROBEABORTED', 'x'))).toBe(ProbeErrorClass.OTHER);
  });

  it('looks through wrappers and recognises AbortSignal.timeout and socket hang up', () => {
    const wrapped = new TypeError('fetch failed', { cause: new Error('inner', { cause: withCode('ECONNREFUSED') }) });
    expect(classifyError(wrapped)).toBe(ProbeErrorClass.REFUSED);
    expect(classifyError(new DOMException('The operation was aborted due to timeout', 'TimeoutError'))).toBe(ProbeErrorClass.TIMEOUT);
    expect(classifyError(new Error('socket hang up'))).toBe(ProbeErrorClass.RESET);
  });

  it('never throws on odd input and calls the unknown OTHER', () => {
    for (const odd of [undefined, null, 42, 'text', {}, { code: 7 }, Object.create(null)]) {
      expect(classifyError(odd)).toBe(ProbeErrorClass.OTHER);
    }
    const loop: { cause?: unknown } = {};
    loop.cause = loop;
    expect(classifyError(loop)).toBe(ProbeErrorClass.OTHER);
  });
});

describe('describeError and class names', () => {
  it('puts the code in front of the message once, on one bounded line', () => {
    expect(describeError(withCode('ECONNREFUSED', 'connect failed'))).toBe('ECONNREFUSED: connect failed');
    expect(describeError(withCode('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1'))).toBe('connect ECONNREFUSED 127.0.0.1:1');
    expect(describeError(new Error('x'.repeat(500)))).toHaveLength(200);
    expect(describeError('plain')).toBe('plain');
  });

  it('names every class, success included, in enum order', () => {
    expect(PROBE_CLASS_NAMES).toEqual(['up', 'timeout', 'refused', 'reset', 'dns', 'tls', 'http_status', 'bad_body', 'other']);
    expect(probeClassName(ProbeErrorClass.UNSPECIFIED)).toBe('up');
    expect(probeClassName(ProbeErrorClass.BAD_BODY)).toBe('bad_body');
  });
});
