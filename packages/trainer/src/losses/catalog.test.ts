import type { Aggregation, LossBatch, RowLoss } from '@policy-lab/core';
import { Rng } from '@policy-lab/core';
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/select-backend.js';
import {
  bypass,
  catalogLosses,
  cispoTrl,
  cispoVerl,
  clipCov,
  clipCovKeep,
  dppoTv,
  dro,
  gmpo,
  klCov,
  luspo,
  sapo,
  trlClip,
  vespo,
  vespoWeight,
} from './catalog.js';
import { ppoClip } from './ppo-clip.js';

beforeAll(async () => {
  await initBackend({ name: 'cpu' });
});

type Loss = RowLoss<typeof tf, tf.Tensor>;

/** One row per token value: logprobs, old logprobs and advantages as [rows, T]. */
function batch(
  lp: number[][],
  old: number[][],
  adv: number[][],
  aggregation: Aggregation = 'token-mean',
  mask?: number[][],
): LossBatch<tf.Tensor> {
  return {
    logprobs: tf.tensor2d(lp),
    oldLogprobs: tf.tensor2d(old),
    advantages: tf.tensor2d(adv),
    mask: tf.tensor2d(mask ?? lp.map((r) => r.map(() => 1))),
    weights: tf.ones([lp.length]),
    aggregation,
    normLength: 4,
    rng: Rng.seeded(7),
  };
}
const value = async (loss: Loss, b: LossBatch<tf.Tensor>) => (await loss.loss(b, tf).loss.data())[0] as number;
/** A single token with ratio rho and advantage A (log pi = lp). */
const single = (rho: number, a: number, lp = -1.2) => batch([[lp]], [[lp - Math.log(rho)]], [[a]]);

describe('hand-worked examples of the verl and TRL formulas', () => {
  it('TRL clip and its two-sided delta (B.2)', async () => {
    expect(await value(trlClip(), single(4, -1))).toBeCloseTo(4, 5);
    expect(await value(trlClip({ delta: 1.5 }), single(4, -1))).toBeCloseTo(1.5, 5);
    expect(await value(trlClip({ delta: 1.5 }), single(1.3, -1))).toBeCloseTo(1.3, 5);
    expect(await value(trlClip(), single(4, 1))).toBeCloseTo(-1.2, 5);
  });

  it('SAPO (B.4)', async () => {
    expect(await value(sapo(), single(1.3, 1))).toBeCloseTo(-2.2978, 4);
    expect(await value(sapo(), single(1.3, -1))).toBeCloseTo(2.2023, 4);
    expect(await value(sapo(), single(0.7, -1))).toBeCloseTo(1.6072, 4);
  });

  it('CISPO, verl and TRL forms (B.5; log pi = -1.2)', async () => {
    expect(await value(cispoVerl(), single(1.5, 1))).toBeCloseTo(1.44, 4);
    expect(await value(cispoTrl({ cap: 0.2 }), single(1.5, 1))).toBeCloseTo(0.24, 4);
    expect(await value(cispoTrl({ cap: 5 }), single(1.5, 1))).toBeCloseTo(1.8, 4);
    expect(await value(cispoVerl(), single(0.5, -1))).toBeCloseTo(-0.96, 4);
    expect(await value(cispoTrl({ cap: 0.2 }), single(0.5, -1))).toBeCloseTo(-0.24, 4);
    expect(await value(cispoTrl({ cap: 5 }), single(0.5, -1))).toBeCloseTo(-0.6, 4);
  });

  it('GMPO (B.11)', async () => {
    const x = [0.3, -0.1, 0.05];
    expect(await value(gmpo(), batch([[0, 0, 0]], [x.map((v) => -v)], [[1, 1, 1]]))).toBeCloseTo(-1.0513, 4);
    const y = [-0.3, 0.1, 0.05];
    expect(await value(gmpo(), batch([[0, 0, 0]], [y.map((v) => -v)], [[-1, -1, -1]]))).toBeCloseTo(0.9835, 4);
  });

  it('DPPO-TV (B.13): p_old 0.5 -> 0.65 with A = +1 is trained, -> 0.75 is masked', async () => {
    const at = (p: number) => batch([[Math.log(p)]], [[Math.log(0.5)]], [[1]]);
    // l = -A sg(min(rho, 3)) log p = -1.3 log 0.65
    expect(await value(dppoTv(), at(0.65))).toBeCloseTo(-1.3 * Math.log(0.65), 4);
    expect(await value(dppoTv(), at(0.75))).toBe(0);
  });

  it('DRO (B.13): lp -1, lp_old -1.2, A 1, beta 0.5 -> 1.01', async () => {
    expect(await value(dro({ beta: 0.5 }), batch([[-1]], [[-1.2]], [[1]]))).toBeCloseTo(1.01, 5);
  });

  it('KL-Cov (B.10): the top-covariance token gets the |log rho| penalty', async () => {
    const a = [1, 1, -1, -1, 1, -1];
    const lp = [-0.1, -2, -0.5, -3, -0.2, -0.3];
    const rho = [1, 1.05, 0.98, 0.8, 1.1, 0.9];
    const b = batch([lp], [lp.map((v, i) => v - Math.log(rho[i] as number))], [a]);
    expect(await value(klCov({ ratio: 0.2, coef: 0.1 }), b)).toBeCloseTo(-0.0746, 4);
  });

  it('Clip-Cov (B.9): token 3 is the only candidate in (1, 5); zeroing it gives mean -0.2117', async () => {
    const A = [1, 1, -1, -1, 1, -1];
    const lp = [-0.1, -2, -0.5, -3, -0.2, -0.3];
    const rho = [1, 1.05, 0.98, 0.8, 1.1, 0.9];
    const b = {
      ...batch([lp], [lp.map((x, i) => x - Math.log(rho[i] as number))], [A]),
    };
    const loss = clipCov();
    expect(await value(loss, b)).toBeCloseTo(-0.2117, 4);
    const metrics = loss.loss(b, tf).metrics ?? {};
    const dropped = (await (metrics.clipCovDropped as tf.Tensor).data())[0];
    expect(dropped).toBeCloseTo(1 / 6, 6);
    const { rng: _rng, ...bare } = batch([lp], [lp], [A]);
    expect(() => loss.loss(bare, tf)).toThrow(/LossBatch\.rng/);
  });

  it('Clip-Cov picks n = max(1, floor(ratio N)) candidates, never a masked or clipped token (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.double({ min: -3, max: 6, noNaN: true }), fc.boolean(), fc.boolean()), {
          minLength: 1,
          maxLength: 40,
        }),
        fc.double({ min: 0.001, max: 0.5, noNaN: true }),
        fc.integer({ min: 0, max: 1000 }),
        (tokens, ratio, seed) => {
          const rng = Rng.seeded(seed);
          const o = { clipLow: 0.2, clipHigh: 0.2, ratio, lowerBound: 1, upperBound: 5 };
          const keep = clipCovKeep(
            tokens.map((t) => t[0]),
            tokens.map((t) => (t[1] ? 1 : 0)),
            tokens.map((t) => (t[2] ? 1 : 0)),
            o,
            (c, n) => rng.shuffle(c).slice(0, n),
          );
          const valid = tokens.filter((t) => t[1]).length;
          const candidates = tokens.filter((t) => t[1] && !t[2] && t[0] > 1 && t[0] < 5).length;
          const zeroed = Array.from(keep).filter((k) => k === 0).length;
          expect(zeroed).toBe(Math.min(candidates, Math.max(1, Math.floor(ratio * valid))));
          tokens.forEach((t, i) => {
            if (!t[1] || t[2] || !(t[0] > 1 && t[0] < 5)) expect(keep[i]).toBe(1);
          });
        },
      ),
    );
  });

  it('bypass (B.12): ppo-clip equals PPO clip; reinforce weighs -A log pi by truncated sequence or token ratios', async () => {
    const lp = [[-1, -0.5]];
    const old = [[-1.5, -0.5]];
    const adv = [[1, 1]];
    expect(await value(bypass(), batch(lp, old, adv))).toBeCloseTo(await value(ppoClip(), batch(lp, old, adv)), 6);
    // sequence: w = min(e^{0.5}, 2) = 1.6487 on both tokens; loss = mean(-1 x lp x w) = 0.75 x 1.6487
    expect(await value(bypass({ lossType: 'reinforce' }), batch(lp, old, adv))).toBeCloseTo(0.75 * Math.exp(0.5), 4);
    // token: w = [1.6487, 1]
    expect(await value(bypass({ lossType: 'reinforce', rolloutIs: 'token' }), batch(lp, old, adv))).toBeCloseTo(
      (Math.exp(0.5) + 0.5) / 2,
      4,
    );
    // the cap U: a log ratio of 2 gives min(e^2, 2) = 2
    expect(await value(bypass({ lossType: 'reinforce', rolloutIs: 'token' }), batch([[-1]], [[-3]], [[1]]))).toBeCloseTo(2, 5);
    // on-policy (w = 1) it is REINFORCE, and the weights carry no gradient
    const g = tf.grad((x: tf.Tensor) => bypass({ lossType: 'reinforce' }).loss({ ...batch(lp, lp, adv), logprobs: x }, tf).loss)(
      tf.tensor2d(lp),
    );
    expect(Array.from(await g.data())).toEqual([-0.5, -0.5]);
  });

  it('LUSPO (B.6): per-sequence losses weighted by length, mean over sequences', async () => {
    // two sequences on-policy (s = 1): per-token loss -A; lengths 2 and 4; A = -1.5 and -2
    const b = batch(
      [
        [-1, -1, 0, 0],
        [-1, -1, -1, -1],
      ],
      [
        [-1, -1, 0, 0],
        [-1, -1, -1, -1],
      ],
      [
        [-1.5, -1.5, 0, 0],
        [-2, -2, -2, -2],
      ],
      'token-mean',
      [
        [1, 1, 0, 0],
        [1, 1, 1, 1],
      ],
    );
    expect(await value(luspo(), b)).toBeCloseTo(5.5, 5);
  });

  it('VESPO weights (B.7)', () => {
    const o = { kPos: 2, lambdaPos: 3, kNeg: 3, lambdaNeg: 2 };
    expect(vespoWeight(0.2, true, o)).toBeCloseTo(0.7678, 4);
    expect(vespoWeight(0.2, false, o)).toBeCloseTo(1.1702, 4);
    expect(vespoWeight(-0.5, true, o)).toBeCloseTo(1.1977, 4);
    expect(vespoWeight(1, true, o)).toBeCloseTo(0.0426, 4);
    expect(vespoWeight(0, true, o)).toBeCloseTo(1, 12);
  });
});

describe('reductions and gradients', () => {
  const arbitrary = fc.record({
    lp: fc.array(fc.double({ min: -3, max: -0.05, noNaN: true }), { minLength: 3, maxLength: 3 }),
    drift: fc.array(fc.double({ min: -0.5, max: 0.5, noNaN: true }), { minLength: 3, maxLength: 3 }),
    a: fc.double({ min: -2, max: 2, noNaN: true }),
  });

  it('TRL clip without delta equals the trainer PPO clip (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(arbitrary, async ({ lp, drift, a }) => {
        const b = () => batch([lp], [lp.map((v, i) => v - (drift[i] as number))], [lp.map(() => a)]);
        expect(await value(trlClip(), b())).toBeCloseTo(await value(ppoClip(), b()), 5);
      }),
      { numRuns: 50 },
    );
  });

  it('on-policy (rho = 1) SAPO, CISPO and DPPO have the policy-gradient gradient -A d log pi (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(arbitrary, async ({ lp, a }) => {
        for (const loss of [sapo(), cispoVerl(), cispoTrl(), dppoTv(), vespo()]) {
          const grad = tf.grad((x: tf.Tensor) => loss.loss({ ...batch([lp], [lp], [lp.map(() => a)]), logprobs: x }, tf).loss);
          const g = await grad(tf.tensor2d([lp])).data();
          // token-mean over 3 tokens: d/dlp_t = -A / 3 for SAPO (f'(1) = 1) and for the weighted REINFORCE forms
          for (const v of g) expect(v).toBeCloseTo(-a / 3, 4);
        }
      }),
      { numRuns: 25 },
    );
  });

  it('every catalog loss is finite, ignores masked tokens, and matches finite differences', async () => {
    const lp = [[-1, -0.5, -2, -0.7]];
    const old = [[-1.1, -0.4, -2.15, -0.6]];
    const adv = [[0.8, 0.8, 0.8, 0.8]];
    const mask = [[1, 1, 1, 0]];
    for (const loss of catalogLosses()) {
      const base = await value(loss, batch(lp, old, adv, 'token-mean', mask));
      expect(Number.isFinite(base), loss.name).toBe(true);
      const changedPadding = await value(loss, batch([[-1, -0.5, -2, -9]], [[-1.1, -0.4, -2.15, -5]], adv, 'token-mean', mask));
      expect(changedPadding, `${loss.name} masked`).toBeCloseTo(base, 5);
      const grad = tf.grad((x: tf.Tensor) => loss.loss({ ...batch(lp, old, adv, 'token-mean', mask), logprobs: x }, tf).loss);
      const g = await grad(tf.tensor2d(lp)).data();
      const h = 1e-3;
      for (let t = 0; t < 3; t++) {
        const plus = lp.map((r) => r.map((v, i) => (i === t ? v + h : v)));
        const minus = lp.map((r) => r.map((v, i) => (i === t ? v - h : v)));
        // stop-gradient weights are constants for the gradient but not for finite differences: skip those
        if (['cispo-verl', 'cispo-trl', 'dppo-tv', 'dppo-kl', 'vespo'].includes(loss.name)) continue;
        const numeric =
          ((await value(loss, batch(plus, old, adv, 'token-mean', mask))) -
            (await value(loss, batch(minus, old, adv, 'token-mean', mask)))) /
          (2 * h);
        expect(g[t], `${loss.name} token ${t}`).toBeCloseTo(numeric, 2);
      }
    }
  });
});
