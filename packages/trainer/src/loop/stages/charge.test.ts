import { BudgetMeter } from '@policy-lab/core';
import { describe, expect, it } from 'vitest';
import { chargeStep } from './charge.js';

describe('charge stage', () => {
  it("adds the update's trained tokens and the step's seconds to what was charged as it was drawn", () => {
    const meter = new BudgetMeter({ episodes: 100 });
    meter.charge({ episodes: 24, generatedTokens: 50 });
    chargeStep({ charge: (cost) => meter.charge(cost) }, { metrics: {}, trainedTokens: 40 }, 1.5);
    expect(meter.consumed).toMatchObject({ episodes: 24, generatedTokens: 50, trainedTokens: 40, seconds: 1.5 });
  });
});
