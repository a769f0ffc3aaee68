import { describe, expect, it } from 'vitest';
import { quietIpServernameWarning } from './ip-servername-warning.js';

describe('quietIpServernameWarning', () => {
  it("drops DEP0123 only: other warnings and deprecations still reach the 'warning' event", async () => {
    quietIpServernameWarning();
    quietIpServernameWarning();
    const seen: string[] = [];
    const onWarning = (w: Error & { code?: string }): void => void seen.push(`${w.name}:${w.code ?? ''}:${w.message}`);
    process.on('warning', onWarning);
    try {
      process.emitWarning('Setting the TLS ServerName to an IP address is not permitted by RFC 6066.', 'DeprecationWarning', 'DEP0123');
      process.emitWarning('Setting the TLS ServerName to an IP address is not permitted by RFC 6066.', { type: 'DeprecationWarning', code: 'DEP0123' });
      process.emitWarning('something else', 'DeprecationWarning', 'DEP0999');
      process.emitWarning('plain warning');
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', onWarning);
    }
    expect(seen).toEqual(['DeprecationWarning:DEP0999:something else', 'Warning::plain warning']);
  });
});
