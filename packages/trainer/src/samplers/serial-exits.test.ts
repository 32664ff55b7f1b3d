import { type Environment, Rng } from '@policy-lab/core';
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/select-backend.js';
import { sampleGroups } from '../loop/samplers.js';
import { createPolicy } from '../model/transformer.js';
import { CharTokenizer, EOS } from '../tokenizer/char-tokenizer.js';
import { exitPositions, serialExits } from './serial-exits.js';

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
});

/** "say x:" answered by thoughts, then `#`, then the letter (a marked answer, like GSM8K's ####). */
const marked: Environment<{ letter: string; id: number }> = {
  name: 'marked',
  summary: 'answer the shown letter after a # marker',
  rewardComponents: [{ name: 'correct', weight: 1 }],
  maxTurns: 1,
  tasks: (_split, { count = 8 }) => Array.from({ length: count }, (_, i) => ({ letter: 'ab'[i % 2] as string, id: i })),
  taskId: (task) => `${task.letter}${task.id}`,
  alphabet: () => 'say ab:# ',
  demonstrate: (task) => [`aa # ${task.letter}`],
  start(task) {
    let answer = '';
    const correct = () => (answer.split('#').at(-1)?.trim() === task.letter ? 1 : 0);
    return {
      observation: () => `say ${task.letter}:`,
      step(action) {
        answer = action;
        return { reward: { correct: correct() }, done: true, valid: true };
      },
      outcome: () => ({ reward: { correct: correct() }, success: correct() === 1 }),
    };
  },
};

const tokenizer = CharTokenizer.fromAlphabet(marked.alphabet?.() ?? '');
const policyOf = (seed: number) =>
  createPolicy(
    { dim: 16, layers: 1, heads: 2, contextLength: 32, mlpRatio: 2, valueHead: false, vocabSize: tokenizer.vocabSize },
    Rng.seeded(seed).split('init'),
  );

const drawSerial = async (seed: number, env: Environment, count = 4, exitText = ' # ') => {
  const policy = policyOf(seed);
  const tasks = env.tasks('train', { seed, count: 3 });
  try {
    return await sampleGroups(
      policy,
      tokenizer,
      env,
      tasks.map((task, k) => ({ task, groupId: `g${k}`, count })),
      { maxNewTokens: 12, temperature: 1, rng: Rng.seeded(seed), sampler: serialExits({ exitText }) },
      () => 0,
    );
  } finally {
    policy.dispose();
  }
};

describe('serial-exits', () => {
  it("a serial group's exits are prefixes of one path: its first j tokens, then the exit text, earliest first, the path last", async () => {
    const exit = tokenizer.encode(' # ');
    let exitsSeen = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 2, max: 6 }), async (seed, count) => {
        const { groups, drawn } = await drawSerial(seed, marked, count);
        expect(drawn).toHaveLength(groups.flat().length);
        for (const group of groups) {
          expect(group.length).toBeLessThanOrEqual(count);
          const path = group.at(-1);
          const pathTurn = path?.turns[0];
          if (!path || !pathTurn) throw new Error('a serial group has its path');
          expect(path.meta?.serialExit).toBe(pathTurn.actionTokens.length);
          const positions = group.slice(0, -1).map((r) => r.meta?.serialExit as number);
          positions.forEach((j, i) => {
            if (i > 0) expect(j).toBeGreaterThan(positions[i - 1] as number);
            expect(j).toBeGreaterThanOrEqual(1);
            expect(j).toBeLessThan(pathTurn.actionTokens.length);
          });
          group.slice(0, -1).forEach((r, i) => {
            exitsSeen += 1;
            const j = positions[i] as number;
            const turn = r.turns[0];
            if (!turn) throw new Error('an exit has its turn');
            expect(r.taskId).toBe(path.taskId);
            expect(turn.promptTokens).toEqual(pathTurn.promptTokens);
            expect(turn.actionTokens.slice(0, j)).toEqual(pathTurn.actionTokens.slice(0, j));
            expect(turn.logprobs.slice(0, j)).toEqual(pathTurn.logprobs.slice(0, j));
            expect(turn.actionTokens.slice(j, j + exit.length)).toEqual(exit);
            // the path's thoughts end before its own marker: no exit is cut at or after it
            expect(pathTurn.actionTokens.slice(0, j)).not.toContain(tokenizer.encode('#')[0]);
            expect(turn.logprobs).toHaveLength(turn.actionTokens.length);
            for (const lp of turn.logprobs) expect(lp).toBeLessThanOrEqual(0);
          });
        }
      }),
      { numRuns: 8 },
    );
    expect(exitsSeen).toBeGreaterThan(8);
  });

  it("records the exit text's log-probabilities as the policy's own (teacher forcing)", async () => {
    const seed = 3;
    const { groups } = await drawSerial(seed, marked, 5);
    const exit = tokenizer.encode(' # ');
    const policy = policyOf(seed);
    const some = groups.flatMap((g) => g.slice(0, -1)).slice(0, 3);
    expect(some.length).toBeGreaterThan(0);
    for (const r of some) {
      const turn = r.turns[0];
      const j = r.meta?.serialExit as number;
      if (!turn) throw new Error('an exit has its turn');
      const sequence = [...turn.promptTokens, ...turn.actionTokens.slice(0, j + exit.length)];
      const inputs = tf.tensor2d([sequence.slice(0, -1)], [1, sequence.length - 1], 'int32');
      const targets = tf.tensor2d([sequence.slice(1)], [1, sequence.length - 1], 'int32');
      const scored = (await policy.score(inputs, targets).logprobs.array())[0] as number[];
      const expected = scored.slice(-exit.length);
      turn.logprobs.slice(j, j + exit.length).forEach((lp, k) => {
        expect(lp).toBeCloseTo(expected[k] as number, 4);
      });
      tf.dispose([inputs, targets]);
    }
    policy.dispose();
  });

  it('draws distinct cut points before the marker, leaving room for the exit text and an answer', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 5, max: 9 }), { minLength: 0, maxLength: 20 }),
        fc.integer({ min: 0, max: 8 }),
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 1000 }),
        (tokens, count, maxNewTokens, seed) => {
          const rng = Rng.seeded(seed);
          const marker = [7, 7];
          const chosen = exitPositions([...tokens, EOS], marker, 3, maxNewTokens, count, (a, b) => rng.int(a, b), EOS);
          let end = tokens.findIndex((t, i) => t === 7 && tokens[i + 1] === 7);
          if (end < 0) end = tokens.length;
          const limit = Math.min(end - 1, maxNewTokens - 4);
          expect(chosen.length).toBe(Math.min(count, Math.max(0, limit)));
          expect(new Set(chosen).size).toBe(chosen.length);
          chosen.forEach((j, i) => {
            expect(j).toBeGreaterThanOrEqual(1);
            expect(j).toBeLessThanOrEqual(limit);
            if (i > 0) expect(j).toBeGreaterThan(chosen[i - 1] as number);
          });
        },
      ),
    );
  });

  it('refuses environments without a marked answer or with several turns, naming what is missing', async () => {
    const unmarked: Environment<{ letter: string; id: number }> = { ...marked, demonstrate: (task) => [task.letter] };
    await expect(drawSerial(1, unmarked)).rejects.toMatchObject({
      exitCode: 2,
      message: expect.stringMatching(/answers do not follow the marker '#'/),
    });
    await expect(drawSerial(1, { ...marked, maxTurns: 3 })).rejects.toThrow(/serial groups need a single-turn environment/);
    await expect(drawSerial(1, marked, 4, ' $ ')).rejects.toThrow(/exitText ' \$ ' has characters outside/);
    expect(() => serialExits({ exitText: '  ' })).toThrow(/exitText must contain a visible marker/);
  });
});
