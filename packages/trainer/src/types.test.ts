// The signatures of the main factories, pinned as types: a change to a parameter or return type
// fails `npm run typecheck` (expectTypeOf is checked by tsc; at run time it only asserts the calls work).
import type { Plugin, Rng } from '@policy-lab/core';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  type BackendInfo,
  type BackendOptions,
  createPolicy,
  initBackend,
  type PolicyConfig,
  plugin,
  type TrainOptions,
  type TrainResult,
  TransformerPolicy,
  train,
} from './index.js';

describe('@policy-lab/trainer factory types', () => {
  it('train, initBackend and createPolicy keep their signatures', () => {
    expectTypeOf(train).toEqualTypeOf<(options: TrainOptions) => Promise<TrainResult>>();
    expectTypeOf(initBackend).toEqualTypeOf<(options?: BackendOptions) => Promise<BackendInfo>>();
    expectTypeOf(createPolicy).toEqualTypeOf<(config: PolicyConfig, rng: Rng) => TransformerPolicy>();
    expect(typeof TransformerPolicy).toBe('function');
  });

  it('the plugin is a core Plugin', () => {
    expectTypeOf(plugin).toMatchTypeOf<Plugin>();
    expect(plugin.name).toBe('@policy-lab/trainer');
  });
});
