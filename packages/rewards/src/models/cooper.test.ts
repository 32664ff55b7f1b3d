import { Rng, type Rollout } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { COOPER_COMPONENT, type CooperRules, cooperEstimator, cooperPairLoss, cooperPairs, cooperText } from './cooper.js';
import { corruptEquation, corruptFinalNumber, negativeOf } from './cooper-negatives.js';
import { sigmoid } from './small-model.js';
import { turnOf } from './test-support.js';

/** A one-turn countdown-like rollout: the question `use a b make t`, the answer, its verdict. */
const rolloutOf = (group: number, index: number, answer: string, success: boolean, score = 0): Rollout => ({
  id: `${group}/${index}`,
  groupId: `${group}`,
  taskId: `task${group}`,
  turns: [turnOf(`use 3 5 make 8`, answer)],
  reward: { [COOPER_COMPONENT]: score },
  success,
});

/** Rules of a toy task: the reference is 3+5 and an answer is correct when it evaluates to 8 with 3 and 5. */
const rules: CooperRules = {
  reference: () => '3+5',
  isCorrect: (_rollout, answer) => answer === '3+5' || answer === '5+3',
  corrupt: corruptEquation,
};

describe('cooper contrastive loss', () => {
  it('worked example: s+ = 2.0, s- = 0.5 give L = 0.2014 and rewards 0.881 and 0.622', () => {
    const { loss } = cooperPairLoss([2.0], [0.5], [true]);
    expect(loss).toBeCloseTo(0.2014, 4);
    expect(sigmoid(2.0)).toBeCloseTo(0.881, 3);
    expect(sigmoid(0.5)).toBeCloseTo(0.622, 3);
  });

  it('a masked pair contributes zero gradient, and the others average over the valid pairs only (fast-check)', () => {
    const score = fc.double({ min: -6, max: 6, noNaN: true });
    fc.assert(
      fc.property(fc.array(fc.tuple(score, score, fc.boolean()), { minLength: 1, maxLength: 8 }), (rows) => {
        const positive = rows.map((r) => r[0]);
        const negative = rows.map((r) => r[1]);
        const valid = rows.map((r) => r[2]);
        const { loss, gradPositive, gradNegative } = cooperPairLoss(positive, negative, valid);
        const count = valid.filter(Boolean).length;
        rows.forEach((_, i) => {
          if (!valid[i]) {
            expect(gradPositive[i]).toBe(0);
            expect(gradNegative[i]).toBe(0);
          }
        });
        // Changing a masked pair's scores leaves the loss as it is.
        const moved = cooperPairLoss(
          positive.map((s, i) => (valid[i] ? s : s + 3)),
          negative.map((s, i) => (valid[i] ? s : s - 3)),
          valid,
        );
        expect(moved.loss).toBeCloseTo(loss, 12);
        const onlyValid = cooperPairLoss(
          positive.filter((_, i) => valid[i]),
          negative.filter((_, i) => valid[i]),
          valid.filter(Boolean),
        );
        expect(loss).toBeCloseTo(count ? onlyValid.loss : 0, 12);
      }),
    );
  });

  it('its gradient matches finite differences', () => {
    const positive = [2.0, -0.3, 1.1];
    const negative = [0.5, 0.4, 1.3];
    const valid = [true, false, true];
    const { gradPositive, gradNegative } = cooperPairLoss(positive, negative, valid);
    const h = 1e-6;
    for (let i = 0; i < positive.length; i++) {
      const bump = (side: number[], delta: number) => side.map((s, k) => (k === i ? s + delta : s));
      const dPositive =
        (cooperPairLoss(bump(positive, h), negative, valid).loss - cooperPairLoss(bump(positive, -h), negative, valid).loss) /
        (2 * h);
      const dNegative =
        (cooperPairLoss(positive, bump(negative, h), valid).loss - cooperPairLoss(positive, bump(negative, -h), valid).loss) /
        (2 * h);
      expect(gradPositive[i]).toBeCloseTo(dPositive, 6);
      expect(gradNegative[i]).toBeCloseTo(dNegative, 6);
    }
  });
});

describe('cooper pairs', () => {
  it('one pair per prompt with a positive: the first correct rollout against a corruption the verifier rejects; other prompts are masked', () => {
    const groups = [
      [rolloutOf(0, 0, '3-5', false), rolloutOf(0, 1, '5+3', true), rolloutOf(0, 2, '3+5', true)],
      [rolloutOf(1, 0, '3*5', false), rolloutOf(1, 1, '3/5', false)],
    ];
    const { pairs, masked } = cooperPairs(groups, rules, Rng.seeded(1));
    expect(masked).toBe(1);
    expect(pairs).toHaveLength(1);
    expect(pairs[0]?.chosen).toBe('5+3');
    expect(pairs[0]?.context).toBe('use 3 5 make 8 3+5');
    expect(rules.isCorrect(groups[0]?.[0] as Rollout, pairs[0]?.rejected as string)).toBe(false);
  });

  it('a corruption that the verifier still accepts is never a negative: the pair is masked', () => {
    const alwaysRight = negativeOf('3+5', corruptEquation, () => true, Rng.seeded(2));
    expect(alwaysRight).toBeUndefined();
    const { pairs, masked } = cooperPairs([[rolloutOf(0, 0, '3+5', true)]], { ...rules, isCorrect: () => true }, Rng.seeded(2));
    expect(pairs).toHaveLength(0);
    expect(masked).toBe(1);
  });

  it('the text reads the question and the reference as the context, the response as the text', () => {
    expect(cooperText(rolloutOf(0, 0, '5+3', true), '3+5')).toEqual({ context: 'use 3 5 make 8 3+5', text: '5+3' });
  });
});

describe('cooper estimator', () => {
  it('rewards sigma(s) alone (the rule verdict does not enter) and normalises it per group as GRPO does', async () => {
    const scores = [2.0, -0.5, -1.0];
    const group = scores.map((s, i) => rolloutOf(0, i, '3+5', i === 2, s));
    const result = await cooperEstimator().compute([group], { rng: Rng.seeded(1), weights: {}, scalar: () => 0 });
    const rewards = scores.map(sigmoid);
    const mean = rewards.reduce((a, b) => a + b, 0) / 3;
    const std = Math.sqrt(rewards.reduce((a, r) => a + (r - mean) ** 2, 0) / 2);
    (result.rollout[0] as number[]).forEach((a, i) => expect(a).toBeCloseTo(((rewards[i] as number) - mean) / (std + 1e-6), 9));
    // The only correct rollout has the lowest reward: the failed ones scoring >= 0.5 are the hack rate's (1 of 2).
    expect(result.diagnostics?.hackRate).toBeCloseTo(1 / 2, 12);
  });

  it('refuses rollouts without the reward model score, naming the reward model', () => {
    const bare: Rollout = { ...rolloutOf(0, 0, '3+5', true), reward: {} };
    expect(() => cooperEstimator().compute([[bare]], { rng: Rng.seeded(1), weights: {}, scalar: () => 0 })).toThrow(
      /--set rewardModels=cooper-coevolving-rm/,
    );
  });
});

describe('cooper corruption rules', () => {
  it('countdown: one operand or one operator changes, the rest of the equation stays', () => {
    for (let seed = 0; seed < 50; seed++) {
      const out = corruptEquation('(12+34)*2', Rng.seeded(seed)) as string;
      expect(out).not.toBe('(12+34)*2');
      const pieces = (text: string) => text.match(/[0-9]+|[+\-*/]|[()]/g) as string[];
      const changed = pieces(out).filter((p, i) => p !== pieces('(12+34)*2')[i]);
      expect(pieces(out)).toHaveLength(pieces('(12+34)*2').length);
      expect(changed).toHaveLength(1);
    }
  });

  it('arithmetic: the final answer changes to another non-negative number, the worked steps stay', () => {
    for (let seed = 0; seed < 50; seed++) {
      const out = corruptFinalNumber('3+4=7 #### 7', Rng.seeded(seed)) as string;
      const final = Number(/#### ([0-9]+)$/.exec(out)?.[1]);
      expect(out.startsWith('3+4=7 #### ')).toBe(true);
      expect(final).not.toBe(7);
      expect(final).toBeGreaterThanOrEqual(0);
    }
  });
});
