import { Rng, type Rollout, type ShapeContext } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CorrectionEnsemble } from '../models/correction-ensemble.js';
import { multifidelityReward } from './multifidelity-reward.js';

const item = (id: string, text: string, partial: number, passed: number): Rollout => ({
  id: `${id}/0`,
  groupId: id,
  taskId: id,
  turns: [
    {
      observation: 'task',
      action: text,
      promptTokens: [1],
      actionTokens: [4],
      logprobs: [],
      reward: { partial, passed },
      valid: true,
      truncated: false,
    },
  ],
  reward: { partial, passed },
  success: passed === 1,
});
const ctx = (step: number, over: Partial<ShapeContext> = {}): ShapeContext => ({
  rng: Rng.seeded(7).split(`step${step}`),
  step,
  weights: { fidelity: 1 },
  components: ['partial', 'passed'],
  maxNewTokens: 8,
  ...over,
});

/**
 * Half the batch in a region where exact = cheap + 0.2 always ("alpha"), half where exact - cheap is
 * noise ("beta"): the ensemble's members, each on its own bootstrap, keep disagreeing on beta.
 */
function plantedBatch(step: number): Rollout[] {
  const rng = Rng.seeded(11).split(`batch${step}`);
  return Array.from({ length: 40 }, (_, k) => {
    const cheap = Math.round(rng.next() * 10) / 10;
    const beta = k % 2 === 1;
    const exact = beta ? cheap + (rng.next() < 0.5 ? -0.8 : 0.8) : cheap + 0.2;
    return item(`s${step}g${k}`, `${beta ? 'beta zone' : 'alpha zone'} item ${k % 7}`, cheap, exact);
  });
}

describe('multifidelity-reward', () => {
  it('gives the exact reward to the planted uncertain region more often (one-sided binomial test)', () => {
    const shaper = multifidelityReward({ fraction: 0.25, warmup: 20 });
    let betaExact = 0;
    let alphaExact = 0;
    for (let step = 0; step < 12; step++) {
      const shaped = shaper.shape(plantedBatch(step), ctx(step));
      if (step < 2) continue; // the warm-up's uniform choice
      shaped.forEach((r, k) => {
        if (r.meta?.fidelity !== 'exact') return;
        if (k % 2 === 1) betaExact++;
        else alphaExact++;
      });
    }
    const n = betaExact + alphaExact;
    expect(n).toBe(10 * 10);
    // Under no preference each exact call falls in beta with probability 1/2: P(X >= 70 | n = 100) = 3.9e-5.
    expect(betaExact).toBeGreaterThanOrEqual(70);
  });

  it('fuses: the chosen share gets the exact value, the others cheap + the learned correction; both costs charged (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ cheap: fc.double({ min: 0, max: 1, noNaN: true }), exact: fc.constantFrom(0, 1) }), {
          minLength: 1,
          maxLength: 30,
        }),
        fc.double({ min: 0.05, max: 1, noNaN: true }),
        (specs, fraction) => {
          const charged = { envSteps: 0 };
          const rollouts = specs.map((s, k) => item(`g${k}`, `text ${k}`, s.cheap, s.exact));
          const charge = (c: { envSteps?: number }) => {
            charged.envSteps += c.envSteps ?? 0;
          };
          const shaped = multifidelityReward({
            fraction,
            warmup: 0,
            members: 3,
            epochs: 1,
            exactEnvSteps: 5,
            cheapEnvSteps: 1,
          }).shape(rollouts, ctx(0, { charge }));
          const exact = shaped.filter((r) => r.meta?.fidelity === 'exact');
          expect(exact.length).toBe(Math.ceil(fraction * specs.length));
          expect(charged.envSteps).toBe(5 * exact.length + specs.length);
          shaped.forEach((r, k) => {
            expect(r.reward.partial).toBe(0);
            expect(r.reward.passed).toBe(0);
            if (r.meta?.fidelity === 'exact') expect(r.reward.fidelity).toBe(specs[k]?.exact);
            else expect(Number.isFinite(r.reward.fidelity)).toBe(true);
          });
        },
      ),
      { numRuns: 30 },
    );
  });

  it('the correction learns a constant gap on held-out items of its region', () => {
    const model = new CorrectionEnsemble({ members: 5, features: 256, hidden: 16, learningRate: 0.01, seed: 't' });
    const rng = Rng.seeded(3);
    const items = Array.from({ length: 200 }, (_, k) => {
      const cheap = rng.next();
      return { text: `alpha zone item ${k}`, cheap, exact: cheap + 0.3 };
    });
    model.train(items, { epochs: 20, batch: 32, rng: Rng.seeded(4) });
    for (const cheap of [0.1, 0.5, 0.9]) expect(model.predict('alpha zone item 9999', cheap).correction).toBeCloseTo(0.3, 1);
  });
});
