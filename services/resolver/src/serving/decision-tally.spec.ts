import { Tier } from '@cdn-sched/proto';
import { Status } from 'nice-grpc';
import { describe, expect, it } from 'vitest';
import { createDecisionResult, ReasonCode } from '../decision/index.js';
import { createDecisionTally } from './decision-tally.js';
import type { Decided } from './resolve-core.js';

function decided(init: Partial<Pick<Decided, 'ok' | 'code' | 'degraded'>> & { tier?: Tier; reason?: ReasonCode } = {}): Decided {
  const result = createDecisionResult();
  result.tier = init.tier ?? Tier.ISP_REGION;
  result.reason = init.reason ?? ReasonCode.TIER;
  return { ok: init.ok ?? true, code: init.code ?? 0, reason: '', message: '', table: undefined, result, location: { country: '', region: '', isp: '' }, prefixLen: 0, degraded: init.degraded ?? false };
}

describe('createDecisionTally', () => {
  it('counts answers by outcome, tier and reason, and errors by gRPC code', () => {
    const tally = createDecisionTally();
    for (let i = 0; i < 3; i++) tally.count(decided());
    tally.count(decided({ tier: Tier.REGION, reason: ReasonCode.SPILL }));
    tally.count(decided({ tier: Tier.ANY, reason: ReasonCode.ALL_DOWN, degraded: true }));
    tally.count(decided({ degraded: true }));
    tally.count(decided({ ok: false, code: Status.NOT_FOUND }));
    tally.count(decided({ ok: false, code: Status.INVALID_ARGUMENT }));
    tally.count(decided({ ok: false, code: Status.INVALID_ARGUMENT }));
    const rows = tally.entries().map((e) => `${e.outcome} ${e.tier} ${e.reason} ${e.count}`);
    expect(rows.sort()).toEqual([
      'degraded any all_down 1',
      'degraded isp+region tier 1',
      'error none invalid_argument 2',
      'error none not_found 1',
      'ok isp+region tier 3',
      'ok region spill 1',
    ]);
  });

  it('keeps running totals (the metric adds the difference at each scrape)', () => {
    const tally = createDecisionTally();
    tally.count(decided());
    expect(tally.entries()).toEqual([{ outcome: 'ok', tier: 'isp+region', reason: 'tier', count: 1 }]);
    tally.count(decided());
    expect(tally.entries()).toEqual([{ outcome: 'ok', tier: 'isp+region', reason: 'tier', count: 2 }]);
  });
});
