import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Registry, type Rollout } from '@policy-lab/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/select-backend.js';
import { plugin as trainerPlugin } from '../plugin.js';
import { TINY, plugin as tinyPlugin } from '../test-support/tiny.js';
import type { TrainingRow } from './batch.js';
import { parsePreferenceData, parsePreferenceJsonl } from './data.js';
import { pairsFromGroups } from './pairs.js';
import { tailMask } from './preference.js';
import { train } from './train.js';

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

  it('tells paired from unpaired datasets, reads UPO reliabilities, and names bad lines', () => {
    const unpaired = parsePreferenceData(
      '{"prompt":"p","completion":"a","label":true}\n{"prompt":"p","completion":"b","label":false}\n',
      'u.jsonl',
    );
    expect(unpaired).toEqual({
      file: 'u.jsonl',
      examples: [
        { prompt: 'p', completion: 'a', desirable: true },
        { prompt: 'p', completion: 'b', desirable: false },
      ],
    });
    expect(() => parsePreferenceData('{"prompt":"p","completion":"a","label":1}', 'u.jsonl')).toThrow(
      /u\.jsonl:1: field 'label' must be true or false, got 1/,
    );
    expect(() =>
      parsePreferenceData('{"prompt":"p","completion":"a","label":true}\n{"prompt":"p","chosen":"a","rejected":"b"}', 'u.jsonl'),
    ).toThrow(/u\.jsonl:2: a paired record in an unpaired dataset/);
    // Worked by hand: alternating [0.95, 0.05] / [0.05, 0.95] passes have BALD 0.4946 nats.
    const passes = Array.from({ length: 10 }, (_, i) => (i % 2 ? [0.05, 0.95] : [0.95, 0.05]));
    const paired = parsePreferenceData(
      `${JSON.stringify({ prompt: 'p', chosen: 'a', rejected: 'b', passes })}\n{"prompt":"p","chosen":"a","rejected":"b","reliability":0.5}`,
      'p.jsonl',
    );
    const reliability = 'pairs' in paired ? paired.pairs.map((p) => p.reliability) : [];
    expect(reliability[0]).toBeCloseTo(1 - 0.4946 / Math.LN2, 3);
    expect(reliability[1]).toBe(0.5);
    expect(() => parsePreferenceData('{"prompt":"p","chosen":"a","rejected":"b","reliability":2}', 'p.jsonl')).toThrow(
      /p\.jsonl:1: field 'reliability' must be a number in \[0, 1\], got 2/,
    );
    expect(() => parsePreferenceData('{"prompt":"p","chosen":"a","rejected":"b","passes":[[1]]}', 'p.jsonl')).toThrow(
      /field 'passes' must be/,
    );
  });

  it("marks LD-DPO's tail: the tokens past the pair's shared length, across a completion's rows", () => {
    const row = (prompt: number, action: number): TrainingRow => ({
      tokens: [...Array(prompt).fill(1), ...Array(action).fill(2)],
      actionStart: prompt,
      oldLogprobs: [],
      advantage: 0,
      weight: 1,
    });
    // chosen: 2 + 2 action tokens over two rows; rejected: 3. Shared length 3: the chosen's 4th token is its tail.
    const mask = tailMask([{ chosen: [row(2, 2), row(1, 2)], rejected: [row(2, 3)] }], 4).arraySync();
    expect(mask).toEqual([
      [0, 0, 0, 0],
      [0, 1, 0, 0],
      [0, 0, 0, 0],
    ]);
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

  it('trains KTO offline on labelled completions: desirable right answers beat desirable wrong ones', async () => {
    const examples = pairs.flatMap((p) => [
      { prompt: p.prompt, completion: p.chosen, desirable: true },
      { prompt: p.prompt, completion: p.rejected, desirable: false },
    ]);
    const run = (data: typeof examples) =>
      train({
        registry: registry(),
        method: 'kto-online',
        env: 'echo',
        seed: 2,
        budget: { episodes: 480 },
        overrides: { ...TINY, sftSteps: 4, learningRate: 0.03 },
        sftCacheDir: mkdtempSync(path.join(tmpdir(), 'kto-')),
        preferences: { file: 'kto.jsonl', examples: data },
      });
    const right = await run(examples);
    expect(right.steps).toBe(20);
    expect(right.budget.consumed.episodes).toBe(480); // 24 examples a step, 1 episode each
    const swapped = await run(examples.map((e) => ({ ...e, desirable: !e.desirable })));
    expect(right.final.success).toBeGreaterThan(right.initial.success);
    expect(right.final.success).toBeGreaterThan(swapped.final.success + 0.1);
  });

  it('trains KTO online on rollouts above and below their group mean, and unpairs a paired dataset', async () => {
    const online = await train({
      registry: registry(),
      method: 'kto-online',
      env: 'echo',
      seed: 4,
      budget: { episodes: 240 },
      overrides: TINY,
      sftCacheDir: mkdtempSync(path.join(tmpdir(), 'kto-')),
    });
    expect(online.diagnostics.preferenceExamples).toBeGreaterThan(0);
    expect(Number.isFinite(online.diagnostics.loss)).toBe(true);
    const unpaired = await train({
      registry: registry(),
      method: 'kto-online',
      env: 'echo',
      seed: 4,
      budget: { episodes: 48 },
      overrides: TINY,
      sft: 'none',
      preferences: { file: 'p.jsonl', pairs },
    });
    // Drawn with replacement from the unpaired pool (half desirable): both labels are trained on.
    expect(unpaired.diagnostics.desirableFraction).toBeGreaterThan(0.2);
    expect(unpaired.diagnostics.desirableFraction).toBeLessThan(0.8);
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
