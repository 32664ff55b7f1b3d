import { describe, expect, it } from 'vitest';
import type { AdvantageEstimator, Plugin } from './contracts.js';
import { isUsageError } from './errors.js';
import { Registry } from './registry.js';

const estimator = (name: string, extra: Partial<AdvantageEstimator> = {}): AdvantageEstimator => ({
  name,
  summary: `${name} estimator`,
  compute: (groups) => ({ rollout: groups.map((g) => g.map(() => 0)), weights: groups.map((g) => g.map(() => 1)) }),
  ...extra,
});

describe('Registry', () => {
  it('an option value a factory refuses is a usage error (exit 2) naming the plugin, not a crash', () => {
    const registry = new Registry();
    const configurable = estimator('scaled', {
      configure(options) {
        if ((options.scale as number) <= 0) throw new RangeError(`scaled: scale must be > 0, got ${options.scale}`);
        return estimator('scaled');
      },
    });
    registry.register({ name: 'p', estimators: [configurable] }, 'pkg-p');
    let caught: unknown;
    try {
      registry.resolve('estimators', 'scaled', { scale: -1 });
    } catch (error) {
      caught = error;
    }
    expect(isUsageError(caught)).toBe(true);
    expect((caught as Error).message).toBe('scaled: scale must be > 0, got -1');
    expect(registry.resolve('estimators', 'scaled', { scale: 2 }).name).toBe('scaled');
  });

  it('registers every kind and looks entries up by name', () => {
    const registry = new Registry();
    const plugin: Plugin = {
      name: 'p',
      estimators: [estimator('grpo'), estimator('rloo')],
      methods: [{ name: 'grpo', summary: 'GRPO recipe', estimator: 'grpo', loss: 'ppo-clip' }],
    };
    registry.register(plugin, 'pkg-p');
    expect(registry.names('estimators')).toEqual(['grpo', 'rloo']);
    // one namespace per kind: a method and an estimator may share a name
    expect(registry.get('methods', 'grpo').estimator).toBe('grpo');
    expect(registry.entry('estimators', 'rloo')).toMatchObject({ plugin: 'p', source: 'pkg-p' });
  });

  it('refuses a duplicate within a kind, naming both sources, and leaves no partial state', () => {
    const registry = new Registry();
    registry.register({ name: 'a', estimators: [estimator('grpo')] }, 'pkg-a');
    expect(() => registry.register({ name: 'b', estimators: [estimator('x'), estimator('grpo')] }, './b.js')).toThrow(
      /duplicate estimator 'grpo': from pkg-a \(plugin 'a'\) and from \.\/b\.js/,
    );
    expect(registry.has('estimators', 'x')).toBe(false);
    expect(() => registry.register({ name: 'a', estimators: [] }, './other.js')).toThrow(
      /registered twice: from pkg-a and from \.\/other\.js/,
    );
  });

  it('suggests the closest names for an unknown one', () => {
    const registry = new Registry();
    registry.register({ name: 'a', estimators: [estimator('grpo'), estimator('mc-grpo'), estimator('rloo')] }, 'pkg');
    expect(() => registry.get('estimators', 'gpro')).toThrow(/unknown estimator 'gpro': did you mean grpo/);
    expect(() => registry.get('environments', 'countdown')).toThrow(/unknown environment 'countdown': none are registered/);
  });

  it('applies options through configure, and refuses options for a plugin without one', () => {
    const registry = new Registry();
    const make = (eps: number): AdvantageEstimator =>
      estimator('scaled', { resolved: { eps }, configure: (o) => make(Number(o.eps ?? eps)) as never });
    registry.register({ name: 'a', estimators: [make(1), estimator('plain')] }, 'pkg');
    expect(registry.resolve('estimators', { name: 'scaled', options: { eps: 3 } }).resolved).toEqual({ eps: 3 });
    expect(registry.resolve('estimators', 'scaled', { eps: 5 }).resolved).toEqual({ eps: 5 });
    expect(() => registry.resolve('estimators', 'plain', { eps: 1 })).toThrow(/takes no options, got eps/);
  });

  it('validates plugin objects with errors that name the field', () => {
    const registry = new Registry();
    expect(() => registry.register({ name: 'bad', estimators: [{ name: 'x', summary: 's' } as never] }, 'src')).toThrow(
      /estimators\[0\] 'x': field 'compute' must be a function/,
    );
    expect(() => registry.register({ name: 'bad', estimators: [estimator('Bad_Name')] }, 'src')).toThrow(
      /field 'name' must be kebab-case/,
    );
    expect(() => registry.register({ name: 'bad', wat: [] } as never, 'src')).toThrow(/unknown field 'wat'/);
    expect(() =>
      registry.register(
        {
          name: 'bad',
          environments: [
            {
              name: 'e',
              summary: 's',
              rewardComponents: [{ name: 'c' }],
              maxTurns: 1,
              tasks() {},
              taskId() {},
              start() {},
            } as never,
          ],
        },
        'src',
      ),
    ).toThrow(/rewardComponents\[0\] must be \{ name: string, weight: number \}/);
    expect(() =>
      registry.register({ name: 'bad', methods: [{ name: 'm', summary: 's', estimator: 'grpo' } as never] }, 'src'),
    ).toThrow(/field 'loss' must be a plugin name/);
  });
});
