import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';

// RFC 1123 §2.1 host name labels: letters, digits and hyphens, 1–63 characters, no hyphen first
// or last. Underscores are not allowed in host names (RFC 952), even if DNS would carry them.
const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const ALL_DIGITS = /^[0-9]+$/;
const NON_ASCII = /[^\x20-\x7e]/;

/** Maximum length of a DNS name in text form without the trailing dot (RFC 1035 §2.3.4). */
export const MAX_DNS_NAME_LENGTH = 253;

/**
 * Checks the labels of a name; returns a problem or `undefined`. The last label must not be all
 * digits (RFC 1123 §2.1, RFC 3696 §2): "10.0.0.300" is a broken address, not a host name.
 */
function labelsProblem(name: string): string | undefined {
  if (name.length > MAX_DNS_NAME_LENGTH) return `must be at most ${MAX_DNS_NAME_LENGTH} characters, got ${name.length}`;
  const labels = name.split('.');
  for (const label of labels) {
    if (!LABEL.test(label)) {
      return label === ''
        ? `must not contain an empty label, got "${name}"`
        : `label "${label}" must be 1 to 63 letters, digits or "-", not starting or ending with "-"`;
    }
  }
  if (ALL_DIGITS.test(labels[labels.length - 1])) return `must not end in an all-numeric label, got "${name}"`;
  return undefined;
}

/**
 * Problem with a domain name as the key and `domain` field of a routing policy hold it: a fully
 * qualified name with at least two labels, lower case, ASCII (IDNA "xn--" form for international
 * names), without the trailing dot, at most 253 characters. `undefined` when it is fine.
 */
export function domainNameProblem(name: string): string | undefined {
  if (name === '') return 'must not be empty';
  if (name.endsWith('.')) return `must be written without the trailing dot; did you mean "${name.replace(/\.+$/, '').toLowerCase()}"?`;
  if (NON_ASCII.test(name)) {
    const ascii = domainToASCII(name);
    return ascii === '' ? `must be an ASCII domain name, got "${name}"` : `must be ASCII; write the IDNA form "${ascii}"`;
  }
  if (name !== name.toLowerCase()) return `must be lower case; did you mean "${name.toLowerCase()}"?`;
  const problem = labelsProblem(name);
  if (problem !== undefined) return problem;
  if (!name.includes('.')) return `must be a fully qualified name such as "cdn.example.com", got "${name}"`;
  return undefined;
}

/** True for an IPv4 or IPv6 literal (no brackets, no zone) or an RFC 1123 host name. */
export function isAddress(text: string): boolean {
  if (text.includes('%')) return false;
  if (isIP(text) !== 0) return true;
  return text !== '' && !text.endsWith('.') && !NON_ASCII.test(text) && labelsProblem(text) === undefined;
}
