// The signatures of the main factories, pinned as types: a change to a parameter or return type
// fails `npm run typecheck` (expectTypeOf is checked by tsc; at run time it only asserts the calls work).
import type { AdvantageEstimator, Method, Plugin } from '@policy-lab/core';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { type GdpoOptions, type GrpoOptions, gdpo, grpo, type McGrpoOptions, mcGrpo, plugin, rloo } from './index.js';

describe('@policy-lab/advantage factory types', () => {
  it('estimator factories take their options object and return an AdvantageEstimator', () => {
    expectTypeOf(grpo).toEqualTypeOf<(options?: GrpoOptions) => AdvantageEstimator>();
    expectTypeOf(rloo).returns.toEqualTypeOf<AdvantageEstimator>();
    expectTypeOf(gdpo).toEqualTypeOf<(options?: GdpoOptions) => AdvantageEstimator>();
    expectTypeOf(mcGrpo).toEqualTypeOf<(options?: McGrpoOptions) => AdvantageEstimator>();
    expect(grpo().name).toBe('grpo');
  });

  it('the plugin is a core Plugin with methods', () => {
    expectTypeOf(plugin).toMatchTypeOf<Plugin>();
    expectTypeOf<NonNullable<typeof plugin.methods>[number]>().toMatchTypeOf<Method>();
    expect(plugin.name).toBe('@policy-lab/advantage');
  });
});
