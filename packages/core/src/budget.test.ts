import { describe, expect, it } from 'vitest';
import { BudgetMeter, formatBudget, parseBudget } from './budget.js';

describe('parseBudget', () => {
  it('parses each unit and combinations', () => {
    expect(parseBudget('episodes=512')).toEqual({ episodes: 512 });
    expect(parseBudget('tokens=1000')).toEqual({ generatedTokens: 1000 });
    expect(parseBudget('seconds=2.5')).toEqual({ seconds: 2.5 });
    expect(parseBudget('episodes=10,seconds=60')).toEqual({ episodes: 10, seconds: 60 });
    expect(formatBudget(parseBudget('episodes=10,tokens=5'))).toBe('episodes=10,tokens=5');
  });

  it.each([
    ['episodes=-3', /bad budget value '-3' for episodes/],
    ['episodes=2.5', /positive integer/],
    ['minutes=3', /bad budget unit 'minutes'.*episodes, tokens, seconds/],
    ['episodes', /expected unit=value/],
    ['tokens=abc', /bad budget value 'abc'/],
  ])('rejects %s naming the bad part', (text, message) => {
    expect(() => parseBudget(text)).toThrow(message);
  });
});

describe('BudgetMeter', () => {
  it('refuses a step whose worst case would exceed any limit, and counts everything charged', () => {
    const meter = new BudgetMeter({ episodes: 10, generatedTokens: 100 });
    expect(meter.canAfford({ episodes: 8, generatedTokens: 80 })).toBe(true);
    meter.charge({ episodes: 8, generatedTokens: 30, envSteps: 8, trainedTokens: 20 });
    expect(meter.canAfford({ episodes: 4 })).toBe(false);
    expect(meter.canAfford({ episodes: 2, generatedTokens: 71 })).toBe(false);
    expect(meter.canAfford({ episodes: 2, generatedTokens: 70 })).toBe(true);
    expect(meter.consumed).toEqual({
      episodes: 8,
      envSteps: 8,
      generatedTokens: 30,
      trainedTokens: 20,
      seconds: 0,
      auxScoredTokens: 0,
      auxTrainedTokens: 0,
    });
    expect(meter.progress()).toBeCloseTo(0.8);
  });

  it('limits the work of models other than the policy, and a checkpoint without those counters starts them at 0', () => {
    const meter = new BudgetMeter(parseBudget('episodes=100,auxScoredTokens=50'), { episodes: 3 });
    expect(meter.consumed.auxScoredTokens).toBe(0);
    meter.charge({ auxScoredTokens: 40, auxTrainedTokens: 1000 });
    expect(meter.canAfford({ auxScoredTokens: 10 })).toBe(true);
    expect(meter.canAfford({ auxScoredTokens: 11 })).toBe(false);
    expect(meter.progress()).toBeCloseTo(0.8);
    expect(formatBudget(parseBudget('auxTrainedTokens=7,episodes=2'))).toBe('episodes=2,auxTrainedTokens=7');
    expect(() => parseBudget('auxTokens=5')).toThrow(
      /accepted units are episodes, tokens, seconds, auxScoredTokens, auxTrainedTokens/,
    );
  });

  it('restores from consumed figures and rejects bad charges', () => {
    const meter = new BudgetMeter({ seconds: 5 }, { episodes: 3, envSteps: 3, generatedTokens: 9, trainedTokens: 9, seconds: 4 });
    expect(meter.canAfford({ seconds: 2 })).toBe(false);
    expect(() => meter.charge({ episodes: -1 })).toThrow(/cannot charge/);
    expect(() => new BudgetMeter({})).toThrow(/at least one/);
  });
});
