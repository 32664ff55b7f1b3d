import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatBudget, parseBudget } from '@policy-lab/core';
import { createRegistry } from '@policy-lab/core/node';
import { describe, expect, it } from 'vitest';
import { budgetOf, budgetsWords, fingerprint, overridesFor, PRESETS, planComparison, presetDeviations } from './plan.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const { registry } = await createRegistry({ cwd: root, discoverFrom: [root] });
const input = { overrides: {}, backend: 'wasm', kernels: 'fast', methods: ['grpo'], preset: 'leaderboard' };
const perEnv = PRESETS.leaderboard.perEnv ?? {};
// An environment the leaderboard sizes apart, and one it does not.
const apart = Object.keys(perEnv).find((env) => perEnv[env]?.budget && perEnv[env]?.overrides?.evalTasks !== undefined) as string;
const plain = registry.names('environments').find((env) => !(env in perEnv)) as string;

describe("the leaderboard preset's per-environment sizes", () => {
  it('gives an environment sized apart its own budget and evalTasks, and the others the preset’s', () => {
    expect(apart).toBeDefined();
    expect(plain).toBeDefined();
    const config = planComparison(registry, { ...input, envs: `${plain},${apart}` });
    expect(formatBudget(budgetOf(config, apart))).toBe(formatBudget(parseBudget(perEnv[apart]?.budget as string)));
    expect(formatBudget(budgetOf(config, plain))).toBe(formatBudget(parseBudget(PRESETS.leaderboard.budget)));
    expect(overridesFor(config, 'grpo', apart).evalTasks).toBe(perEnv[apart]?.overrides?.evalTasks);
    expect(overridesFor(config, 'grpo', plain).evalTasks).toBe(PRESETS.leaderboard.overrides.evalTasks);
    expect(budgetsWords(config)).toContain(`(${apart}: `);
  });

  it('yields to --budget and to a --set of the same key', () => {
    const config = planComparison(registry, {
      ...input,
      envs: `${plain},${apart}`,
      budget: 'episodes=96',
      overrides: { evalTasks: 20 },
    });
    expect(config.envBudgets).toBeUndefined();
    expect(formatBudget(budgetOf(config, apart))).toBe('episodes=96');
    expect(overridesFor(config, 'grpo', apart).evalTasks).toBe(20);
    expect(budgetsWords(config)).toBe('episodes 96 per run');
  });

  it('is part of what --resume checks: other sizes are another comparison', () => {
    const sized = planComparison(registry, { ...input, envs: apart });
    const flat = planComparison(registry, { ...input, envs: apart, budget: PRESETS.leaderboard.budget });
    expect(formatBudget(flat.budget)).toBe(formatBudget(sized.budget));
    expect(fingerprint(sized)).not.toBe(fingerprint(flat));
  });
});

describe('the environments a leaderboard runs', () => {
  it('the preset leaves out only environments it names, each with a reason', () => {
    const leftOut = Object.entries(PRESETS.leaderboard.leavesOut ?? {});
    for (const [env, reason] of leftOut) {
      expect(registry.names('environments')).toContain(env);
      expect(reason.length).toBeGreaterThan(20);
    }
  });

  it('its own set (every environment but those left out) is no deviation from the preset; a named --env set is', () => {
    const envs = registry.names('environments').filter((env) => !(env in (PRESETS.leaderboard.leavesOut ?? {})));
    const board = (leftOut?: { env: string; reason: string }[]) =>
      planComparison(registry, {
        ...input,
        envs: envs.join(','),
        leaderboard: { reference: 'grpo', ...(leftOut ? { leftOut } : {}) },
      });
    expect(presetDeviations(board([{ env: 'webshop', reason: 'too slow' }]))).toEqual([]);
    expect(presetDeviations(board())).toEqual([`environments ${envs.join(', ')}`]);
  });
});
