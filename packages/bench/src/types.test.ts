// The signatures of the main factories, pinned as types: a change to a parameter or return type
// fails `npm run typecheck` (expectTypeOf is checked by tsc; at run time it only asserts the calls work).

import type { Registry } from '@policy-lab/core';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { type CompareConfig, type Io, iqm, main, planComparison, runComparison } from './index.js';

describe('@policy-lab/bench factory types', () => {
  it('main, the comparison entry points and the statistics keep their signatures', () => {
    expectTypeOf(main).toEqualTypeOf<(argv: readonly string[], io?: Io) => Promise<number>>();
    expectTypeOf(iqm).toEqualTypeOf<(scores: readonly number[]) => number>();
    expectTypeOf(planComparison).parameter(0).toEqualTypeOf<Registry>();
    expectTypeOf(planComparison).returns.toEqualTypeOf<CompareConfig>();
    expectTypeOf(runComparison).returns.resolves.not.toBeAny();
    expect(iqm([1, 2, 3, 4])).toBe(2.5);
  });
});
