import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Registry, type Rollout } from '@policy-lab/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/select-backend.js';
import { plugin as trainerPlugin } from '../plugin.js';
import { TINY, plugin as tinyPlugin } from '../test-support/tiny.js';
import { pairsFromGroups, parsePreferenceJsonl } from './preference.js';
import { train } from './run-training.js';

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
});

function registry(): Registry {
  const r = new Registry();
  r.register(trainerPlugin, '@policy-lab/trainer');
  r.register(tinyPlugin, 'test');
  return r;
}

describe('preference data', () => {
  it('parses JSONL and names the line of a malformed record', () => {
    expect(parsePreferenceJsonl('{"prompt":"p","chosen":"a","rejected":"b"}\n\n', 'd.jsonl')).toEqual([
      { prompt: 'p', chosen: 'a', rejected: 'b' },
    ]);
    const good = '{"prompt":"p","chosen":"a","rejected":"b"}';
    expect(() => parsePreferenceJsonl(`${good}\n{"prompt":"p"`, 'd.jsonl')).toThrow(/d\.jsonl:2: not valid JSON/);
    expect(() => parsePreferenceJsonl(`${good}\n${good}\n{"prompt":"p","chosen":"a"}`, 'd.jsonl')).toThrow(
      /d\.jsonl:3: missing field 'rejected'/,
    );
    expect(() => parsePreferenceJsonl('{"prompt":"p","chosen":1,"rejected":"b"}', 'd.jsonl')).toThrow(
      /d\.jsonl:1: field 'chosen' must be a string, got 1/,
    );
    expect(() => parsePreferenceJsonl('[1]', 'd.jsonl')).toThrow(/d\.jsonl:1: expected an object/);
    expect(() => parsePreferenceJsonl('{"prompt":"p","chosen":"","rejected":"b"}', 'd.jsonl')).toThrow(/must not be empty/);
    expect(() => parsePreferenceJsonl('\n', 'd.jsonl')).toThrow(/no preference pairs/);
  });

  it('pairs the best and the worst rollout of each group, skipping groups without a difference', () => {
    const rollout = (id: string, reward: number): Rollout => ({
      id,
      groupId: 'g',
      taskId: 't',
      reward: { r: reward },
      success: false,
      turns: [
        {
          observation: '',
          action: id,
          promptTokens: [1, 5],
          actionTokens: [Number(id.slice(1)) + 4],
          logprobs: [0],
          reward: {},
          valid: true,
          truncated: false,
        },
      ],
    });
    const pairs = pairsFromGroups(
      [
        [rollout('a1', 0), rollout('a2', 1), rollout('a3', 1), rollout('a4', 0)],
        [rollout('b1', 2), rollout('b2', 2)],
      ],
      (r) => r.reward.r as number,
    );
    expect(pairs).toHaveLength(1);
    expect(pairs[0]?.chosen[0]?.tokens).toEqual([1, 5, 6]); // a2: the first of the best
    expect(pairs[0]?.rejected[0]?.tokens).toEqual([1, 5, 8]); // a4: the last of the worst
  });
});

describe('preference training', () => {
  const pairs = Array.from({ length: 8 }, (_, i) => {
    const letter = i % 2 ? 'a' : 'b';
    return { prompt: `say ${letter}:`, chosen: letter, rejected: letter === 'a' ? 'b' : 'a' };
  });

  it('trains offline on a dataset: the implicit margin grows, and preferring right answers beats preferring wrong ones', async () => {
    const run = (data: typeof pairs) =>
      train({
        registry: registry(),
        method: 'dpo-online',
        env: 'echo',
        seed: 2,
        budget: { episodes: 480 },
        overrides: { ...TINY, sftSteps: 4, learningRate: 0.03 },
        sftCacheDir: mkdtempSync(path.join(tmpdir(), 'pref-')),
        preferences: { file: 'pairs.jsonl', pairs: data },
      });
    const right = await run(pairs);
    expect(right.steps).toBe(20);
    expect(right.budget.consumed.episodes).toBe(480); // 12 pairs a step, 2 episodes each
    expect(right.budget.consumed.generatedTokens).toBe(0);
    expect(right.diagnostics.margin).toBeGreaterThan(0.5);
    const swapped = await run(pairs.map((p) => ({ ...p, chosen: p.rejected, rejected: p.chosen })));
    expect(right.final.success).toBeGreaterThan(right.initial.success);
    expect(right.final.success).toBeGreaterThan(swapped.final.success + 0.1);
  });

  it('trains online on best/worst rollouts of each group', async () => {
    const result = await train({
      registry: registry(),
      method: 'dpo-online',
      env: 'echo',
      seed: 4,
      budget: { episodes: 240 },
      overrides: TINY,
      sftCacheDir: mkdtempSync(path.join(tmpdir(), 'pref-')),
    });
    expect(result.diagnostics.preferencePairs).toBeGreaterThan(0);
    expect(Number.isFinite(result.diagnostics.loss)).toBe(true);
  });

  it('refuses a dataset for a non-preference loss, and characters outside the alphabet', async () => {
    await expect(
      train({
        registry: registry(),
        method: 'reinforce-mean',
        env: 'echo',
        seed: 1,
        budget: { episodes: 48 },
        overrides: TINY,
        sft: 'none',
        preferences: { file: 'p.jsonl', pairs },
      }),
    ).rejects.toThrow(/p\.jsonl is a preference dataset, but method 'reinforce-mean' trains with loss 'ppo-clip'/);
    await expect(
      train({
        registry: registry(),
        method: 'dpo-online',
        env: 'echo',
        seed: 1,
        budget: { episodes: 48 },
        overrides: TINY,
        sft: 'none',
        preferences: { file: 'p.jsonl', pairs: [{ prompt: 'say z:', chosen: 'a', rejected: 'b' }] },
      }),
    ).rejects.toThrow(/p\.jsonl: record 1, field 'prompt': character "z" is not in environment 'echo''s alphabet/);
  });
});
