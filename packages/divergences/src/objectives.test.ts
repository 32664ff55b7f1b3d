import type { LossBatch, PreferenceBatch, RowRollouts } from '@policy-lab/core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { drpoLoss } from './drpo.js';
import { fDivergenceSftLoss } from './f-sft.js';
import { opd } from './losses.js';
import { drpo, fSft, gopd, tokenDpo, upo, vpo } from './objectives.js';
import { dpoLoss } from './preference.js';
import { scalar, tf, useCpu, values } from './test-support/index.js';

beforeAll(useCpu);

/** A hand-computed example pair: policy (-10, -12), reference (-11, -11.5). */
function examplePair(extra: Partial<PreferenceBatch<tf.Tensor>> = {}): PreferenceBatch<tf.Tensor> {
  return {
    chosenLogps: tf.tensor1d([-10]),
    rejectedLogps: tf.tensor1d([-12]),
    refChosenLogps: tf.tensor1d([-11]),
    refRejectedLogps: tf.tensor1d([-11.5]),
    chosenLengths: tf.tensor1d([5]),
    rejectedLengths: tf.tensor1d([10]),
    ...extra,
  };
}

const logp = fc.double({ min: -30, max: -0.01, noNaN: true });
const pairsOf = (n: number) => fc.array(fc.tuple(logp, logp, logp, logp), { minLength: n, maxLength: n });

function pairBatch(rows: readonly (readonly number[])[], extra: Partial<PreferenceBatch<tf.Tensor>> = {}) {
  const column = (k: number) => tf.tensor1d(rows.map((r) => r[k] as number));
  return {
    chosenLogps: column(0),
    rejectedLogps: column(1),
    refChosenLogps: column(2),
    refRejectedLogps: column(3),
    chosenLengths: tf.onesLike(column(0)),
    rejectedLengths: tf.onesLike(column(0)),
    ...extra,
  };
}

const dpoOf = (b: PreferenceBatch<tf.Tensor>, beta = 0.1) =>
  scalar(
    dpoLoss(
      {
        policyChosen: b.chosenLogps,
        policyRejected: b.rejectedLogps,
        refChosen: b.refChosenLogps as tf.Tensor,
        refRejected: b.refRejectedLogps as tf.Tensor,
        beta,
      },
      tf,
    ),
  );

describe('vpo', () => {
  it('hand-computed: DPO 0.621; pessimistic alpha 0.01 with NLL(chosen) = 10 gives 0.721; optimistic 0.521', () => {
    expect(dpoOf(examplePair())).toBeCloseTo(0.621, 3);
    const pessimistic = vpo({ alpha: 0.01, mode: 'pessimistic' }).loss(examplePair(), tf);
    expect(scalar(pessimistic?.loss as tf.Tensor)).toBeCloseTo(0.721, 3);
    const optimistic = vpo({ alpha: 0.01, mode: 'optimistic' }).loss(examplePair(), tf);
    expect(scalar(optimistic?.loss as tf.Tensor)).toBeCloseTo(0.521, 3);
  });

  it("auto mode: pessimism for dataset pairs, optimism for the policy's own", () => {
    const offline = vpo({ alpha: 0.01 }).loss(examplePair({ source: 'offline' }), tf);
    const online = vpo({ alpha: 0.01 }).loss(examplePair({ source: 'online' }), tf);
    expect(scalar(offline?.loss as tf.Tensor)).toBeCloseTo(0.721, 3);
    expect(scalar(online?.loss as tf.Tensor)).toBeCloseTo(0.521, 3);
  });

  it('alpha = 0 is exactly DPO (fast-check)', () => {
    fc.assert(
      fc.property(pairsOf(3), (rows) => {
        const b = pairBatch(rows);
        expect(scalar(vpo({ alpha: 0 }).loss(b, tf).loss as tf.Tensor)).toBeCloseTo(dpoOf(b), 5);
      }),
      { numRuns: 30 },
    );
  });
});

describe('upo', () => {
  it('all pairs reliable (or no reliability given) is DPO (fast-check)', () => {
    fc.assert(
      fc.property(pairsOf(4), (rows) => {
        const b = pairBatch(rows);
        expect(scalar(upo().loss(b, tf).loss as tf.Tensor)).toBeCloseTo(dpoOf(b), 5);
        const ones = pairBatch(rows, { reliability: tf.ones([4]) });
        expect(scalar(upo().loss(ones, tf).loss as tf.Tensor)).toBeCloseTo(dpoOf(b), 5);
      }),
      { numRuns: 30 },
    );
  });

  it('weighs pairs by reliability and drops those under minReliability', () => {
    const rows = [
      [-10, -12, -11, -11.5],
      [-12, -10, -11, -11],
    ];
    const b = pairBatch(rows, { reliability: tf.tensor1d([1, 0.25]) });
    const per = rows.map((r) => dpoOf(pairBatch([r])));
    const weighted = scalar(upo().loss(b, tf).loss as tf.Tensor);
    expect(weighted).toBeCloseTo(((per[0] as number) + 0.25 * (per[1] as number)) / 1.25, 5);
    const filtered = upo({ minReliability: 0.5 }).loss(b, tf);
    expect(scalar(filtered?.loss as tf.Tensor)).toBeCloseTo(per[0] as number, 5);
    expect(scalar(filtered?.metrics?.keptPairs as tf.Tensor)).toBeCloseTo(0.5, 6);
  });

  it("selection=uncertainty asks the trainer for UPO's estimator with the released code's defaults; bad options are refused", () => {
    expect(upo().needs?.uncertainty).toBeUndefined();
    expect(upo({ selection: 'uncertainty' }).needs).toEqual({
      reference: true,
      uncertainty: { passes: 10, sampleRate: 0.25, dropout: 0.1, hidden: 32, dropDisagreements: true },
    });
    expect(() => upo({ selection: 'best' as 'all' })).toThrow(/option 'selection' must be one of all, uncertainty/);
    expect(() => upo({ selection: 'uncertainty', passes: 1 })).toThrow(/'passes' must be an integer >= 2/);
    expect(() => upo({ selection: 'uncertainty', sampleRate: 0 })).toThrow(/'sampleRate' must be in \(0, 1\]/);
  });
});

describe('token-dpo', () => {
  /** Two pairs; pair 0's chosen spans two rows (a multi-turn completion). Rows: c0a, c0b, r0, c1, r1. */
  function tokenView(policy: number[][], reference: number[][]): PreferenceBatch<tf.Tensor> {
    const mask = [
      [1, 1, 0],
      [1, 0, 0],
      [1, 1, 1],
      [1, 1, 0],
      [1, 0, 0],
    ];
    const chosenRows = tf.tensor2d([
      [1, 1, 0, 0, 0],
      [0, 0, 0, 1, 0],
    ]);
    const rejectedRows = tf.tensor2d([
      [0, 0, 1, 0, 0],
      [0, 0, 0, 0, 1],
    ]);
    const sums = (m: number[][]) => m.map((row, r) => row.reduce((s, x, t) => s + x * ((mask[r] as number[])[t] as number), 0));
    const p = sums(policy);
    const q = sums(reference);
    return {
      chosenLogps: tf.tensor1d([(p[0] as number) + (p[1] as number), p[3] as number]),
      rejectedLogps: tf.tensor1d([p[2] as number, p[4] as number]),
      refChosenLogps: tf.tensor1d([(q[0] as number) + (q[1] as number), q[3] as number]),
      refRejectedLogps: tf.tensor1d([q[2] as number, q[4] as number]),
      chosenLengths: tf.tensor1d([3, 2]),
      rejectedLengths: tf.tensor1d([3, 1]),
      tokens: {
        logprobs: tf.tensor2d(policy),
        refLogprobs: tf.tensor2d(reference),
        mask: tf.tensor2d(mask),
        chosenRows,
        rejectedRows,
      },
    };
  }
  const matrix = fc.array(fc.array(fc.double({ min: -5, max: -0.01, noNaN: true }), { minLength: 3, maxLength: 3 }), {
    minLength: 5,
    maxLength: 5,
  });

  it('per-token implicit rewards telescope: the loss equals sequence-level DPO (fast-check)', () => {
    fc.assert(
      fc.property(matrix, matrix, (policy, reference) => {
        const batch = tokenView(policy, reference);
        const result = tokenDpo({ beta: 0.5 }).loss(batch, tf);
        expect(scalar(result?.loss as tf.Tensor)).toBeCloseTo(dpoOf(batch, 0.5), 4);
      }),
      { numRuns: 30 },
    );
  });

  it('its gradient on the token log-probs is DPO gradient on every trained token, zero on padding', () => {
    const reference = Array.from({ length: 5 }, () => [-1, -1, -1]);
    const policy = [
      [-0.5, -2, -1],
      [-1, -3, -3],
      [-1.5, -0.2, -0.7],
      [-0.3, -0.9, -1],
      [-2, -1, -1],
    ];
    const batch = tokenView(policy, reference);
    const tokens = batch.tokens as NonNullable<PreferenceBatch<tf.Tensor>['tokens']>;
    const grad = tf.grad((lp: tf.Tensor) => {
      const perRow = tf.reshape(tf.sum(tf.mul(lp, tokens.mask), 1), [-1, 1]);
      const view: PreferenceBatch<tf.Tensor> = {
        ...batch,
        chosenLogps: tf.reshape(tf.matMul(tokens.chosenRows, perRow), [-1]),
        rejectedLogps: tf.reshape(tf.matMul(tokens.rejectedRows, perRow), [-1]),
        tokens: { ...tokens, logprobs: lp },
      };
      return tokenDpo({ beta: 0.5 }).loss(view, tf).loss as tf.Tensor;
    })(tf.tensor2d(policy));
    const g = values(grad);
    const m = values(tokens.mask);
    g.forEach((x, i) => {
      if (m[i] === 0) expect(Math.abs(x)).toBe(0);
    });
    // Tokens of one completion share a gradient: -beta sigma(-margin) / pairs for chosen, + for rejected.
    expect(g[0]).toBeCloseTo(g[3] as number, 6);
    expect(g[0]).toBeLessThan(0);
    expect(g[6]).toBeGreaterThan(0);
  });
});

describe('f-sft', () => {
  it('is the variational f-divergence loss on (demonstration, sample) pairs', () => {
    const b = pairBatch([
      [-3, -8, -4, -7],
      [-2, -9, -2.5, -8],
    ]);
    for (const divergence of ['js', 'kl', 'hellinger', 'tv']) {
      const result = fSft({ divergence, beta: 0.2 }).loss(b, tf);
      const expected = fDivergenceSftLoss(
        {
          dataPolicy: b.chosenLogps,
          dataReference: b.refChosenLogps,
          samplePolicy: b.rejectedLogps,
          sampleReference: b.refRejectedLogps,
          beta: 0.2,
          divergence,
        },
        tf,
      );
      expect(scalar(result?.loss as tf.Tensor)).toBeCloseTo(scalar(expected), 6);
    }
    expect(fSft().needs?.pairsFrom).toBe('demonstrations');
  });

  it('raising the likelihood of the demonstration lowers the loss (fast-check, js)', () => {
    fc.assert(
      fc.property(pairsOf(2), (rows) => {
        const loss = (shift: number) =>
          scalar(
            fSft().loss(pairBatch(rows.map(([a, b, c, d]) => [(a as number) + shift, b as number, c as number, d as number])), tf)
              .loss as tf.Tensor,
          );
        expect(loss(0.5)).toBeLessThanOrEqual(loss(0) + 1e-6);
      }),
      { numRuns: 30 },
    );
  });
});

describe('drpo (registered)', () => {
  function rowsBatch(logprobs: number[][], old: number[][], mask: number[][], rollouts: RowRollouts): LossBatch<tf.Tensor> {
    return {
      logprobs: tf.tensor2d(logprobs),
      oldLogprobs: tf.tensor2d(old),
      advantages: tf.zerosLike(tf.tensor2d(logprobs)),
      mask: tf.tensor2d(mask),
      weights: tf.ones([logprobs.length]),
      aggregation: 'token-mean',
      normLength: 4,
      rollouts,
    };
  }
  const row = fc.array(fc.double({ min: -4, max: -0.05, noNaN: true }), { minLength: 3, maxLength: 3 });

  it('equals the drpoLoss function on single-row rollouts (fast-check, mixed groups)', () => {
    fc.assert(
      fc.property(fc.array(row, { minLength: 6, maxLength: 6 }), fc.array(row, { minLength: 6, maxLength: 6 }), (lp, old) => {
        const mask = [
          [1, 1, 1],
          [1, 1, 0],
          [1, 0, 0],
          [1, 1, 1],
          [1, 1, 0],
          [1, 1, 1],
        ];
        const correct = [1, 0, 1, 0, 0, 0];
        const groupIds = ['a', 'a', 'a', 'b', 'b', 'c'];
        const rollouts = {
          ofRow: [0, 1, 2, 3, 4, 5],
          group: groupIds,
          success: correct.map((c) => c === 1),
          reward: correct,
        };
        const registered = drpo({ maxLength: 4 }).loss(rowsBatch(lp, old, mask, rollouts), tf);
        const reference = drpoLoss(
          {
            logprobs: tf.tensor2d(lp),
            oldLogprobs: tf.tensor2d(old),
            mask: tf.tensor2d(mask),
            correct,
            groupIds,
            maxLength: 4,
          },
          tf,
        );
        expect(scalar(registered.loss)).toBeCloseTo(scalar(reference.loss), 4);
      }),
      { numRuns: 25 },
    );
  });

  it('a rollout spread over two rows (two turns) scores as the mean over all its tokens', () => {
    const lp = [
      [-1, -2, -3],
      [-0.5, -0.5, -0.5],
      [-2, -2, -2],
    ];
    const mask = [
      [1, 1, 0],
      [1, 1, 1],
      [1, 1, 1],
    ];
    const split = drpo().loss(
      rowsBatch(lp, lp, mask, { ofRow: [0, 0, 1], group: ['g', 'g'], success: [true, false], reward: [1, 0] }),
      tf,
    );
    // One positive (weight 1) with s = (-1 - 2 - 1.5) / 5 = -0.9, one negative with s = -2:
    // objective -0.9 - tau * (-2 / tau) = 1.1, loss -1.1 (KL to old = 0).
    expect(scalar(split.loss)).toBeCloseTo(-1.1, 5);
  });

  it('has a gradient (masks and matMuls, no gather) and refuses rows without rollouts', () => {
    const lp = [
      [-1, -2],
      [-1, -1],
    ];
    const rollouts = { ofRow: [0, 1], group: ['g', 'g'], success: [true, false], reward: [1, 0] };
    const g = tf.grad(
      (x: tf.Tensor) =>
        drpo().loss(
          {
            ...rowsBatch(
              lp,
              lp,
              [
                [1, 1],
                [1, 1],
              ],
              rollouts,
            ),
            logprobs: x,
          },
          tf,
        ).loss,
    )(tf.tensor2d(lp));
    const grad = values(g);
    // The correct rollout's tokens are pushed up (negative gradient of the loss), the wrong one's down.
    expect(grad[0]).toBeLessThan(0);
    expect(grad[2]).toBeGreaterThan(0);
    const { rollouts: _omit, ...bare } = rowsBatch(
      lp,
      lp,
      [
        [1, 1],
        [1, 1],
      ],
      rollouts,
    );
    expect(() => drpo().loss(bare as LossBatch<tf.Tensor>, tf)).toThrow(/needs the rows/);
  });
});

describe('gopd', () => {
  const batchOf = (policy: number[][], teacher: number[][], reference: number[][]): LossBatch<tf.Tensor> => ({
    logprobs: tf.tensor2d(policy),
    oldLogprobs: tf.tensor2d(policy),
    refLogprobs: tf.tensor2d(reference),
    teacherLogprobs: tf.tensor2d(teacher),
    advantages: tf.zerosLike(tf.tensor2d(policy)),
    mask: tf.onesLike(tf.tensor2d(policy)),
    weights: tf.ones([policy.length]),
    aggregation: 'token-mean',
    normLength: 3,
  });
  const m = fc.array(fc.array(fc.double({ min: -5, max: -0.01, noNaN: true }), { minLength: 3, maxLength: 3 }), {
    minLength: 2,
    maxLength: 2,
  });

  it('lambda = 1 is plain OPD whatever the reference (G-OPD, fast-check)', () => {
    fc.assert(
      fc.property(m, m, m, (policy, teacher, reference) => {
        const g = gopd({ lambda: 1 }).loss(batchOf(policy, teacher, reference), tf);
        const plain = opd().loss({ ...batchOf(policy, teacher, reference), refLogprobs: tf.tensor2d(teacher) }, tf);
        expect(scalar(g.loss)).toBeCloseTo(scalar(plain.loss), 4);
      }),
      { numRuns: 30 },
    );
  });

  it("lambda != 1: swapping the reference moves the reward by (lambda - 1)(log ref' - log ref)", () => {
    const policy = [[-1, -1, -1]];
    const teacher = [[-0.5, -2, -1]];
    const reward = (reference: number[][]) =>
      scalar(gopd({ lambda: 1.5 }).loss(batchOf(policy, teacher, reference), tf).metrics?.reward as tf.Tensor);
    const a = reward([[-1, -1, -1]]);
    const b = reward([[-2, -2, -2]]);
    // reward = lambda (t - ref) - (p - ref) = lambda t - p - (lambda - 1) ref: lowering ref by 1 raises it by 0.5.
    expect(b - a).toBeCloseTo(0.5, 5);
  });

  it('refuses a batch without the teacher, and asks the trainer for one', () => {
    const { teacherLogprobs: _t, ...bare } = batchOf([[-1]], [[-1]], [[-1]]);
    expect(() => gopd().loss(bare as LossBatch<tf.Tensor>, tf)).toThrow(/teacher/);
    expect(gopd().needs?.teacher).toBe(true);
  });
});
