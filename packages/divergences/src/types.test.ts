// The signatures of the main factories, pinned as types: a change to a parameter or return type
// fails `npm run typecheck` (expectTypeOf is checked by tsc; at run time it only asserts the calls work).
import type { Divergence, PairLoss, Plugin, PolicyLoss, RowLoss } from '@policy-lab/core';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  type DpoOptions,
  dpo,
  type FDivergence,
  type KlOptions,
  kl,
  plugin,
  type SftOptions,
  sft,
  type Tensor,
  type TensorLoss,
  type Tf,
} from './index.js';

describe('@policy-lab/divergences factory types', () => {
  it('losses are core losses of their kind over tfjs tensors; divergences are core Divergences', () => {
    expectTypeOf<TensorLoss>().toEqualTypeOf<PolicyLoss<Tf, Tensor>>();
    expectTypeOf(dpo).toEqualTypeOf<(options?: DpoOptions) => PairLoss<Tf, Tensor>>();
    expectTypeOf(sft).toEqualTypeOf<(options?: SftOptions) => RowLoss<Tf, Tensor>>();
    expectTypeOf(kl).returns.toEqualTypeOf<FDivergence>();
    expectTypeOf(kl).parameter(0).toEqualTypeOf<KlOptions | undefined>();
    expectTypeOf<FDivergence>().toMatchTypeOf<Divergence<Tf, Tensor>>();
    expect(dpo().name).toBe('dpo');
  });

  it('the plugin is a core Plugin', () => {
    expectTypeOf(plugin).toEqualTypeOf<Plugin>();
    expect(plugin.losses?.length).toBeGreaterThan(0);
  });
});
