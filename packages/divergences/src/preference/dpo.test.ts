import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { dpoLoss } from '../preference.js';
import { scalar, tf, useCpu, values } from '../test-support/index.js';
import type { PairedPreferenceObjective, PreferenceBatch } from './batch.js';
import {
  dpoAlpha,
  dpoAot,
  dpoAotUnpaired,
  dpoApoDown,
  dpoApoZero,
  dpoBcoPair,
  dpoDiscopop,
  dpoExoPair,
  dpoForwardKl,
  dpoHinge,
  dpoIpo,
  dpoJs,
  dpoNcaPair,
  dpoObjectives,
  dpoRobust,
  dpoSft,
  dpoSigmoid,
  dpoSigmoidNorm,
  dpoSppoHard,
} from './dpo.js';

beforeAll(useCpu);

interface Pairs {
  chosen: number[];
  rejected: number[];
  refChosen: number[];
  refRejected: number[];
  chosenLengths?: number[];
  rejectedLengths?: number[];
}

function batchOf(pairs: Pairs): PreferenceBatch {
  return {
    chosenLogps: tf.tensor1d(pairs.chosen),
    rejectedLogps: tf.tensor1d(pairs.rejected),
    refChosenLogps: tf.tensor1d(pairs.refChosen),
    refRejectedLogps: tf.tensor1d(pairs.refRejected),
    chosenLengths: tf.tensor1d(pairs.chosenLengths ?? pairs.chosen.map(() => 1)),
    rejectedLengths: tf.tensor1d(pairs.rejectedLengths ?? pairs.rejected.map(() => 1)),
  };
}

const lossOf = (objective: PairedPreferenceObjective, pairs: Pairs): number =>
  tf.tidy(() => scalar(objective.loss(batchOf(pairs), tf).loss));

// Worked by hand from TRL's formula: c = 1 (5 tokens), r = -0.5 (10 tokens), Delta = 1.5, beta = 0.1.
const EXAMPLE: Pairs = {
  chosen: [-10],
  refChosen: [-11],
  rejected: [-12],
  refRejected: [-11.5],
  chosenLengths: [5],
  rejectedLengths: [10],
};

describe('hand-worked examples of TRL formulas', () => {
  const table: [PairedPreferenceObjective, number][] = [
    [dpoSigmoid(), 0.621],
    [dpoHinge(), 0.85],
    [dpoIpo(), 22.5625],
    [dpoExoPair({ labelSmoothing: 1e-3 }), 2.5055],
    [dpoNcaPair(), 1.3508],
    [dpoRobust({ labelSmoothing: 0.1 }), 0.6022],
    [dpoBcoPair(), 1.3129],
    [dpoSppoHard(), 36.25],
    [dpoApoZero(), 0.9625],
    [dpoApoDown(), 0.9875],
    [dpoDiscopop(), 0.8493],
    [dpoSigmoidNorm(), 0.6807],
    [dpoForwardKl(), 0.6312],
    [dpoJs(), 0.6607],
    [dpoAlpha(), 0.6277],
    [dpoSigmoid({ divergence: 'forward-kl' }), 0.6312],
    [dpoSigmoid({ divergence: 'alpha', alphaDivergence: 0.5 }), 0.6277],
    // One pair: the sorted batch is the pair itself, so AOT is DPO.
    [dpoAot(), 0.621],
    [dpoAotUnpaired(), 0.621],
    // -lp(y_w) / L_w = 10 / 5.
    [dpoSft(), 2],
  ];
  it.each(table.map(([objective, expected]) => [objective.name, objective, expected] as const))(
    '%s',
    (_name, objective, expected) => {
      expect(lossOf(objective, EXAMPLE)).toBeCloseTo(expected, 3);
    },
  );

  it('exo-pair defaults to epsilon = 1e-3 (epsilon = 0 takes log 0)', () => {
    expect(lossOf(dpoExoPair(), EXAMPLE)).toBeCloseTo(2.5055, 3);
    expect(() => dpoExoPair({ labelSmoothing: 0 })).toThrow(/'labelSmoothing' must be in \(0, 1\).*got 0/);
  });

  it('AOT on a batch of two pairs with Delta = [4, -4]: aot 0.6944, aot-unpaired 0.6931, sigmoid 0.7130', () => {
    // d = lp_w - lp_l = [1.5, -1.5], d_ref = [-2.5, 2.5]: sorted, delta = [1, -1].
    const paired: Pairs = { chosen: [1.5, -1.5], rejected: [0, 0], refChosen: [-2.5, 2.5], refRejected: [0, 0] };
    expect(lossOf(dpoSigmoid(), paired)).toBeCloseTo(0.713, 3);
    expect(lossOf(dpoAot(), paired)).toBeCloseTo(0.6944, 4);
    // c = [2, -2], r = [-2, 2]: sorted, delta = [0, 0].
    const unpaired: Pairs = { chosen: [2, -2], rejected: [-2, 2], refChosen: [0, 0], refRejected: [0, 0] };
    expect(lossOf(dpoSigmoid(), unpaired)).toBeCloseTo(0.713, 3);
    expect(lossOf(dpoAotUnpaired(), unpaired)).toBeCloseTo(Math.log(2), 4);
  });

  it("reports TRL's reward metrics: beta c, beta r, their difference and the accuracy", () => {
    const { metrics } = dpoIpo().loss(batchOf(EXAMPLE), tf);
    expect(scalar(metrics.chosenReward)).toBeCloseTo(0.1, 5);
    expect(scalar(metrics.rejectedReward)).toBeCloseTo(-0.05, 5);
    expect(scalar(metrics.margin)).toBeCloseTo(0.15, 5);
    expect(scalar(metrics.rewardAccuracy)).toBe(1);
    const swapped = dpoSigmoid().loss(
      batchOf({ ...EXAMPLE, chosen: [-12], rejected: [-10], refChosen: [-11.5], refRejected: [-11] }),
      tf,
    );
    expect(scalar(swapped.metrics.rewardAccuracy)).toBe(0);
  });
});

/** Each objective's value when the policy equals the reference (c = r = 0). */
function zeroMarginValue(name: string, beta: number): number {
  const target = 1 / (2 * beta);
  const epsilon = 1e-3;
  const known: Record<string, number> = {
    dpo: Math.log(2),
    'dpo-hinge': 1,
    'dpo-ipo': target ** 2,
    'dpo-exo-pair': Math.log(0.5) - 0.5 * Math.log(epsilon * (1 - epsilon)),
    'dpo-nca-pair': 2 * Math.log(2),
    'dpo-robust': Math.log(2),
    'dpo-bco-pair': 2 * Math.log(2),
    'dpo-sppo-hard': 2 * target ** 2,
    'dpo-aot': Math.log(2),
    'dpo-aot-unpaired': Math.log(2),
    'dpo-apo-zero': 1,
    'dpo-apo-down': 1,
    'dpo-discopop': 0.5 * Math.log(2) + 0.5,
    'dpo-sigmoid-norm': Math.log(2),
    'dpo-forward-kl': Math.log(2),
    'dpo-js': Math.log(2),
    'dpo-alpha': Math.log(2),
  };
  const value = known[name];
  if (value === undefined) throw new Error(`no zero-margin value for ${name}`);
  return value;
}

const WITH_REFERENCE = dpoObjectives().filter((objective) => objective.name !== 'dpo-sft');

describe('zero margin', () => {
  it('every DPO loss has its known value when the policy equals the reference', () => {
    const logp = fc.double({ min: -50, max: -0.01, noNaN: true });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(logp, logp), { minLength: 1, maxLength: 4 }),
        fc.double({ min: 0.02, max: 2, noNaN: true }),
        (pairs, beta) => {
          const chosen = pairs.map(([w]) => w);
          const rejected = pairs.map(([, l]) => l);
          const input = { chosen, rejected, refChosen: chosen, refRejected: rejected, chosenLengths: chosen.map(() => 3) };
          for (const objective of WITH_REFERENCE) {
            const configured = objective.configure({ beta });
            expect(lossOf(configured, input)).toBeCloseTo(zeroMarginValue(objective.name, beta), 3);
          }
        },
      ),
      { numRuns: 15 },
    );
  });

  it('losses that read only Delta take the same value at any c = r', () => {
    const onlyDelta = [
      dpoSigmoid(),
      dpoHinge(),
      dpoRobust({ labelSmoothing: 0.2 }),
      dpoExoPair(),
      dpoDiscopop(),
      dpoJs(),
      dpoForwardKl(),
      dpoAlpha(),
    ];
    fc.assert(
      fc.property(fc.double({ min: -3, max: 3, noNaN: true }), (shift) => {
        const input = { chosen: [-5 + shift], rejected: [-8 + shift], refChosen: [-5], refRejected: [-8] };
        for (const objective of onlyDelta) {
          expect(lossOf(objective, input)).toBeCloseTo(zeroMarginValue(objective.name, 0.1), 4);
        }
      }),
      { numRuns: 20 },
    );
  });
});

describe('monotone in the margin', () => {
  // Lowering the rejected log-prob widens the margin; these losses never go up when it does.
  const monotone = [
    dpoSigmoid(),
    dpoHinge(),
    dpoRobust({ labelSmoothing: 0.3 }),
    dpoBcoPair(),
    dpoNcaPair(),
    dpoApoZero(),
    dpoApoDown(),
    dpoSigmoidNorm(),
    dpoAot(),
    dpoAotUnpaired(),
    dpoForwardKl(),
    dpoJs(),
    dpoAlpha(),
  ];

  it('the loss does not increase as the rejected log-probability falls', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -20, max: -0.1, noNaN: true }),
        fc.double({ min: -20, max: -0.1, noNaN: true }),
        fc.double({ min: 0.01, max: 5, noNaN: true }),
        (chosen, rejected, drop) => {
          const before = { chosen: [chosen], rejected: [rejected], refChosen: [-10], refRejected: [-10] };
          const after = { ...before, rejected: [rejected - drop] };
          for (const objective of monotone) {
            expect(lossOf(objective, after)).toBeLessThanOrEqual(lossOf(objective, before) + 1e-6);
          }
        },
      ),
      { numRuns: 30 },
    );
  });

  it('sigmoid decreases strictly; IPO and SPPO are not monotone (they have a target)', () => {
    const at = (rejected: number) => ({ chosen: [-10], rejected: [rejected], refChosen: [-10], refRejected: [-10] });
    expect(lossOf(dpoSigmoid(), at(-12))).toBeLessThan(lossOf(dpoSigmoid(), at(-11)));
    // IPO's target margin is 1/(2 beta) = 5: overshooting to 10 costs as much as 0.
    expect(lossOf(dpoIpo(), at(-20))).toBeCloseTo(lossOf(dpoIpo(), at(-10)), 4);
    expect(lossOf(dpoIpo(), at(-15))).toBeCloseTo(0, 6);
  });
});

describe('gradients', () => {
  const LENGTHS = { chosenLengths: [2, 3, 5], rejectedLengths: [4, 1, 2] };

  /** Loss as a function of one [3, 4] tensor: columns chosen, rejected, ref chosen, ref rejected. */
  const asFunction = (objective: PairedPreferenceObjective) => (x: tf.Tensor) => {
    const column = (j: number) => tf.squeeze(tf.slice(x, [0, j], [3, 1]), [1]);
    return objective.loss(
      {
        chosenLogps: column(0),
        rejectedLogps: column(1),
        refChosenLogps: column(2),
        refRejectedLogps: column(3),
        chosenLengths: tf.tensor1d(LENGTHS.chosenLengths),
        rejectedLengths: tf.tensor1d(LENGTHS.rejectedLengths),
      },
      tf,
    ).loss;
  };

  const sortedGapsAtLeast = (numbers: number[], gap: number): boolean => {
    const sorted = [...numbers].sort((a, b) => a - b);
    return sorted.every((value, i) => i === 0 || value - (sorted[i - 1] as number) > gap);
  };

  it('match central finite differences for every objective', () => {
    const entry = fc.double({ min: -4, max: -0.05, noNaN: true });
    fc.assert(
      fc.property(fc.array(fc.array(entry, { minLength: 4, maxLength: 4 }), { minLength: 3, maxLength: 3 }), (rows) => {
        // AOT sorts: keep the finite-difference steps from reordering the batch.
        const differences = (a: number, b: number) => rows.map((row) => (row[a] as number) - (row[b] as number));
        fc.pre(sortedGapsAtLeast(differences(0, 1), 0.1) && sortedGapsAtLeast(differences(2, 3), 0.1));
        fc.pre(sortedGapsAtLeast(differences(0, 2), 0.1) && sortedGapsAtLeast(differences(1, 3), 0.1));
        for (const objective of dpoObjectives()) {
          const fn = asFunction(objective);
          const analytic = tf.tidy(() => values(tf.grad(fn)(tf.tensor2d(rows))));
          const step = 1e-2;
          analytic.forEach((gradient, index) => {
            const shifted = (shift: number) =>
              tf.tidy(() => {
                const flat = rows.flat().map((value, i) => (i === index ? value + shift : value));
                return scalar(fn(tf.tensor2d(flat, [3, 4])));
              });
            const numeric = (shifted(step) - shifted(-step)) / (2 * step);
            expect(Math.abs(gradient - numeric), `${objective.name} entry ${index}`).toBeLessThanOrEqual(
              2e-3 * Math.max(1, Math.abs(numeric)),
            );
          });
        }
      }),
      { numRuns: 4 },
    );
  });

  it('sigmoid has the DPO gradient -beta sigma(-beta Delta) / pairs on the chosen log-prob', () => {
    const rows = [
      [-1, -2, -1.5, -1.5],
      [-3, -1, -2, -2],
      [-0.5, -0.7, -0.6, -0.6],
    ];
    const gradient = values(tf.grad(asFunction(dpoSigmoid({ beta: 0.5 })))(tf.tensor2d(rows)));
    rows.forEach((row, i) => {
      const delta = (row[0] as number) - (row[2] as number) - ((row[1] as number) - (row[3] as number));
      const expected = -0.5 / (1 + Math.exp(0.5 * delta)) / 3;
      expect(gradient[4 * i]).toBeCloseTo(expected, 5);
      expect(gradient[4 * i + 1]).toBeCloseTo(-expected, 5);
    });
  });
});

describe('robustness', () => {
  it('every objective stays finite (loss and gradient) for finite, extreme inputs', () => {
    const logp = fc.double({ min: -1e4, max: 50, noNaN: true });
    fc.assert(
      fc.property(
        fc.array(logp, { minLength: 4, maxLength: 4 }),
        fc.array(fc.integer({ min: 0, max: 4000 }), { minLength: 2, maxLength: 2 }),
        ([chosen, rejected, refChosen, refRejected], [chosenLength, rejectedLength]) => {
          for (const objective of dpoObjectives()) {
            const gradient = tf.tidy(() =>
              values(
                tf.grad(
                  (x: tf.Tensor) =>
                    objective.loss(
                      {
                        chosenLogps: tf.slice(x, [0], [1]),
                        rejectedLogps: tf.slice(x, [1], [1]),
                        refChosenLogps: tf.tensor1d([refChosen as number]),
                        refRejectedLogps: tf.tensor1d([refRejected as number]),
                        chosenLengths: tf.tensor1d([chosenLength as number]),
                        rejectedLengths: tf.tensor1d([rejectedLength as number]),
                      },
                      tf,
                    ).loss,
                )(tf.tensor1d([chosen as number, rejected as number])),
              ),
            );
            const loss = lossOf(objective, {
              chosen: [chosen as number],
              rejected: [rejected as number],
              refChosen: [refChosen as number],
              refRejected: [refRejected as number],
              chosenLengths: [chosenLength as number],
              rejectedLengths: [rejectedLength as number],
            });
            expect(Number.isFinite(loss), `${objective.name} loss ${loss}`).toBe(true);
            for (const value of gradient) expect(Number.isFinite(value), `${objective.name} gradient`).toBe(true);
          }
        },
      ),
      { numRuns: 25 },
    );
  });
});

describe('options and contract', () => {
  it('plain dpo-sigmoid is exactly the package dpoLoss', () => {
    const batch = batchOf(EXAMPLE);
    const direct = dpoLoss(
      {
        policyChosen: batch.chosenLogps,
        policyRejected: batch.rejectedLogps,
        refChosen: batch.refChosenLogps as tf.Tensor,
        refRejected: batch.refRejectedLogps as tf.Tensor,
        beta: 0.1,
      },
      tf,
    );
    expect(scalar(dpoSigmoid().loss(batch, tf).loss)).toBe(scalar(direct));
  });

  it('cDPO label smoothing: epsilon = 0.5 would be constant; epsilon = 0.1 matches the formula', () => {
    const z = 0.15;
    const softplus = (x: number) => Math.log1p(Math.exp(x));
    expect(lossOf(dpoSigmoid({ labelSmoothing: 0.1 }), EXAMPLE)).toBeCloseTo(0.9 * softplus(-z) + 0.1 * softplus(z), 5);
    expect(() => dpoSigmoid({ labelSmoothing: 0.5 })).toThrow(/dpo: option 'labelSmoothing' must be in \[0, 0.5\), got 0.5/);
  });

  it('bad options name the value and what is accepted', () => {
    expect(() => dpoSigmoid({ beta: 0 })).toThrow(/dpo: option 'beta' must be > 0, got 0/);
    expect(() => dpoRobust({ labelSmoothing: 0.5 })).toThrow(/'labelSmoothing' must be in \[0, 0.5\).*got 0.5/);
    expect(() => dpoDiscopop({ tau: 0 })).toThrow(/'tau' must be > 0, got 0/);
    expect(() => dpoSigmoid({ divergence: 'tv' as never })).toThrow(/reverse-kl, forward-kl, js, alpha/);
    expect(() => dpoAlpha({ alphaDivergence: 1 })).toThrow(/'alphaDivergence' must be in \(0, 1\), got 1/);
    expect(() => dpoJs({ divergence: 'alpha' } as never)).toThrow(/dpo-js: unknown option 'divergence'/);
    expect(() => dpoHinge({ labelSmoothing: 0.1 })).toThrow(/unknown option 'labelSmoothing'; accepted: beta, referenceFree/);
  });

  it('needs reference log-probs unless reference-free, and says so', () => {
    const { refChosenLogps: _a, refRejectedLogps: _b, ...withoutReference } = batchOf(EXAMPLE);
    expect(() => dpoIpo().loss(withoutReference, tf)).toThrow(/dpo-ipo needs refChosenLogps and refRejectedLogps/);
    const free = dpoSigmoid({ referenceFree: true });
    expect(free.needsReference).toBe(false);
    // Reference-free: margin = beta (lp_w - lp_l) = 0.1 x 2.
    expect(scalar(free.loss(withoutReference, tf).loss)).toBeCloseTo(Math.log1p(Math.exp(-0.2)), 5);
    expect(dpoSft().needsReference).toBe(false);
    expect(dpoSft().options).not.toHaveProperty('referenceFree');
  });

  it('configure rebuilds with merged options; the registry view is consistent', () => {
    const robust = dpoRobust({ labelSmoothing: 0.1 }).configure({ beta: 0.2 });
    expect(robust.resolved).toMatchObject({ beta: 0.2, labelSmoothing: 0.1 });
    const alpha = dpoAlpha({ alphaDivergence: 0.3 }).configure({ beta: 0.2 });
    expect(alpha.resolved).toMatchObject({ beta: 0.2, alphaDivergence: 0.3 });
    expect(alpha.name).toBe('dpo-alpha');
    const names = dpoObjectives().map((objective) => objective.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toHaveLength(18);
    for (const objective of dpoObjectives()) {
      expect(objective.name).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
      expect(objective.matches).toMatch(/^TRL DPOTrainer/);
      expect(objective.math.length).toBeGreaterThan(10);
      for (const [key, spec] of Object.entries(objective.options)) {
        expect(spec.doc.length, `${objective.name}.${key}`).toBeGreaterThan(5);
      }
    }
  });
});

describe("TRL's ld_alpha (LD-DPO) and use_weighting (WPO)", () => {
  const base = {
    chosenLogps: tf.tensor1d([-10, -4]),
    rejectedLogps: tf.tensor1d([-12, -9]),
    refChosenLogps: tf.tensor1d([-11, -5]),
    refRejectedLogps: tf.tensor1d([-11.5, -8]),
    chosenLengths: tf.tensor1d([5, 2]),
    rejectedLengths: tf.tensor1d([10, 6]),
  };
  const tails = {
    chosenTailLogps: tf.tensor1d([0, 0]),
    rejectedTailLogps: tf.tensor1d([-6, -5]),
    refChosenTailLogps: tf.tensor1d([0, 0]),
    refRejectedTailLogps: tf.tensor1d([-5, -4.5]),
  };
  const sigmoidLoss = (c: number[], r: number[], rc: number[], rr: number[], beta = 0.1) =>
    c.reduce((sum, _, i) => {
      const margin = beta * ((c[i] as number) - (rc[i] as number) - ((r[i] as number) - (rr[i] as number)));
      return sum + Math.log1p(Math.exp(-margin));
    }, 0) / c.length;

  it('ldAlpha = 1 (default) changes nothing; ldAlpha = 0.5 keeps half of the longer side past the shared length', () => {
    const plain = scalar(dpoSigmoid().loss({ ...base, ...tails }, tf).loss);
    expect(plain).toBeCloseTo(sigmoidLoss([-10, -4], [-12, -9], [-11, -5], [-11.5, -8]), 5);
    const ld = dpoSigmoid({ ldAlpha: 0.5 });
    expect(ld.needs.tails).toBe(true);
    // rejected: -12 - 0.5(-6) = -9, -9 - 0.5(-5) = -6.5; reference -11.5 + 2.5 = -9, -8 + 2.25 = -5.75
    expect(scalar(ld.loss({ ...base, ...tails }, tf).loss)).toBeCloseTo(
      sigmoidLoss([-10, -4], [-9, -6.5], [-11, -5], [-9, -5.75]),
      5,
    );
    expect(() => ld.loss(base, tf)).toThrow(/ldAlpha needs the tails/);
    expect(() => dpoSigmoid({ ldAlpha: 2 })).toThrow(/ldAlpha/);
  });

  it('useWeighting multiplies each pair by exp(aligned_w + aligned_l), uncapped as in TRL, then the plain mean', () => {
    const aligned = { chosenAlignedLogps: tf.tensor1d([-0.2, 0.3]), rejectedAlignedLogps: tf.tensor1d([-0.5, 0.4]) };
    const wpo = dpoHinge({ useWeighting: true });
    expect(wpo.needs.aligned).toBe(true);
    const weights = [Math.exp(-0.7), Math.exp(0.7)];
    const hinge = [0, 1].map((i) => {
      const delta = [-10 + 11 - (-12 + 11.5), -4 + 5 - (-9 + 8)][i] as number;
      return Math.max(0, 1 - 0.1 * delta);
    });
    expect(scalar(wpo.loss({ ...base, ...aligned }, tf).loss)).toBeCloseTo(
      ((weights[0] as number) * (hinge[0] as number) + (weights[1] as number) * (hinge[1] as number)) / 2,
      5,
    );
    // the sigmoid fast path takes the same weighted mean
    const sig = scalar(dpoSigmoid({ useWeighting: true }).loss({ ...base, ...aligned }, tf).loss);
    const perPair = [0, 1].map((i) =>
      sigmoidLoss([[-10, -4][i] as number], [[-12, -9][i] as number], [[-11, -5][i] as number], [[-11.5, -8][i] as number]),
    );
    expect(sig).toBeCloseTo(
      ((weights[0] as number) * (perPair[0] as number) + (weights[1] as number) * (perPair[1] as number)) / 2,
      5,
    );
    expect(() => wpo.loss(base, tf)).toThrow(/useWeighting needs the aligned/);
  });
});

describe('no hidden state', () => {
  it('the DPO objectives keep no module-level mutable state (WPO weights travel with each call)', async () => {
    const { readFileSync } = await import('node:fs');
    const source = readFileSync(new URL('./dpo.ts', import.meta.url), 'utf8');
    expect(source.match(/^(let|var) /gm) ?? []).toEqual([]);
  });
});
