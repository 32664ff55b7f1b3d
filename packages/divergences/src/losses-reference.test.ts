/**
 * Replays the preference-loss fixtures (packages/divergences/reference/*.json, written by
 * generate.py from TRL's formulas at pinned commits) against the registered losses: the loss and
 * its gradient with respect to the policy's log-probabilities, to 1e-5 (relative above 1; float32
 * tensors). Checks that every loss whose meta claims TRL or verl behaviour declares a reference with
 * a fixture, and works one small case of each loss by hand, so that a misreading of TRL shows as a
 * disagreement between the two.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { LabelledLoss, PairLoss, PolicyLoss } from '@policy-lab/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { plugin } from './index.js';
import type { PreferenceReference } from './preference/reference.js';
import type { Tensor, Tf } from './tensor-types.js';
import { tf, useCpu } from './test-support/index.js';

beforeAll(useCpu);

type Loss = PolicyLoss<Tf, Tensor>;

interface PairedInputs {
  chosenLogps: number[];
  rejectedLogps: number[];
  refChosenLogps: number[];
  refRejectedLogps: number[];
  chosenLengths: number[];
  rejectedLengths: number[];
  chosenTailLogps?: number[];
  rejectedTailLogps?: number[];
  refChosenTailLogps?: number[];
  refRejectedTailLogps?: number[];
  chosenAlignedLogps?: number[];
  rejectedAlignedLogps?: number[];
}

interface UnpairedInputs {
  logps: number[];
  refLogps: number[];
  desirable: boolean[];
  klLogps: number[];
  klRefLogps: number[];
}

type FixtureCase =
  | {
      name: string;
      loss: string;
      options: Record<string, unknown>;
      data: 'paired';
      inputs: PairedInputs;
      expected: { loss: number; gradient: { chosenLogps: number[]; rejectedLogps: number[] } };
    }
  | {
      name: string;
      loss: string;
      options: Record<string, unknown>;
      data: 'unpaired';
      inputs: UnpairedInputs;
      expected: { loss: number; gradient: { logps: number[] } };
    };

interface Fixture {
  generator: string;
  reference: Omit<PreferenceReference, 'fixture' | 'folder' | 'settings'> & { note?: string };
  cases: FixtureCase[];
}

const folder = new URL('../reference/', import.meta.url);
const fixtures = new Map<string, Fixture>(
  readdirSync(folder)
    .filter((f) => f.endsWith('.json'))
    .map((f) => [f.replace(/\.json$/, ''), JSON.parse(readFileSync(new URL(f, folder), 'utf8')) as Fixture]),
);
const losses = (plugin.losses ?? []) as Loss[];
const referencesOf = (loss: Loss): readonly PreferenceReference[] =>
  (loss as Loss & { references?: readonly PreferenceReference[] }).references ?? [];

function lossFor(name: string, options: Record<string, unknown>): Loss {
  const base = losses.find((l) => l.name === name);
  if (!base) throw new Error(`no loss '${name}' in the divergences plugin`);
  return Object.keys(options).length ? ((base.configure?.(options) as Loss | undefined) ?? base) : base;
}

const OPTIONAL_PAIR_INPUTS = [
  'refChosenLogps',
  'refRejectedLogps',
  'chosenTailLogps',
  'rejectedTailLogps',
  'refChosenTailLogps',
  'refRejectedTailLogps',
  'chosenAlignedLogps',
  'rejectedAlignedLogps',
] as const;

/** The loss and d loss / d (policy log-probs), as the trainer differentiates it. */
function pairedLossAndGradient(loss: PairLoss<Tf, Tensor>, inputs: PairedInputs) {
  const fixed = Object.fromEntries(
    OPTIONAL_PAIR_INPUTS.flatMap((key) => (inputs[key] ? [[key, tf.tensor1d(inputs[key] as number[])]] : [])),
  );
  // tfjs refuses the gradient of an input the loss does not read (SFT reads no rejected log-prob):
  // a zero term ties both inputs in without changing the value.
  const f = (chosen: Tensor, rejected: Tensor) =>
    tf.add(
      loss.loss(
        {
          chosenLogps: chosen,
          rejectedLogps: rejected,
          chosenLengths: tf.tensor1d(inputs.chosenLengths),
          rejectedLengths: tf.tensor1d(inputs.rejectedLengths),
          ...fixed,
        },
        tf,
      ).loss,
      tf.mul(0, tf.add(tf.sum(chosen), tf.sum(rejected))),
    ) as tf.Scalar;
  const { value, grads } = tf.valueAndGrads(f as (...x: tf.Tensor[]) => tf.Scalar)([
    tf.tensor1d(inputs.chosenLogps),
    tf.tensor1d(inputs.rejectedLogps),
  ]);
  return {
    value: value.dataSync()[0] as number,
    gradient: { chosenLogps: Array.from(grads[0]?.dataSync() ?? []), rejectedLogps: Array.from(grads[1]?.dataSync() ?? []) },
  };
}

function unpairedLossAndGradient(loss: LabelledLoss<Tf, Tensor>, inputs: UnpairedInputs) {
  const f = (logps: Tensor) =>
    loss.loss(
      {
        logps,
        refLogps: tf.tensor1d(inputs.refLogps),
        desirable: inputs.desirable,
        klLogps: tf.tensor1d(inputs.klLogps),
        klRefLogps: tf.tensor1d(inputs.klRefLogps),
        // KTO reads no lengths; the batch carries them for other labelled losses.
        lengths: tf.onesLike(logps),
      },
      tf,
    ).loss as tf.Scalar;
  const { value, grad } = tf.valueAndGrad(f as (x: tf.Tensor) => tf.Scalar)(tf.tensor1d(inputs.logps));
  return { value: value.dataSync()[0] as number, gradient: { logps: Array.from(grad.dataSync()) } };
}

/** 1e-5, relative above 1 (float32 carries ~7 digits of large losses such as IPO's). */
function expectClose(actual: number, expected: number, where: string): void {
  const tolerance = 1e-5 * Math.max(1, Math.abs(expected));
  expect(Math.abs(actual - expected), `${where}: got ${actual}, reference ${expected}`).toBeLessThanOrEqual(tolerance);
}

describe('preference-loss fixtures (TRL formulas in float64, replayed in float32 tensors)', () => {
  it('holds the fixture files the generator writes, each pinned to a commit', () => {
    expect(fixtures.size).toBeGreaterThanOrEqual(6);
    for (const [name, fixture] of fixtures) {
      expect(fixture.generator, name).toBe('packages/divergences/reference/generate.py');
      expect(fixture.reference.commit, name).toMatch(/^[0-9a-f]{40}$/);
      expect(fixture.cases.length, name).toBeGreaterThan(0);
    }
  });

  const all = [...fixtures].flatMap(([file, fixture]) =>
    fixture.cases.map((c) => [`${file}: ${c.loss} ${JSON.stringify(c.options)}, ${c.name}`, c] as const),
  );
  it.each(all)('%s', (_, c) => {
    const loss = lossFor(c.loss, c.options);
    if (c.data === 'paired') {
      expect(loss.kind).toBe('pairs');
      const { value, gradient } = pairedLossAndGradient(loss as PairLoss<Tf, Tensor>, c.inputs);
      expectClose(value, c.expected.loss, 'loss');
      for (const side of ['chosenLogps', 'rejectedLogps'] as const)
        c.expected.gradient[side].forEach((g, i) => expectClose(gradient[side][i] as number, g, `d loss / d ${side}[${i}]`));
    } else {
      expect(loss.kind).toBe('labelled');
      const { value, gradient } = unpairedLossAndGradient(loss as LabelledLoss<Tf, Tensor>, c.inputs);
      expectClose(value, c.expected.loss, 'loss');
      c.expected.gradient.logps.forEach((g, i) => expectClose(gradient.logps[i] as number, g, `d loss / d logps[${i}]`));
    }
  });
});

/** Claims of verl's own or TRL's behaviour. */
const CLAIMS = /(^|[^-\w])(verl|TRL)(?![-\w])/;

describe('checked references in loss meta', () => {
  const claiming = losses.filter((l) => CLAIMS.test(`${l.matches ?? ''} ${l.summary}`));

  it('every loss whose meta claims TRL or verl behaviour declares a reference with a fixture', () => {
    expect(claiming.length).toBeGreaterThanOrEqual(25);
    expect(claiming.filter((l) => referencesOf(l).length === 0).map((l) => l.name)).toEqual([]);
  });

  it('each declared reference names its fixture, and the fixture came from that file, commit and function', () => {
    const declared = losses.flatMap((l) => referencesOf(l).map((r) => [l.name, r] as const));
    expect(declared.length).toBeGreaterThanOrEqual(25);
    for (const [name, r] of declared) {
      const fixture = fixtures.get(r.fixture);
      expect(fixture, `${name}: fixture ${r.fixture}.json`).toBeDefined();
      const source = (fixture as Fixture).reference;
      const pick = (x: typeof source) => ({
        framework: x.framework,
        repo: x.repo,
        file: x.file,
        commit: x.commit,
        function: x.function,
      });
      expect(pick(source), `${name} -> ${r.fixture}`).toEqual(pick(r));
      expect(r.folder).toBe('packages/divergences/reference');
      expect(
        (fixture as Fixture).cases.some((c) => c.loss === name),
        `${r.fixture} has a case for ${name}`,
      ).toBe(true);
    }
  });

  it('every fixture case is declared by the loss it exercises (no orphan fixture)', () => {
    for (const [file, fixture] of fixtures)
      for (const c of fixture.cases) {
        const loss = losses.find((l) => l.name === c.loss);
        expect(loss, `${file}: loss ${c.loss}`).toBeDefined();
        expect(
          referencesOf(loss as Loss).some((r) => r.fixture === file),
          `${c.loss} declares ${file}`,
        ).toBe(true);
      }
  });
});

// ---------------------------------------------------------------------------------------------
// Worked by hand: one pair (or a few labelled completions) per loss, the expected value written
// from TRL's formula with Math alone.

const sigma = (x: number) => 1 / (1 + Math.exp(-x));
const logSigma = (x: number) => -Math.log1p(Math.exp(-x));

/** One pair: policy -2 / -3, reference -2.5 / -2.5 (c = 0.5, r = -0.5, Delta = 1), 4 and 2 tokens. */
const PAIR: PairedInputs = {
  chosenLogps: [-2],
  rejectedLogps: [-3],
  refChosenLogps: [-2.5],
  refRejectedLogps: [-2.5],
  chosenLengths: [4],
  rejectedLengths: [2],
};
const pairValue = (name: string, options: Record<string, unknown> = {}, inputs: PairedInputs = PAIR) =>
  pairedLossAndGradient(lossFor(name, options) as PairLoss<Tf, Tensor>, inputs).value;

describe('worked by hand (c = 0.5, r = -0.5, Delta = 1, L_w = 4, L_l = 2)', () => {
  const b = 0.1;
  const cases: [string, Record<string, unknown>, number][] = [
    ['dpo', {}, -logSigma(b)],
    ['dpo', { labelSmoothing: 0.2 }, -0.8 * logSigma(b) - 0.2 * logSigma(-b)],
    ['dpo-hinge', {}, 1 - b],
    // (0.5/4 + 0.5/2 - 1/(2 x 0.1))^2 = (0.375 - 5)^2
    ['dpo-ipo', {}, (0.375 - 5) ** 2],
    ['dpo-exo-pair', {}, sigma(b) * (logSigma(b) - Math.log(1 - 1e-3)) + sigma(-b) * (logSigma(-b) - Math.log(1e-3))],
    ['dpo-nca-pair', {}, -logSigma(0.05) - 0.5 * logSigma(-0.05) - 0.5 * logSigma(0.05)],
    ['dpo-robust', { labelSmoothing: 0.1 }, (-0.9 * logSigma(b) + 0.1 * logSigma(-b)) / 0.8],
    ['dpo-bco-pair', {}, -logSigma(0.05) - logSigma(0.05)],
    ['dpo-sppo-hard', {}, (0.5 - 5) ** 2 + (-0.5 + 5) ** 2],
    // One pair: sorting is the identity, so both AOT forms are the sigmoid loss on Delta.
    ['dpo-aot', {}, -logSigma(b)],
    ['dpo-aot-unpaired', {}, -logSigma(b)],
    ['dpo-apo-zero', {}, 1 - sigma(0.05) + sigma(-0.05)],
    ['dpo-apo-down', {}, sigma(0.05) + 1 - sigma(b)],
    ['dpo-discopop', {}, (1 - sigma(b / 0.05)) * -logSigma(b) + sigma(b / 0.05) * Math.exp(-b)],
    // Token mean over the 4 chosen tokens: -(-2) / 4.
    ['dpo-sft', {}, 0.5],
    ['dpo-sigmoid-norm', {}, -logSigma(b * (0.5 / 4 + 0.5 / 2))],
    // Scores -e^{-u}: Delta = e^{0.5} - e^{-0.5}.
    ['dpo-forward-kl', {}, -logSigma(b * (Math.exp(0.5) - Math.exp(-0.5)))],
    ['dpo-js', {}, -logSigma(b * (logSigma(0.5) - logSigma(-0.5)))],
    // alpha = 0.5: scores -2 e^{-u/2}.
    ['dpo-alpha', {}, -logSigma(b * (-2 * Math.exp(-0.25) + 2 * Math.exp(0.25)))],
    ['dpo-mix', {}, 0.8 * -logSigma(b) + 0.2 * (-logSigma(0.05) - logSigma(0.05)) + 0.5],
    // CPO: logits on summed log-probs -2 - (-3) = 1, plus the chosen NLL 0.5.
    ['cpo', {}, -logSigma(b) + 0.5],
    // SimPO: averaged -0.5 and -1.5, logits 1 - gamma / beta = 1 - 5.
    ['simpo', {}, -logSigma(b * (1 - 5))],
    // AlphaPO (alpha 0.25): s = (1 - e^{-0.25 a}) / 0.25 on the averages.
    ['alphapo', {}, -logSigma(b * ((1 - Math.exp(0.125)) / 0.25 - (1 - Math.exp(0.375)) / 0.25 - 5))],
  ];
  it.each(cases)('%s %j', (name, options, expected) => {
    expect(pairValue(name, options)).toBeCloseTo(expected, 5);
  });

  it('orpo: NLL of the chosen tokens minus beta log sigma(log odds) on the averages -0.5 and -1.5', () => {
    const logOdds = -0.5 + 1.5 - (Math.log1p(-Math.exp(-0.5)) - Math.log1p(-Math.exp(-1.5)));
    expect(pairValue('orpo')).toBeCloseTo(0.5 - 0.1 * logSigma(logOdds), 5);
  });

  it('WPO (use_weighting): the pair loss times exp(aligned_w) exp(aligned_l), with no cap at 1', () => {
    const weighted = { ...PAIR, chosenAlignedLogps: [0.3], rejectedAlignedLogps: [0.2] };
    expect(pairValue('dpo', { useWeighting: true }, weighted)).toBeCloseTo(-logSigma(b) * Math.exp(0.5), 5);
  });

  it('LD-DPO (ld_alpha): the chosen tail past the shared 2 tokens counts ld_alpha times, on both models', () => {
    // Chosen tail: policy -1 of -2, reference -1.25 of -2.5; ld_alpha 0.5 gives c = -1.5 - (-1.875) = 0.375.
    const tails = {
      ...PAIR,
      chosenTailLogps: [-1],
      rejectedTailLogps: [0],
      refChosenTailLogps: [-1.25],
      refRejectedTailLogps: [0],
    };
    expect(pairValue('dpo', { ldAlpha: 0.5 }, tails)).toBeCloseTo(-logSigma(b * (0.375 + 0.5)), 5);
  });

  it('kto and kto-apo-zero-unpaired on two desirable and one undesirable completion', () => {
    // z = 0.5, -1 (desirable), 1 (undesirable); the anchor is max(0, mean(0.5, 0, 0.7)) = 0.4.
    const inputs: UnpairedInputs = {
      logps: [-2, -4, -1],
      refLogps: [-2.5, -3, -2],
      desirable: [true, true, false],
      klLogps: [-3, -2, -2.8],
      klRefLogps: [-3.5, -2, -3.5],
    };
    const kl = (0.5 + 0 + 0.7) / 3;
    const kto = (1 - sigma(b * (0.5 - kl)) + (1 - sigma(b * (-1 - kl))) + (1 - sigma(b * (kl - 1)))) / 3;
    const apoZero = (1 - sigma(0.05) + (1 - sigma(-0.1)) + sigma(0.1)) / 3;
    const value = (name: string) => unpairedLossAndGradient(lossFor(name, {}) as LabelledLoss<Tf, Tensor>, inputs).value;
    expect(value('kto')).toBeCloseTo(kto, 5);
    expect(value('kto-apo-zero-unpaired')).toBeCloseTo(apoZero, 5);
  });

  it("kto-pair claims no TRL code: TRL's former kto_pair had the same value but let the gradient through both anchors", () => {
    // Two pairs, c = (1, 0.2), r = (-0.4, 0.6): anchors z_w = max(0, mean r) = 0.1, z_l = max(0, mean c) = 0.6.
    const inputs: PairedInputs = {
      chosenLogps: [-1, -2.8],
      rejectedLogps: [-3.4, -2.4],
      refChosenLogps: [-2, -3],
      refRejectedLogps: [-3, -3],
      chosenLengths: [1, 1],
      rejectedLengths: [1, 1],
    };
    const loss = lossFor('kto-pair', {});
    expect(CLAIMS.test(`${loss.matches ?? ''} ${loss.summary}`)).toBe(false);
    const { value, gradient } = pairedLossAndGradient(loss as PairLoss<Tf, Tensor>, inputs);
    const terms = [1 - sigma(b * (1 - 0.1)), 1 - sigma(b * (0.2 - 0.1)), 1 - sigma(b * (0.6 + 0.4)), 1 - sigma(b * (0.6 - 0.6))];
    expect(value).toBeCloseTo(terms.reduce((s, t) => s + t, 0) / 4, 5);
    // Held anchors: d/dc_0 = -b s(1-s) / 4 at s = sigma(0.09); TRL's kto_pair adds the path through z_l = mean c.
    const s0 = sigma(b * 0.9);
    expect(gradient.chosenLogps[0]).toBeCloseTo((-b * s0 * (1 - s0)) / 4, 6);
  });
});
