// The signatures of the main factories, pinned as types: a change to a parameter or return type
// fails `npm run typecheck` (expectTypeOf is checked by tsc; at run time it only asserts the calls work).
import type { Environment, Plugin } from '@policy-lab/core';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  type CountdownOptions,
  type CountdownTask,
  countdown,
  type GridnavOptions,
  type GridnavTask,
  gridnav,
  plugin,
  type WebshopOptions,
  type WebshopTask,
  webshop,
} from './index.js';

describe('@policy-lab/envs factory types', () => {
  it('environment factories return an Environment of their task type', () => {
    expectTypeOf(countdown).toEqualTypeOf<(options?: CountdownOptions) => Environment<CountdownTask>>();
    expectTypeOf(gridnav).toEqualTypeOf<(options?: GridnavOptions) => Environment<GridnavTask>>();
    expectTypeOf(webshop).toEqualTypeOf<(options?: WebshopOptions) => Environment<WebshopTask>>();
    expect(countdown().name).toBe('countdown');
  });

  it('the plugin is a core Plugin', () => {
    expectTypeOf(plugin).toEqualTypeOf<Plugin>();
    expect(plugin.environments?.length).toBeGreaterThan(0);
  });
});
