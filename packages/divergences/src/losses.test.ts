import type { Aggregation, LossBatch } from '@policy-lab/core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { forwardKl } from './divergences.js';
import { gopdLoss, gopdReward, opd, rapo, sft } from './losses.js';
import { gradientCheck, scalar, tf, useCpu, values } from './test-support/index.js';

beforeAll(useCpu);

const LOGP = [
  [-0.5, -1.5, -0.2],
  [-2.0, -0.1, -3.0],
];
const OLD = [
  [-0.6, -1.4, -0.3],
  [-1.9, -0.2, -2.8],
];
const REF = [
  [-0.9, -1.0, -0.4],
  [-1.5, -0.7, -2.0],
];
const ADVANTAGES = [
  [1.2, 1.2, 1.2],
  [-0.8, -0.8, -0.8],
];
const MASK = [
  [1, 1, 1],
  [1, 1, 0],
];

function batch(overrides: Partial<LossBatch<tf.Tensor>> = {}, aggregation: Aggregation = 'token-mean'): LossBatch<tf.Tensor> {
  return {
    logprobs: tf.tensor2d(LOGP),
    oldLogprobs: tf.tensor2d(OLD),
    refLogprobs: tf.tensor2d(REF),
    advantages: tf.tensor2d(ADVANTAGES),
    mask: tf.tensor2d(MASK),
    weights: tf.tensor1d([1, 1]),
    aggregation,
    normLength: 3,
    ...overrides,
  };
}

describe('sft', () => {
  it('is the masked mean negative log-likelihood, weighted per rollout', () => {
    // token-mean over 5 trained tokens: (0.5 + 1.5 + 0.2 + 2.0 + 0.1) / 5 = 0.86
    expect(scalar(sft().loss(batch(), tf).loss)).toBeCloseTo(0.86, 5);
    // A weight-0 row (MC-GRPO's pivot) leaves every denominator, as in ppo-clip: (0.5 + 1.5 + 0.2) / 3.
    // (Before the one shared aggregation this package kept its tokens: 0.44.)
    expect(scalar(sft().loss(batch({ weights: tf.tensor1d([1, 0]) }), tf).loss)).toBeCloseTo(2.2 / 3, 5);
    // seq-mean-token-sum: one row left, so 2.2 / 1, not 2.2 / 2.
    const pivot = { weights: tf.tensor1d([1, 0]) };
    expect(scalar(sft().loss(batch(pivot, 'seq-mean-token-sum'), tf).loss)).toBeCloseTo(2.2, 5);
    expect(scalar(sft().loss(batch({}, 'seq-mean-token-mean'), tf).loss)).toBeCloseTo((2.2 / 3 + 2.1 / 2) / 2, 5);
  });

  it('gradient is -mask / tokens', () => {
    const { analytic } = gradientCheck((logprobs) => sft().loss(batch({ logprobs }), tf).loss, LOGP);
    expect(analytic).toEqual(MASK.flat().map((m) => expect.closeTo(-m / 5, 6)));
  });

  it('validates lrScale', () => {
    expect(sft({ lrScale: 0.5 }).resolved).toEqual({ lrScale: 0.5 });
    expect(() => sft({ lrScale: -1 })).toThrow(/lrScale.*-1/);
    expect(() => sft({ learningRate: 1 } as never)).toThrow(/unknown option 'learningRate'; accepted: lrScale/);
  });
});

describe('on-policy distillation', () => {
  it('opd: value -rho (teacher - policy), gradient matches finite differences', () => {
    const loss = opd().loss(batch(), tf);
    let expected = 0;
    for (let r = 0; r < 2; r++)
      for (let t = 0; t < 3; t++) {
        const [lp, old, teacher, m] = [LOGP[r]?.[t], OLD[r]?.[t], REF[r]?.[t], MASK[r]?.[t]] as number[];
        expected += (m as number) * -Math.exp((lp as number) - (old as number)) * ((teacher as number) - (lp as number));
      }
    expect(scalar(loss.loss)).toBeCloseTo(expected / 5, 5);
    const { analytic, numeric } = gradientCheck((logprobs) => opd().loss(batch({ logprobs }), tf).loss, LOGP);
    // The reward is held constant, so the gradient is -rho r / N, not the finite difference of the value.
    const held = LOGP.flat().map(
      (lp, i) => (-(MASK.flat()[i] as number) * Math.exp(lp - (OLD.flat()[i] as number)) * ((REF.flat()[i] as number) - lp)) / 5,
    );
    analytic.forEach((value, i) => {
      expect(value).toBeCloseTo(held[i] as number, 4);
    });
    expect(numeric).not.toEqual(analytic);
  });

  it('opd on-policy: the exact expected gradient is grad KL(pi_theta || teacher)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: 4, maxLength: 4 }),
        fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: 4, maxLength: 4 }),
        (logits, teacherLogits) => {
          const teacher = tf.logSoftmax(tf.tensor1d(teacherLogits));
          // One row per vocabulary entry, weighted by its (fixed) probability: an exact expectation.
          const probabilities = Array.from(tf.softmax(tf.tensor1d(logits)).dataSync());
          const expected = values(
            tf.grad((input: tf.Tensor) => {
              const logPolicy = tf.logSoftmax(input);
              const logs = tf.reshape(logPolicy, [4, 1]);
              const result = opd().loss(
                {
                  logprobs: logs,
                  oldLogprobs: tf.reshape(tf.tensor1d(Array.from(logPolicy.dataSync())), [4, 1]),
                  refLogprobs: tf.reshape(teacher, [4, 1]),
                  advantages: tf.zeros([4, 1]),
                  mask: tf.ones([4, 1]),
                  weights: tf.tensor1d(probabilities),
                  aggregation: 'seq-mean-token-sum',
                  normLength: 1,
                },
                tf,
              );
              return tf.mul(result.loss, 4);
            })(tf.tensor1d(logits)),
          );
          const exact = values(
            tf.grad((input: tf.Tensor) => tf.sum(tf.mul(tf.softmax(input), tf.sub(tf.logSoftmax(input), teacher))))(
              tf.tensor1d(logits),
            ),
          );
          expected.forEach((value, i) => {
            expect(value).toBeCloseTo(exact[i] as number, 4);
          });
        },
      ),
      { numRuns: 25 },
    );
  });

  it("G-OPD: lambda = 1 cancels the reference; otherwise a new reference shifts r by -(lambda - 1)(ref' - ref)", () => {
    const token = fc.double({ min: -8, max: 0, noNaN: true });
    fc.assert(
      fc.property(
        token,
        token,
        token,
        token,
        fc.double({ min: 0, max: 3, noNaN: true }),
        (policy, teacher, reference, otherReference, lambda) => {
          const reward = (ref: number, l: number) =>
            scalar(
              gopdReward({ policy: tf.scalar(policy), teacher: tf.scalar(teacher), reference: tf.scalar(ref), lambda: l }, tf),
            );
          expect(reward(reference, 1)).toBeCloseTo(teacher - policy, 4);
          expect(reward(otherReference, 1)).toBeCloseTo(reward(reference, 1), 4);
          expect(reward(otherReference, lambda) - reward(reference, lambda)).toBeCloseTo(
            -(lambda - 1) * (otherReference - reference),
            3,
          );
        },
      ),
      { numRuns: 50 },
    );
  });

  it('gopdLoss with lambda = 1 equals the opd loss', () => {
    const viaGopd = gopdLoss(
      {
        policy: tf.tensor2d(LOGP),
        oldPolicy: tf.tensor2d(OLD),
        teacher: tf.tensor2d(REF),
        reference: tf.zeros([2, 3]),
        mask: tf.tensor2d(MASK),
        lambda: 1,
      },
      tf,
    );
    expect(scalar(viaGopd)).toBeCloseTo(scalar(opd().loss(batch(), tf).loss), 5);
  });

  it('needs refLogprobs and says how to get them', () => {
    expect(() => opd().loss(batch({ refLogprobs: undefined }), tf)).toThrow(/opd needs refLogprobs.*divergence/);
  });
});

describe('rapo', () => {
  it('alpha = 0 is the PPO clipped surrogate (hand computation)', () => {
    let expected = 0;
    LOGP.flat().forEach((lp, i) => {
      const ratio = Math.exp(lp - (OLD.flat()[i] as number));
      const advantage = ADVANTAGES.flat()[i] as number;
      const clipped = Math.min(1.2, Math.max(0.8, ratio));
      expected += (MASK.flat()[i] as number) * -Math.min(ratio * advantage, clipped * advantage);
    });
    expect(scalar(rapo({ alpha: 0 }).loss(batch(), tf).loss)).toBeCloseTo(expected / 5, 5);
  });

  it('high rewards keep the reference: phi -> 1 gives the forward-kl penalty against pi_ref', () => {
    const big = batch({ advantages: tf.fill([2, 3], 60) });
    const surrogateOnly = scalar(rapo({ alpha: 0 }).loss(big, tf).loss);
    const withKl = scalar(rapo({ alpha: 1 }).loss(big, tf).loss);
    const penalty = forwardKl().penalty(tf.tensor2d(LOGP), tf.tensor2d(REF), tf);
    const expectedKl = scalar(tf.div(tf.sum(tf.mul(penalty, tf.tensor2d(MASK))), 5));
    expect(withKl - surrogateOnly).toBeCloseTo(expectedKl, 4);
  });

  it('the forward-KL term is never negative and its gradient matches finite differences', () => {
    const metrics = rapo().loss(batch(), tf).metrics as Record<string, tf.Tensor>;
    expect(scalar(metrics.forwardKl as tf.Tensor)).toBeGreaterThanOrEqual(0);
    // Advantages of 0 keep the ratio away from the clip edges, where the surrogate has kinks.
    const smooth = (logprobs: tf.Tensor) =>
      rapo({ alpha: 0.5, entropyCoef: 0.1 }).loss(
        batch({
          logprobs,
          advantages: tf.tensor2d([
            [0.3, -0.2, 0.1],
            [0, 0.5, -1],
          ]),
          entropy: tf.fill([2, 3], 0.5),
        }),
        tf,
      ).loss;
    const { analytic, numeric } = gradientCheck(smooth, LOGP, 5e-3);
    analytic.forEach((value, i) => {
      expect(value).toBeCloseTo(numeric[i] as number, 2);
    });
  });

  it('validates options and inputs', () => {
    expect(() => rapo({ clip: 2 })).toThrow(/clip.*2/);
    expect(() => rapo({ phiTemperature: 0 })).toThrow(/phiTemperature/);
    expect(() => rapo({ entropyCoef: 0.1 }).loss(batch(), tf)).toThrow(/entropy/);
    expect(() => rapo().loss(batch({ refLogprobs: undefined }), tf)).toThrow(/refLogprobs/);
  });
});

describe('dpo (a preference objective on pairs)', () => {
  it('gives log 2 at zero margin, falls as the margin grows, and has the DPO gradient', async () => {
    const tf = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-backend-cpu');
    await tf.setBackend('cpu');
    const { dpo } = await import('./pairwise.js');
    const loss = dpo({ beta: 0.5 });
    const batch = (chosen: number[]) => ({
      chosenLogps: tf.tensor1d(chosen),
      rejectedLogps: tf.tensor1d([-2, -2]),
      refChosenLogps: tf.tensor1d([-2, -2]),
      refRejectedLogps: tf.tensor1d([-2, -2]),
      chosenLengths: tf.tensor1d([1, 1]),
      rejectedLengths: tf.tensor1d([1, 1]),
    });
    const pairwise = loss.loss.bind(loss);
    const at = async (chosen: number[]) =>
      (await (pairwise(batch(chosen), tf).loss as { data(): Promise<Float32Array> }).data())[0] as number;
    expect(await at([-2, -2])).toBeCloseTo(Math.log(2), 6);
    // margin beta * 1 = 0.5 on both pairs: softplus(-0.5)
    expect(await at([-1, -1])).toBeCloseTo(Math.log1p(Math.exp(-0.5)), 6);
    expect(await at([0, 0])).toBeLessThan(await at([-1, -1]));
    // d/d(chosen) of mean softplus(-beta m) = -beta sigmoid(-beta m) / pairs
    const grad = tf.grad(
      (c: import('@tensorflow/tfjs-core').Tensor) => loss.loss({ ...batch([-2, -2]), chosenLogps: c }, tf).loss as never,
    );
    const g = await grad(tf.tensor1d([-2, -2])).data();
    expect(g[0]).toBeCloseTo((-0.5 * 0.5) / 2, 6);
    expect(loss.kind).toBe('pairs');
    expect(() => dpo({ beta: 0 })).toThrow(/beta' must be > 0, got 0/);
  });
});
