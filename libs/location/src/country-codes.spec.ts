import { describe, expect, it } from 'vitest';
import { COUNTRY_CODES, isCountryCode, ISO_ASSIGNED_COUNT, USER_ASSIGNED_COUNTRY_CODES } from './country-codes.js';

describe('country codes', () => {
  it('holds the 249 assigned ISO 3166-1 alpha-2 codes plus XK, no duplicates', () => {
    expect(ISO_ASSIGNED_COUNT).toBe(249);
    expect(COUNTRY_CODES.size).toBe(250);
    expect(USER_ASSIGNED_COUNTRY_CODES).toEqual(['XK']);
  });

  it('accepts real codes', () => {
    for (const code of ['CN', 'US', 'DE', 'JP', 'HK', 'TW', 'MO', 'GB', 'SS', 'BQ', 'XK']) expect(isCountryCode(code), code).toBe(true);
  });

  it('refuses unassigned, reserved, withdrawn and non-country codes, names and lower case', () => {
    for (const code of ['XX', 'ZZ', 'EU', 'UN', 'UK', 'SU', 'YU', 'AN', 'XA', 'AA', 'China', 'cn', 'Cn', '', 'CHN']) {
      expect(isCountryCode(code), code).toBe(false);
    }
  });

  it('agrees with ICU: every code has a region name of its own (catches a typo in the list)', () => {
    const names = new Intl.DisplayNames(['en'], { type: 'region' });
    for (const code of COUNTRY_CODES) {
      const name = names.of(code);
      expect(name !== undefined && name !== code, `${code} → ${name}`).toBe(true);
    }
    expect(names.of('CN')).toBe('China');
  });

  it('misses no code ICU names except the known non-assigned ones', () => {
    const names = new Intl.DisplayNames(['en'], { type: 'region' });
    // Exceptionally/transitionally reserved, withdrawn, or not countries at all (EU, UN, ZZ ...).
    const notAssigned = new Set('AC AN BU CP CQ CS DD DG DY EA EU EZ FX HV IC NH QO RH SU TA TP UK UN VD XA XB YD YU ZR ZZ'.split(' '));
    const missing: string[] = [];
    for (let a = 65; a <= 90; a += 1) {
      for (let b = 65; b <= 90; b += 1) {
        const code = String.fromCharCode(a, b);
        const name = names.of(code);
        if (name !== undefined && name !== code && !COUNTRY_CODES.has(code) && !notAssigned.has(code)) missing.push(code);
      }
    }
    expect(missing).toEqual([]);
  });
});
