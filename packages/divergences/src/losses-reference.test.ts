/**
 * The losses of this package that claim TRL's or verl's behaviour in their meta, walked from the
 * registered plugin. None has a fixture generated from the reference's code yet (the row losses of
 * @policy-lab/trainer have theirs in packages/trainer/reference/): this test lists them, so that a
 * new claim cannot appear unnoticed and a claim that gains a fixture (a `references` entry) must
 * leave the list.
 */
import { describe, expect, it } from 'vitest';
import { plugin } from './index.js';

const CLAIMS = /(^|[^-\w])(verl|TRL)(?![-\w])/;

/** Claims checked by the hand-worked tests of this package only, with no fixture from TRL's code. */
const WITHOUT_FIXTURE = [
  'alphapo',
  'cpo',
  'dpo',
  'dpo-alpha',
  'dpo-aot',
  'dpo-aot-unpaired',
  'dpo-apo-down',
  'dpo-apo-zero',
  'dpo-bco-pair',
  'dpo-discopop',
  'dpo-exo-pair',
  'dpo-forward-kl',
  'dpo-hinge',
  'dpo-ipo',
  'dpo-js',
  'dpo-mix',
  'dpo-nca-pair',
  'dpo-robust',
  'dpo-sft',
  'dpo-sigmoid-norm',
  'dpo-sppo-hard',
  'kto',
  'kto-apo-zero-unpaired',
  'kto-pair',
  'orpo',
  'simpo',
];

describe('losses that claim TRL or verl behaviour', () => {
  const losses = plugin.losses ?? [];
  const claiming = losses.filter((l) => CLAIMS.test(`${l.matches ?? ''} ${l.summary}`));

  it('are exactly the listed ones, none of which declares a fixture yet', () => {
    expect(claiming.map((l) => l.name).sort()).toEqual([...WITHOUT_FIXTURE].sort());
    for (const loss of claiming) expect((loss as { references?: unknown[] }).references, loss.name).toBeUndefined();
  });
});
