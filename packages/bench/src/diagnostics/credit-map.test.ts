import type { CreditMap } from '@policy-lab/trainer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { creditColour, creditMapSvg, renderCreditMapHtml } from './credit-map.js';

const map: CreditMap = {
  beta: 0.1,
  step: 20,
  method: 'token-dpo-beam',
  env: 'countdown',
  answers: [
    {
      task: 't1',
      role: 'chosen',
      observation: 'o',
      tokens: ['3', '+', ''],
      credits: [0.2, -0.1, 0],
      creditSum: 0.1,
      implicitReward: 0.1,
      reward: 1,
    },
    {
      task: 't1',
      role: 'rejected',
      observation: 'o',
      tokens: ['3', '-'],
      credits: [0.2, -0.4],
      creditSum: -0.2,
      implicitReward: -0.2,
      reward: 0,
    },
  ],
  maxSumError: 0,
  chosenReward: 0.1,
  rejectedReward: -0.2,
  tasksTried: 1,
  cost: { episodes: 8, generatedTokens: 20, scoredTokens: 30 },
};

describe('credit map report', () => {
  it('colours 0 white, positive credit blue and negative red, deeper with |credit|', () => {
    expect(creditColour(0, 1)).toBe('rgb(255,255,255)');
    fc.assert(
      fc.property(fc.double({ min: 0.01, max: 1, noNaN: true }), (x) => {
        const [rb, , bb] = creditColour(x, 1).match(/\d+/g)?.map(Number) ?? [];
        const [rr, , br] = creditColour(-x, 1).match(/\d+/g)?.map(Number) ?? [];
        expect(bb).toBeGreaterThan(rb as number);
        expect(rr).toBeGreaterThan(br as number);
      }),
    );
  });

  it('draws one cell per token, the end token as a mark, and each row’s sum beside its reward', async () => {
    const svg = creditMapSvg(map);
    expect(svg.match(/<rect /g)).toHaveLength(5);
    expect(svg).toContain('∎');
    expect(svg).toContain('sum -0.2000 = r -0.2000');
    const html = await renderCreditMapHtml({ run: '/runs/x', ...map });
    expect(html).toContain('<svg');
    expect(html).toContain('chosen 0.1000, rejected -0.2000');
  });
});
