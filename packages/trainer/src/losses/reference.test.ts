/**
 * Replays the loss fixtures (packages/trainer/reference/*.json, written by generate.py from verl's
 * and TRL's formulas) against the losses: the loss and its gradient with respect to the
 * log-probabilities, to 1e-5 (float32 tensors). Checks that every loss that claims verl or TRL
 * behaviour declares a fixture, and works small cases by hand, so that a misreading of the
 * reference shows as a disagreement between the two.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { type Aggregation, type LossBatch, Rng, type RowLoss } from '@policy-lab/core';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/select-backend.js';
import { plugin } from '../plugin.js';
import { gspoToken, trlClip } from './catalog.js';
import { ppoClip } from './ppo-clip.js';
import { type LossReference, lossReferencesOf } from './reference.js';

beforeAll(async () => {
  await initBackend({ name: 'cpu' });
});

type Loss = RowLoss<typeof tf, tf.Tensor>;

interface Inputs {
  logprobs: number[][];
  oldLogprobs: number[][];
  advantages: number[][];
  mask: number[][];
  weights: number[];
}

interface FixtureCase {
  name: string;
  loss: string;
  options: Record<string, unknown>;
  aggregation: Aggregation;
  normLength: number;
  inputs: Inputs;
  expected: { loss: number; gradient: number[][] };
}

interface Fixture {
  generator: string;
  reference: Pick<LossReference, 'framework' | 'repo' | 'file' | 'commit' | 'function'> & { note?: string };
  cases: FixtureCase[];
}

const folder = new URL('../../reference/', import.meta.url);
const fixtures = new Map<string, Fixture>(
  readdirSync(folder)
    .filter((f) => f.endsWith('.json'))
    .map((f) => [f.replace(/\.json$/, ''), JSON.parse(readFileSync(new URL(f, folder), 'utf8')) as Fixture]),
);
const TOLERANCE = 1e-5;
const losses = (plugin.losses ?? []) as Loss[];

function lossFor(name: string, options: Record<string, unknown>): Loss {
  const base = losses.find((l) => l.name === name);
  if (!base) throw new Error(`no loss '${name}' in the trainer plugin`);
  return Object.keys(options).length ? ((base.configure?.(options) as Loss | undefined) ?? base) : base;
}

function batchOf(inputs: Inputs, logprobs: tf.Tensor, aggregation: Aggregation, normLength: number): LossBatch<tf.Tensor> {
  return {
    logprobs,
    oldLogprobs: tf.tensor2d(inputs.oldLogprobs),
    advantages: tf.tensor2d(inputs.advantages),
    mask: tf.tensor2d(inputs.mask),
    weights: tf.tensor1d(inputs.weights),
    aggregation,
    normLength,
    rng: Rng.seeded(3),
  };
}

/** The loss and d loss / d logprobs, as the trainer differentiates it. */
function lossAndGradient(
  loss: Loss,
  inputs: Inputs,
  aggregation: Aggregation,
  normLength: number,
): { value: number; gradient: number[][] } {
  const logprobs = tf.tensor2d(inputs.logprobs);
  const { value, grad } = tf.valueAndGrad(
    (lp: tf.Tensor) => loss.loss(batchOf(inputs, lp, aggregation, normLength), tf).loss as tf.Scalar,
  )(logprobs);
  return { value: value.dataSync()[0] as number, gradient: grad.arraySync() as number[][] };
}

function expectClose(actual: number, expected: number, where: string): void {
  expect(Math.abs(actual - expected), `${where}: got ${actual}, reference ${expected}`).toBeLessThanOrEqual(TOLERANCE);
}

describe('loss fixtures (verl and TRL formulas in float64, replayed in float32 tensors)', () => {
  it('holds the fixture files the generator writes', () => {
    expect(fixtures.size).toBeGreaterThanOrEqual(15);
    for (const [name, fixture] of fixtures) {
      expect(fixture.generator, name).toBe('packages/trainer/reference/generate.py');
      expect(fixture.cases.length, name).toBeGreaterThan(0);
    }
  });

  const all = [...fixtures].flatMap(([file, fixture]) =>
    fixture.cases.map((c) => [`${file}: ${c.loss} ${JSON.stringify(c.options)} ${c.aggregation}, ${c.name}`, c] as const),
  );
  it.each(all)('%s', (_, c) => {
    const { value, gradient } = lossAndGradient(lossFor(c.loss, c.options), c.inputs, c.aggregation, c.normLength);
    expectClose(value, c.expected.loss, 'loss');
    c.expected.gradient.forEach((row, i) =>
      row.forEach((g, t) => expectClose(gradient[i]?.[t] as number, g, `d loss / d logprobs[${i}][${t}]`)),
    );
  });
});

/** Claims of verl's own or TRL's behaviour. */
const CLAIMS = /(^|[^-\w])(verl|TRL)(?![-\w])/;
/** Losses that claim a reference with no fixture yet, and why. */
const WITHOUT_FIXTURE: Record<string, string> = {};

describe('checked references in loss meta', () => {
  it('every loss whose meta claims verl or TRL behaviour declares a reference with a fixture', () => {
    const claiming = losses.filter((l) => CLAIMS.test(`${l.matches ?? ''} ${l.summary}`));
    expect(claiming.length).toBeGreaterThanOrEqual(14);
    const missing = claiming.filter((l) => lossReferencesOf(l).length === 0 && !WITHOUT_FIXTURE[l.name]).map((l) => l.name);
    expect(missing).toEqual([]);
    // An exemption that is no longer needed must go.
    for (const name of Object.keys(WITHOUT_FIXTURE)) {
      const loss = losses.find((l) => l.name === name);
      expect(loss && lossReferencesOf(loss).length, `${name} is exempt but declares references`).toBe(0);
    }
  });

  it("dro claims no reference implementation: verl's code for loss_mode=dro is in no stored copy", () => {
    const loss = losses.find((l) => l.name === 'dro') as Loss;
    expect(CLAIMS.test(`${loss.matches ?? ''} ${loss.summary}`)).toBe(false);
    expect(loss.unverified?.join(' ')).toMatch(/no claim to match/);
  });

  it('each declared reference names its fixture, and the fixture came from that file, commit and function', () => {
    const declared = losses.flatMap((l) => lossReferencesOf(l).map((r) => [l.name, r] as const));
    expect(declared.length).toBeGreaterThanOrEqual(15);
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
      expect(r.commit, `${r.fixture}: every TRL and verl loss fixture is pinned to a commit`).toMatch(/^[0-9a-f]{40}$/);
      expect(r.folder).toBe('packages/trainer/reference');
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
          lossReferencesOf(loss as Loss).some((r) => r.fixture === file),
          `${c.loss} declares ${file}`,
        ).toBe(true);
      }
  });
});

describe('worked by hand', () => {
  /** Rows of one token each unless a mask says otherwise; old = logprobs (ratio 1). */
  const onPolicy = (advantages: number[][], mask: number[][], weights = advantages.map(() => 1)): Inputs => {
    const logprobs = advantages.map((row) => row.map(() => -1));
    return { logprobs, oldLogprobs: logprobs, advantages, mask, weights };
  };

  it('trl-clip counts an empty completion in B (TRL), ppo-clip does not (verl); a weight-0 row counts in neither', () => {
    // Rows: 2 tokens with A = 1, an empty completion, a weight-0 row. On policy the per-token loss is -A.
    const inputs = onPolicy(
      [
        [1, 1],
        [0.5, 0.5],
        [3, 3],
      ],
      [
        [1, 1],
        [0, 0],
        [1, 1],
      ],
      [1, 1, 0],
    );
    const trl = (mode: Aggregation) => lossAndGradient(trlClip(), inputs, mode, 4).value;
    const verl = (mode: Aggregation) => lossAndGradient(ppoClip(), inputs, mode, 4).value;
    // grpo: mean over B = 2 rows of the row means {-1, 0}; verl: one non-empty row.
    expect(trl('seq-mean-token-mean')).toBeCloseTo(-0.5, 6);
    expect(verl('seq-mean-token-mean')).toBeCloseTo(-1, 6);
    // dr_grpo: -2 / (2 x 4); verl with loss_scale_factor 4: -2 / (1 x 4).
    expect(trl('seq-mean-token-sum-norm')).toBeCloseTo(-0.25, 6);
    expect(verl('seq-mean-token-sum-norm')).toBeCloseTo(-0.5, 6);
    // bnpo / token-mean: rows do not count.
    expect(trl('token-mean')).toBeCloseTo(-1, 6);
    expect(verl('token-mean')).toBeCloseTo(-1, 6);
  });

  it('dppo-kl bounds a token moving with A > 0 by epsHigh, with A < 0 by epsLow; a move against A is always kept (verl)', () => {
    // p_old = 0.5 -> 0.52 or 0.48: binary KL = 0.5 ln(0.5/0.52) + 0.5 ln(0.5/0.48) ~ 8.0e-4 either way.
    const kl = 0.5 * Math.log(0.5 / 0.52) + 0.5 * Math.log(0.5 / 0.48);
    expect(kl).toBeGreaterThan(5e-4);
    expect(kl).toBeLessThan(2e-3);
    const token = (p: number, a: number): Inputs => ({
      logprobs: [[Math.log(p)]],
      oldLogprobs: [[Math.log(0.5)]],
      advantages: [[a]],
      mask: [[1]],
      weights: [1],
    });
    const value = (p: number, a: number, epsLow: number, epsHigh: number) =>
      lossAndGradient(lossFor('dppo-kl', { epsLow, epsHigh, cap: 3 }), token(p, a), 'token-mean', 1).value;
    // Inside the region l = -A sg(min(rho, C)) log p, outside 0.
    const up = -1.04 * Math.log(0.52);
    const down = 0.96 * Math.log(0.48);
    expect(value(0.52, 1, 5e-4, 2e-3)).toBeCloseTo(up, 5);
    expect(value(0.52, 1, 2e-3, 5e-4)).toBe(0);
    expect(value(0.48, -1, 2e-3, 5e-4)).toBeCloseTo(down, 5);
    expect(value(0.48, -1, 5e-4, 2e-3)).toBe(0);
    // Against A (p fell with A > 0, rose with A < 0): kept whatever the bounds.
    expect(value(0.48, 1, 5e-4, 5e-4)).toBeCloseTo(-0.96 * Math.log(0.48), 5);
    expect(value(0.52, -1, 5e-4, 5e-4)).toBeCloseTo(1.04 * Math.log(0.52), 5);
  });

  it('gpg is -A log pi, aggregated by the run mode (verl gpg)', () => {
    const inputs = onPolicy([[2, 2, 0]], [[1, 1, 0]]);
    // log pi = -1 on both trained tokens: per token 2; token-mean 2; norm with N = 4: 4 / (1 x 4).
    expect(lossAndGradient(lossFor('gpg', {}), inputs, 'token-mean', 4).value).toBeCloseTo(2, 6);
    expect(lossAndGradient(lossFor('gpg', {}), inputs, 'seq-mean-token-sum-norm', 4).value).toBeCloseTo(1, 6);
  });

  it('GSPO-token and GSPO-sequence: equal loss; equal gradient with one advantage per row, different otherwise', () => {
    // One row of 2 tokens, log ratios 0.01 and -0.01 (mean 0: s = 1, inside the clip).
    const base = { logprobs: [[-1, -2]], oldLogprobs: [[-1.01, -1.99]], mask: [[1, 1]], weights: [1] };
    const sequence = ppoClip({ ratio: 'sequence', clipLow: 0.2, clipHigh: 0.2 });
    const token = gspoToken({ clipLow: 0.2, clipHigh: 0.2 });
    const run = (loss: Loss, advantages: number[][]) => lossAndGradient(loss, { ...base, advantages }, 'seq-mean-token-mean', 2);

    // Shared advantage A = 1: loss -s = -1; d/d log pi_t = -(1/2) s A (seq-mean-token-mean over 2 tokens) for both.
    const shared = [[1, 1]];
    const [seqShared, tokShared] = [run(sequence, shared), run(token, shared)];
    expect(seqShared.value).toBeCloseTo(-1, 6);
    expect(tokShared.value).toBeCloseTo(-1, 6);
    for (const g of [seqShared.gradient[0], tokShared.gradient[0]]) {
      expect(g?.[0]).toBeCloseTo(-0.5, 6);
      expect(g?.[1]).toBeCloseTo(-0.5, 6);
    }

    // A = (2, 0): same loss -1. GSPO-sequence: L = -(s/2)(A_1 + A_2) and ds/d log pi_t = s/2, so each
    // token gets -(1/4)(2 + 0) = -0.5; GSPO-token: d/d log pi_t = -(1/2) s A_t = (-1, 0).
    const varying = [[2, 0]];
    const [seqVarying, tokVarying] = [run(sequence, varying), run(token, varying)];
    expect(seqVarying.value).toBeCloseTo(-1, 6);
    expect(tokVarying.value).toBeCloseTo(-1, 6);
    expect(seqVarying.gradient[0]?.[0]).toBeCloseTo(-0.5, 6);
    expect(seqVarying.gradient[0]?.[1]).toBeCloseTo(-0.5, 6);
    expect(tokVarying.gradient[0]?.[0]).toBeCloseTo(-1, 6);
    expect(tokVarying.gradient[0]?.[1]).toBeCloseTo(0, 6);
  });
});
