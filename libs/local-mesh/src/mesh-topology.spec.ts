import { describe, expect, it } from 'vitest';
import { nodeDocument } from './mesh-topology.js';

const node = { id: 'edge-0', address: '127.0.0.1', port: 41000, path: '/health' };
const probe = { intervalMs: 300, timeoutMs: 250 };

describe('nodeDocument', () => {
  it('writes the document an SRE would, pointing at the fake node', () => {
    expect(nodeDocument({ id: 'gd-ct-1', country: 'CN', region: 'CN-GD', isp: 'ct', capacity: 1000 }, node, ['music', 'video'], probe)).toEqual({
      id: 'gd-ct-1',
      address: '127.0.0.1',
      port: 41000,
      country: 'CN',
      region: 'CN-GD',
      isp: 'ct',
      capacity: 1000,
      state: 'active',
      pools: ['music', 'video'],
      probe: { type: 'http', path: '/health', intervalMs: 300, timeoutMs: 250 },
    });
  });

  it('leaves out an empty region and ISP, keeps the edge own pools, and applies overrides last', () => {
    const doc = nodeDocument({ id: 'us-1', country: 'US', region: '', capacity: 3000, pools: ['live'] }, node, ['music'], probe, { state: 'drain' });
    expect(doc).not.toHaveProperty('region');
    expect(doc).not.toHaveProperty('isp');
    expect(doc).toMatchObject({ pools: ['live'], state: 'drain' });
  });
});
