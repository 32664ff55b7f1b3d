import {
  type EstimatorContext,
  type ModelServices,
  type RewardExamples,
  type RewardModelHandle,
  Rng,
  type Rollout,
} from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { reasonfluxBlend } from './reasonflux-blend.js';
import { alignmentScores, blendReward, coherenceScores, fuseStep, thinkingTrace, trajectoryScore } from './reasonflux-prm.js';
import { turnOf as turn } from './test-support.js';

const rolloutOf = (group: string, index: number, actions: readonly string[], reward: number): Rollout => ({
  id: `${group}/${index}`,
  groupId: group,
  taskId: group,
  turns: actions.map((a, h) => turn(h === 0 ? `task ${group}` : `after ${actions[h - 1]}`, a)),
  reward: { correct: reward },
  success: reward > 0,
});
const context = (services?: ModelServices, rewardModels?: Record<string, RewardModelHandle>): EstimatorContext => ({
  rng: Rng.seeded(3),
  weights: { correct: 1 },
  scalar: (r) => r.correct ?? 0,
  ...(services ? { services } : {}),
  ...(rewardModels ? { rewardModels } : {}),
});
/** Sample-std z-scores, as GRPO computes them (eps 1e-4). */
const zScores = (values: number[]) => {
  const m = values.reduce((a, b) => a + b, 0) / values.length;
  const s = Math.sqrt(values.reduce((a, v) => a + (v - m) ** 2, 0) / (values.length - 1));
  return values.map((v) => (s === 0 ? 0 : (v - m) / (s + 1e-4)));
};
const words = fc.array(fc.constantFrom('go', 'left', 'up', 'cat', 'noir', '7', '14', 'chat', 'door', 'key'), {
  minLength: 1,
  maxLength: 5,
});
const text = words.map((w) => w.join(' '));

/** A judge double: a fixed logit for every step; records the order of scoring and training. */
function fixedJudge(logit: number) {
  const log: string[] = [];
  const trained: RewardExamples[] = [];
  const handle: RewardModelHandle = {
    name: 'reasonflux-prm',
    async score(texts) {
      log.push(`score ${texts.length}`);
      return texts.map(() => logit);
    },
    async train(examples) {
      log.push(`train ${examples.points?.length ?? 0}`);
      trained.push(examples);
      return { loss: 0.3, examples: examples.points?.length ?? 0 };
    },
  };
  return { handle, log, trained };
}

/** Services whose template episodes succeed at the given rate; counts what they were asked. */
function templateServices(rate: number) {
  const calls: { rollout: string; turns: number; count: number }[] = [];
  const services: ModelServices = {
    score: async () => {
      throw new Error('not used');
    },
    rollouts: async ({ groupId, count }) => {
      calls.push({ rollout: groupId, turns: 0, count });
      return Array.from({ length: count }, (_, i) => rolloutOf(groupId, i, ['a'], i < Math.floor(rate * count) ? 1 : 0));
    },
    prefixRollouts: async ({ rollout, turns, count }) => {
      calls.push({ rollout: rollout.id, turns, count });
      return Array.from({ length: count }, (_, i) => rolloutOf(rollout.groupId, i, ['a'], i < Math.floor(rate * count) ? 1 : 0));
    },
  };
  return { services, calls };
}

describe('reasonflux-prm: the reward blend', () => {
  it('worked example: 0.75 x 0.62 + 0.25 x 1 = 0.715', () => {
    expect(blendReward(0.62, 1, 0.75)).toBeCloseTo(0.715, 12);
  });

  it('beta = 0 recovers the rule reward exactly; any beta in [0, 1] lies between the PRM and the rule', () => {
    fc.assert(
      fc.property(
        fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }),
        fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (prm, rule, beta) => {
          expect(blendReward(prm, rule, 0)).toBe(rule);
          const r = blendReward(prm, rule, beta);
          expect(r).toBeGreaterThanOrEqual(Math.min(prm, rule) - 1e-9 * (1 + Math.abs(prm) + Math.abs(rule)));
          expect(r).toBeLessThanOrEqual(Math.max(prm, rule) + 1e-9 * (1 + Math.abs(prm) + Math.abs(rule)));
        },
      ),
    );
  });

  it("with beta = 0 the estimator's advantages are GRPO's on the rule reward, and it asks no model for anything", async () => {
    const estimator = reasonfluxBlend({ beta: 0 });
    expect(estimator.needsModel).toBe(false);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 2, maxLength: 5 }), { minLength: 1, maxLength: 3 }),
        async (rewards) => {
          const groups = rewards.map((g, k) => g.map((r, i) => rolloutOf(`g${k}`, i, ['x', 'y'], r)));
          const throwing: ModelServices = {
            score: () => Promise.reject(new Error('scored')),
            rollouts: () => Promise.reject(new Error('rolled out')),
            prefixRollouts: () => Promise.reject(new Error('restarted')),
          };
          const out = await estimator.compute(groups, context(throwing, {}));
          expect(out.rollout).toEqual(rewards.map(zScores));
        },
      ),
      { numRuns: 50 },
    );
  });
});

describe('reasonflux-prm: the step scores', () => {
  it('alignment: a step identical to the answer scores 1, the most any step can', () => {
    fc.assert(
      fc.property(fc.array(text, { maxLength: 4 }), text, fc.nat(4), (others, answer, at) => {
        const steps = [...others];
        steps.splice(Math.min(at, steps.length), 0, answer);
        const scores = alignmentScores(steps, answer, 256);
        expect(scores[Math.min(at, others.length)]).toBeCloseTo(1, 12);
        for (const s of scores) expect(s).toBeLessThanOrEqual(1 + 1e-12);
      }),
    );
  });

  it('coherence: a step that repeats the previous one scores at least as high as any other step there', () => {
    fc.assert(
      fc.property(text, text, text, fc.array(text, { maxLength: 4 }), (question, first, other, negatives) => {
        const o = { features: 256, temperature: 0.2 };
        const repeated = coherenceScores(question, [first, first], negatives, o)[1] as number;
        const different = coherenceScores(question, [first, other], negatives, o)[1] as number;
        expect(repeated).toBeGreaterThanOrEqual(different - 1e-12);
        expect(repeated).toBeGreaterThan(0);
        expect(repeated).toBeLessThan(1);
      }),
    );
  });

  it('fusion: a soft maximum, between the smallest and the largest score, equal to them when they agree, increasing in each', () => {
    const unit = fc.double({ min: 0, max: 1, noNaN: true });
    fc.assert(
      fc.property(unit, unit, unit, unit, (a, q, c, bump) => {
        const r = fuseStep(a, q, c);
        expect(r).toBeGreaterThanOrEqual(Math.min(a, q, c) - 1e-12);
        expect(r).toBeLessThanOrEqual(Math.max(a, q, c) + 1e-12);
        expect(r).toBeGreaterThanOrEqual((a + q + c) / 3 - 1e-12);
        expect(fuseStep(a, a, a)).toBeCloseTo(a, 12);
        expect(fuseStep(Math.min(1, a + bump), q, c)).toBeGreaterThanOrEqual(r - 1e-12);
      }),
    );
  });

  it('a trajectory without thinking steps is scored by its template success alone', () => {
    expect(trajectoryScore([], 0.25, 0.5)).toBe(0.25);
    expect(trajectoryScore([0.2, 0.4], 1, 0.5)).toBeCloseTo(0.65, 12);
    expect(thinkingTrace(rolloutOf('g', 0, ['s1', 's2', 'ans'], 1))).toEqual({
      question: 'task g',
      steps: ['s1', 's2'],
      answer: 'ans',
    });
  });

  it('held-out chains: an expert chain whose steps reach the answer outscores a corrupted one (a wrong intermediate result) with the same answer', () => {
    let right = 0;
    let cases = 0;
    for (let a = 1; a <= 9; a++)
      for (let b = 1; b <= 9; b++)
        for (let c = 2; c <= 4; c++) {
          const r1 = a + b;
          const wrong = r1 + 1;
          const answer = String(r1 * c);
          const expert = [`${a}+${b}=${r1}`, `${r1}*${c}=${r1 * c}`];
          const corrupted = [`${a}+${b}=${wrong}`, `${wrong}*${c}=${wrong * c}`];
          const question = `has ${a} gets ${b} more grows ${c} times`;
          const score = (steps: string[]) => {
            const alignment = alignmentScores(steps, answer, 256);
            const coherence = coherenceScores(question, steps, [], { features: 256, temperature: 0.2 });
            return trajectoryScore(
              steps.map((_, t) => fuseStep(alignment[t] as number, 0.5, coherence[t] as number)),
              0,
              0,
            );
          };
          cases++;
          if (score(expert) > score(corrupted)) right++;
        }
    expect(cases).toBe(243);
    expect(right / cases).toBeGreaterThanOrEqual(0.95);
  });
});

describe('reasonflux-prm: the estimator', () => {
  it('follows every trajectory after its thinking turns (charged episodes), scores steps before training the judge on them', async () => {
    const judge = fixedJudge(0);
    const { services, calls } = templateServices(0.5);
    const groups = [
      [rolloutOf('g0', 0, ['s1', 's2', 'ans'], 1), rolloutOf('g0', 1, ['s1', 'ans'], 0)],
      [rolloutOf('g1', 0, ['ans'], 0), rolloutOf('g1', 1, ['t1', 'ans'], 1)],
    ];
    const out = await reasonfluxBlend({ templateRollouts: 2 }).compute(
      groups,
      context(services, { 'reasonflux-prm': judge.handle }),
    );
    expect(calls).toEqual([
      { rollout: 'g0/0', turns: 2, count: 2 },
      { rollout: 'g0/1', turns: 1, count: 2 },
      { rollout: 'g1', turns: 0, count: 2 },
      { rollout: 'g1/1', turns: 1, count: 2 },
    ]);
    expect(out.diagnostics?.templateEpisodes).toBe(8);
    expect(out.diagnostics?.templateSuccess).toBe(0.5);
    // 4 thinking steps scored, then all 8 turns trained on, labelled by their episode's success.
    expect(judge.log).toEqual(['score 4', 'train 8']);
    expect(judge.trained[0]?.points?.map((p) => p.target)).toEqual([1, 1, 1, 0, 0, 0, 1, 1]);
  });

  it('hack rate: the share of rollouts whose PRM is high while their answer is wrong', async () => {
    const groups = [
      [
        rolloutOf('g0', 0, ['go up', 'go up'], 0),
        rolloutOf('g0', 1, ['go up', 'go up'], 0),
        rolloutOf('g0', 2, ['go up', 'go up'], 1),
      ],
    ];
    const high = await reasonfluxBlend().compute(
      groups,
      context(templateServices(1).services, { 'reasonflux-prm': fixedJudge(50).handle }),
    );
    expect(high.diagnostics?.hackRate).toBeCloseTo(2 / 3, 12);
    expect(high.diagnostics?.hackRateOfFailed).toBe(1);
    const low = await reasonfluxBlend().compute(
      [[rolloutOf('g0', 0, ['left', 'key'], 0), rolloutOf('g0', 1, ['door', 'cat'], 1)]],
      context(templateServices(0).services, { 'reasonflux-prm': fixedJudge(-50).handle }),
    );
    expect(low.diagnostics?.hackRate).toBe(0);
  });

  it('equal rule rewards: the rollout with the higher PRM gets the higher advantage', async () => {
    // Rollout 0's step repeats its answer (alignment 1); rollout 1's shares no word with its answer.
    const groups = [[rolloutOf('g0', 0, ['door key', 'door key'], 1), rolloutOf('g0', 1, ['left', 'door key'], 1)]];
    const out = await reasonfluxBlend({ templateRollouts: 0 }).compute(
      groups,
      context(templateServices(0).services, { 'reasonflux-prm': fixedJudge(0).handle }),
    );
    const [a0, a1] = out.rollout[0] as number[];
    expect(a0).toBeGreaterThan(a1 as number);
  });

  it('refuses a run without its judge, naming the reward model to add', async () => {
    await expect(
      reasonfluxBlend().compute([[rolloutOf('g0', 0, ['a', 'b'], 1)]], context(templateServices(1).services, {})),
    ).rejects.toThrow(/no reward model 'reasonflux-prm'.*--set rewardModels=reasonflux-prm/);
    expect(() => reasonfluxBlend({ beta: 1.5 })).toThrow(/'beta' must be in \[0, 1\], got 1.5/);
  });
});
