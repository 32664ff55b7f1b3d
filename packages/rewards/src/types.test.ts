// The signatures of the main factories, pinned as types: a change to a parameter or return type
// fails `npm run typecheck` (expectTypeOf is checked by tsc; at run time it only asserts the calls work).
import type { Plugin, RewardShaper, RewardVector } from '@policy-lab/core';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  type BleuOptions,
  type BleuResult,
  type ComposeOptions,
  compose,
  type FormatOptions,
  format,
  type OverlongOptions,
  overlong,
  plugin,
  sentenceBleu,
} from './index.js';

describe('@policy-lab/rewards factory types', () => {
  it('shaper factories return a RewardShaper; compose and BLEU keep their signatures', () => {
    expectTypeOf(format).toEqualTypeOf<(options?: FormatOptions) => RewardShaper>();
    expectTypeOf(overlong).toEqualTypeOf<(options?: OverlongOptions) => RewardShaper>();
    expectTypeOf(compose).toEqualTypeOf<(reward: RewardVector, options: ComposeOptions) => number>();
    expectTypeOf(sentenceBleu).toEqualTypeOf<(hyp: string, refs: readonly string[], options?: BleuOptions) => BleuResult>();
    expect(sentenceBleu('a b c d', ['a b c d']).score).toBeCloseTo(100);
  });

  it('the plugin is a core Plugin', () => {
    expectTypeOf(plugin).toEqualTypeOf<Plugin>();
    expect(plugin.shapers?.length).toBeGreaterThan(0);
  });
});
