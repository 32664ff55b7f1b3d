import { type Environment, Rng } from '@policy-lab/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/select-backend.js';
import type { GenerateOptions } from '../model/policy.js';
import { createPolicy } from '../model/transformer.js';
import { CharTokenizer } from '../tokenizer/char-tokenizer.js';
import { collectRollouts } from './rollouts.js';

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
});

const tokenizer = CharTokenizer.fromAlphabet('abcdefgh turn:');

// Three turns, each observation naming its turn; every action is accepted.
const threeTurns: Environment<string> = {
  name: 'three-turns',
  summary: 'three turns of anything',
  rewardComponents: [{ name: 'done', weight: 1 }],
  maxTurns: 3,
  tasks: () => ['a'],
  taskId: (task) => task,
  start() {
    let turn = 0;
    return {
      observation: () => `turn ${'abc'[turn]}:`,
      step() {
        turn += 1;
        return { reward: { done: turn === 3 ? 1 : 0 }, done: turn === 3, valid: true };
      },
      outcome: () => ({ reward: { done: 1 }, success: true }),
    };
  },
};

describe('plain-text prompts (a tokenizer without a chat template, as the character model has)', () => {
  it('keep the [bos] obs [sep] action [eos] rule, the oldest tokens dropped past the limit, and stop at eos alone', async () => {
    const contextLength = 24;
    const maxNewTokens = 4;
    const policy = createPolicy(
      { dim: 16, layers: 1, heads: 2, contextLength, mlpRatio: 2, valueHead: false, vocabSize: tokenizer.vocabSize },
      Rng.seeded(5).split('init'),
    );
    const stops: number[][] = [];
    const generate = policy.generate.bind(policy);
    policy.generate = (prompts: readonly (readonly number[])[], options: GenerateOptions) => {
      stops.push([...(options.stopTokens ?? [])]);
      return generate(prompts, options);
    };
    const [group] = await collectRollouts(policy, tokenizer, threeTurns, [{ task: 'a', groupId: 'g', count: 3 }], {
      maxNewTokens,
      temperature: 1,
      rng: Rng.seeded(9),
    });
    policy.dispose();
    const { bos, sep, eos } = tokenizer.specials;
    const limit = contextLength - maxNewTokens;
    let truncated = 0;
    for (const rollout of group ?? []) {
      expect(rollout.turns).toHaveLength(3);
      // The rule written out again: history, observation, sep; past the limit, bos then the newest tokens.
      let history = [bos];
      for (const turn of rollout.turns) {
        const full = [...history, ...tokenizer.encode(turn.observation), sep];
        const expected = full.length <= limit ? full : [bos, ...full.slice(full.length - (limit - 1))];
        if (full.length > limit) truncated += 1;
        expect(turn.promptTokens).toEqual(expected);
        history = [...expected, ...turn.actionTokens];
      }
    }
    expect(truncated).toBeGreaterThan(0);
    expect(stops.length).toBe(3);
    for (const s of stops) expect(s).toEqual([eos]);
  });
});
