import { Registry } from '@policy-lab/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { scalar, tf, useCpu } from '../test-support/index.js';
import {
  asPairwiseLoss,
  dpoAotUnpaired,
  dpoBcoPair,
  dpoMix,
  dpoSft,
  dpoSigmoid,
  type PreferenceBatch,
  preferenceLosses,
  preferenceObjectives,
} from './index.js';

beforeAll(useCpu);

const batch = (): PreferenceBatch => ({
  chosenLogps: tf.tensor1d([-10, -4]),
  rejectedLogps: tf.tensor1d([-12, -3]),
  refChosenLogps: tf.tensor1d([-11, -4.5]),
  refRejectedLogps: tf.tensor1d([-11.5, -3.2]),
  chosenLengths: tf.tensor1d([5, 2]),
  rejectedLengths: tf.tensor1d([10, 3]),
});

describe('preferenceObjectives', () => {
  it('lists every objective once, kebab-case, with docs for every option', () => {
    const objectives = preferenceObjectives();
    const names = objectives.map((objective) => objective.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(
      expect.arrayContaining([
        'dpo',
        'dpo-ipo',
        'dpo-aot-unpaired',
        'dpo-alpha',
        'kto',
        'kto-pair',
        'orpo',
        'cpo',
        'simpo',
        'alphapo',
      ]),
    );
    expect(names).toHaveLength(26);
    for (const objective of objectives) {
      expect(objective.name).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
      expect(objective.summary.length).toBeGreaterThan(20);
      expect(objective.paper.arxiv).toMatch(/^\d{4}\.\d{5}$/);
      expect(objective.needsReference).toBe(objective.needs.reference);
      for (const spec of Object.values(objective.options)) expect(spec.doc.length).toBeGreaterThan(5);
      expect(objective.configure({}).resolved).toEqual(objective.resolved);
    }
  });

  it('reference-free objectives run without reference log-probs; the others say they need them', () => {
    const { refChosenLogps: _a, refRejectedLogps: _b, ...bare } = batch();
    for (const objective of preferenceObjectives()) {
      if (objective.data !== 'paired') continue;
      if (objective.needsReference) expect(() => objective.loss(bare, tf)).toThrow(/needs refChosenLogps/);
      else expect(Number.isFinite(scalar(objective.loss(bare, tf).loss))).toBe(true);
    }
  });
});

describe('asPairwiseLoss', () => {
  it('is a pair loss with the same value, and configures through', () => {
    const loss = asPairwiseLoss(dpoSigmoid());
    expect(loss.kind).toBe('pairs');
    expect(loss.needs?.reference).toBe(true);
    const pairwise = loss.loss(batch(), tf);
    expect(scalar(pairwise?.loss as tf.Tensor)).toBe(scalar(dpoSigmoid().loss(batch(), tf).loss));
    expect(loss.configure?.({ beta: 0.3 }).resolved).toMatchObject({ beta: 0.3 });
    const names = preferenceLosses().map((entry) => entry.name);
    expect(names).toContain('kto-pair');
    expect(names).toContain('kto');
  });
});

describe('asUnpairedLoss', () => {
  const lossNamed = (name: string) => {
    const loss = preferenceLosses().find((entry) => entry.name === name);
    if (loss?.kind !== 'labelled') throw new Error(`${name} must be a labelled loss`);
    return loss;
  };

  it("registers KTO on labelled completions: a hand-worked example through the trainer's batch (z0 from mismatched pairs)", () => {
    const loss = lossNamed('kto');
    expect(loss.kind).toBe('labelled');
    // z = [1.0, -0.2, 0.4] (summed log-ratios), labels desirable, desirable, undesirable;
    // the mismatched completions' log-ratios average 0.3 = z0.
    const result = loss.loss(
      {
        logps: tf.tensor1d([-9, -10.2, -9.6]),
        refLogps: tf.tensor1d([-10, -10, -10]),
        desirable: [true, true, false],
        klLogps: tf.tensor1d([-5, -5.1, -4.7]),
        klRefLogps: tf.tensor1d([-5.3, -5.3, -5.1]),
        lengths: tf.tensor1d([3, 3, 3]),
      },
      tf,
    );
    expect(scalar(result?.loss as tf.Tensor)).toBeCloseTo(0.4992, 4);
  });

  it('apo-zero-unpaired needs no anchor (0.4967) and a batch of one has none', () => {
    const loss = lossNamed('kto-apo-zero-unpaired');
    const result = loss.loss(
      {
        logps: tf.tensor1d([-9, -10.2, -9.6]),
        refLogps: tf.tensor1d([-10, -10, -10]),
        desirable: [true, true, false],
        lengths: tf.tensor1d([3, 3, 3]),
      },
      tf,
    );
    expect(scalar(result?.loss as tf.Tensor)).toBeCloseTo(0.4967, 4);
    const single = lossNamed('kto').loss(
      { logps: tf.tensor1d([-9]), refLogps: tf.tensor1d([-10]), desirable: [true], lengths: tf.tensor1d([3]) },
      tf,
    );
    // z0 = 0: 1 - sigma(0.1 x 1)
    expect(scalar(single?.loss as tf.Tensor)).toBeCloseTo(1 - 1 / (1 + Math.exp(-0.1)), 6);
  });
});

describe('dpo-mix', () => {
  it('the MPO recipe is 0.8 sigmoid + 0.2 bco_pair + 1.0 sft', () => {
    const expected =
      0.8 * scalar(dpoSigmoid().loss(batch(), tf).loss) +
      0.2 * scalar(dpoBcoPair().loss(batch(), tf).loss) +
      scalar(dpoSft().loss(batch(), tf).loss);
    const result = dpoMix().loss(batch(), tf);
    expect(scalar(result.loss)).toBeCloseTo(expected, 5);
    expect(scalar(result.metrics.loss_sft as tf.Tensor)).toBeCloseTo(14 / 7, 5);
    expect(dpoMix().needsReference).toBe(true);
    expect(dpoMix({ lossTypes: ['sft'], lossWeights: [1] }).needsReference).toBe(false);
  });

  it("accepts TRL's deprecated aot_pair as aot_unpaired and rejects bad lists", () => {
    const alias = dpoMix({ lossTypes: ['aot_pair'], lossWeights: [1] });
    expect(scalar(alias.loss(batch(), tf).loss)).toBeCloseTo(scalar(dpoAotUnpaired().loss(batch(), tf).loss), 6);
    expect(() => dpoMix({ lossTypes: ['sigmoid', 'nope'], lossWeights: [1, 1] })).toThrow(
      /unknown loss type 'nope'; accepted: sigmoid, hinge/,
    );
    expect(() => dpoMix({ lossTypes: ['sigmoid'], lossWeights: [1, 2] })).toThrow(/1 lossTypes but 2 lossWeights/);
    expect(() => dpoMix({ lossTypes: [], lossWeights: [] })).toThrow(/at least one/);
  });
});

describe('registry', () => {
  it('the paired objectives register as losses and take --set options', () => {
    const registry = new Registry();
    registry.register({ name: 'preference-objectives-under-test', losses: preferenceLosses() }, 'test');
    const ipo = registry.resolve('losses', { name: 'dpo-ipo', options: { beta: 0.5 } });
    expect(ipo.resolved).toMatchObject({ beta: 0.5 });
    if (ipo.kind !== 'pairs') throw new Error('dpo-ipo must be a pair loss');
    expect(scalar(ipo.loss(batch(), tf).loss as tf.Tensor)).toBeGreaterThan(0);
    expect(() => registry.resolve('losses', { name: 'simpo', options: { gama: 1 } })).toThrow(/unknown option 'gama'/);
    for (const entry of registry.list('losses')) expect(entry.item.unverified?.length, entry.item.name).toBeGreaterThan(0);
  });
});
