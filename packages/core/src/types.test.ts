// The signatures of the main factories, pinned as types: a change to a parameter or return type
// fails `npm run typecheck` (expectTypeOf is checked by tsc; at run time it only asserts the calls work).
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  type AdvantageEstimator,
  type BudgetLimit,
  defineEstimator,
  definePlugin,
  type Plugin,
  parseBudget,
  Registry,
  Rng,
} from './index.js';
import { type CreateRegistryOptions, createRegistry, defineConfig, type LoadedRegistry, type PolicyLabConfig } from './node.js';

describe('@policy-lab/core factory types', () => {
  it('define* helpers keep the exact type they are given', () => {
    const estimator = defineEstimator({
      name: 'typed',
      summary: 'a typed estimator',
      extra: true as const,
      compute: (groups) => ({ rollout: groups.map((g) => g.map(() => 0)), weights: groups.map((g) => g.map(() => 1)) }),
    });
    expectTypeOf(estimator).toMatchTypeOf<AdvantageEstimator>();
    expectTypeOf(estimator.extra).toEqualTypeOf<true>();
    expectTypeOf(definePlugin).parameter(0).toEqualTypeOf<Plugin>();
    expectTypeOf(definePlugin).returns.toEqualTypeOf<Plugin>();
    expect(estimator.name).toBe('typed');
  });

  it('budgets, randomness and the registry', () => {
    expectTypeOf(parseBudget).toEqualTypeOf<(text: string) => BudgetLimit>();
    expectTypeOf(Rng.seeded).returns.toEqualTypeOf<Rng>();
    expectTypeOf(new Registry().register).parameters.toEqualTypeOf<[plugin: Plugin, source: string]>();
    expect(parseBudget('episodes=8')).toMatchObject({ episodes: 8 });
  });

  it('the Node loader (@policy-lab/core/node)', () => {
    expectTypeOf(createRegistry).parameter(0).toEqualTypeOf<CreateRegistryOptions | undefined>();
    expectTypeOf(createRegistry).returns.resolves.toEqualTypeOf<LoadedRegistry>();
    expectTypeOf(defineConfig).toEqualTypeOf<(config: PolicyLabConfig) => PolicyLabConfig>();
    expect(defineConfig({ plugins: [] })).toEqual({ plugins: [] });
  });
});
