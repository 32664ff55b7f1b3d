import { readFileSync } from 'node:fs';
import path from 'node:path';
import { type Environment, isUsageError, type Plugin, Rng } from '@policy-lab/core';
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/select-backend.js';
import { createPolicy } from '../model/transformer.js';
import { echoEnv, TINY, temporaryFolder, tinyRegistry } from '../test-support/tiny.js';
import { CharTokenizer, EOS } from '../tokenizer/char-tokenizer.js';
import type { TrainOptions } from './api.js';
import { rowsFromRollouts, toTensors } from './batch.js';
import { drawPositions, referenceTokenMatch, teacherForcedRollouts } from './teacher-forced.js';
import { train } from './train.js';

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
});

const tokenizer = CharTokenizer.fromAlphabet(echoEnv.alphabet?.() ?? '');
const policyOf = (seed: number) =>
  createPolicy(
    { dim: 16, layers: 1, heads: 2, contextLength: 16, mlpRatio: 4, valueHead: false, vocabSize: tokenizer.vocabSize },
    Rng.seeded(seed).split('init'),
  );

describe('drawing each position from its teacher-forced distribution', () => {
  it('records the log-probability of the drawn token under the tempered, renormalised row; a one-token row always gives that token', () => {
    const row = fc.array(fc.double({ min: -6, max: 0, noNaN: true }), { minLength: 2, maxLength: 8 });
    fc.assert(
      fc.property(
        fc.array(row, { minLength: 1, maxLength: 4 }),
        fc.double({ min: 0.3, max: 2, noNaN: true }),
        fc.nat(),
        (rows, temperature, seed) => {
          const rng = Rng.seeded(seed);
          const drawn = drawPositions(
            rows.map((r) => Float32Array.from(r)),
            3,
            temperature,
            (w) => rng.categorical(w),
          );
          drawn.tokens.forEach((tokens, i) =>
            tokens.forEach((token, j) => {
              const scaled = (rows[j] as number[]).map((x) => Math.fround(x) / temperature);
              const logTotal = Math.log(scaled.reduce((s, x) => s + Math.exp(x), 0));
              expect(drawn.logprobs[i]?.[j]).toBeCloseTo((scaled[token] as number) - logTotal, 5);
            }),
          );
          const only = Float32Array.from(rows[0] as number[], (_, k) => (k === 1 ? 0 : Number.NEGATIVE_INFINITY));
          expect(drawPositions([only], 5, temperature, (w) => rng.categorical(w)).tokens.flat()).toEqual([1, 1, 1, 1, 1]);
        },
      ),
      { numRuns: 50 },
    );
  });
});

describe('the reconstruction sequence metric', () => {
  it('is the mean over turns of the share of reference positions drawn as the reference token (hand-computed)', () => {
    const turns = [
      { actionTokens: [5, 6, 7, EOS], forcedTokens: [5, 9, 7, EOS] }, // 3 of 4
      { actionTokens: [4, 4], forcedTokens: [5, 6] }, // 0 of 2
      { actionTokens: [8] }, // not teacher-forced: left out
    ];
    expect(referenceTokenMatch(turns)).toBeCloseTo((3 / 4 + 0) / 2, 12);
    expect(referenceTokenMatch([{ actionTokens: [1, 2] }])).toBeUndefined();
  });
});

describe('teacher-forced rollouts', () => {
  it('read the reference at every action position: the recorded log-probs are the policy’s given the reference prefix, as the update rescores them', async () => {
    const policy = policyOf(3);
    const tasks = echoEnv.tasks('train', { seed: 1, count: 3 });
    const groups = await teacherForcedRollouts(
      policy,
      tokenizer,
      echoEnv,
      tasks.map((task, k) => ({ task, groupId: `g${k}`, count: 4 })),
      { maxNewTokens: 4, temperature: 1, rng: Rng.seeded(5) },
    );
    expect(groups.map((g) => g.length)).toEqual([4, 4, 4]);
    groups.forEach((group, k) =>
      group.forEach((rollout) => {
        const turn = rollout.turns[0];
        // The reference: the expert's letter, then the stop token; as many drawn tokens as reference tokens.
        expect(turn?.forcedTokens).toEqual([...tokenizer.encode((tasks[k] as { letter: string }).letter), EOS]);
        expect(turn?.actionTokens).toHaveLength(2);
      }),
    );
    const rows = rowsFromRollouts(groups, {
      rollout: groups.map((g) => g.map(() => 1)),
      weights: groups.map((g) => g.map(() => 1)),
    });
    const batch = toTensors(rows);
    const scored = policy.score(batch.inputs, batch.targets).logprobs.arraySync();
    const inputs = batch.inputs.arraySync();
    let drawnOffReference = 0;
    rows.forEach((row, r) => {
      const turn = groups.flat()[r]?.turns[0];
      row.oldLogprobs.forEach((lp, j) => {
        const t = row.actionStart - 1 + j;
        expect(scored[r]?.[t]).toBeCloseTo(lp, 5);
        // Position t reads the reference token before action token j, whatever was drawn there.
        if (j > 0) expect(inputs[r]?.[t]).toBe(turn?.forcedTokens?.[j - 1]);
        if (j > 0 && turn?.actionTokens[j - 1] !== turn?.forcedTokens?.[j - 1]) drawnOffReference += 1;
      });
    });
    // An untrained policy draws off the reference somewhere, so the check above is not vacuous.
    expect(drawnOffReference).toBeGreaterThan(0);
    expect(batch.forcedTargets?.arraySync()[0]?.slice(rows[0]?.actionStart as number)).toEqual([
      ...(rows[0]?.forcedTokens ?? []).slice(1),
      ...Array(batch.inputs.shape[1] - (rows[0]?.actionStart as number) - 1).fill(0),
    ]);
    tf.dispose([batch.inputs, batch.targets, batch.mask]);
    policy.dispose();
  });
});

/** A test-local loss over teacher-forced rows: the reference tokens' cross-entropy alone. */
const referenceCrossEntropy = {
  name: 'reference-ce-test',
  summary: "the reference tokens' cross-entropy under teacher forcing",
  kind: 'rows' as const,
  needs: { forced: true },
  loss(batch: { forcedLogprobs?: tf.Tensor; mask: tf.Tensor }) {
    const ce = tf.div(tf.neg(tf.sum(tf.mul(batch.forcedLogprobs as tf.Tensor, batch.mask))), tf.sum(batch.mask));
    return { loss: ce, metrics: { referenceCe: ce } };
  },
};
const forcedPlugin: Plugin = {
  name: 'forced-test',
  losses: [referenceCrossEntropy as never],
  methods: [
    {
      name: 'forced-ce',
      summary: 'reference CE over teacher-forced rows',
      estimator: 'mean-baseline',
      loss: 'reference-ce-test',
      sampler: 'teacher-forced',
    },
    {
      name: 'forced-ce-plain',
      summary: 'the same loss without the sampler',
      estimator: 'mean-baseline',
      loss: 'reference-ce-test',
    },
  ],
  environments: [{ ...echoEnv, name: 'echo-long', maxTurns: 3 } as Environment],
};
const run = (method: string, env = 'echo'): TrainOptions => ({
  registry: tinyRegistry(forcedPlugin),
  method,
  env,
  seed: 7,
  budget: { episodes: 24 * 12 },
  overrides: { ...TINY, learningRate: 0.02, evalEvery: 100 },
  sft: 'none',
});
const refusal = (options: TrainOptions): Promise<string> =>
  train(options).then(
    () => 'accepted',
    (e: unknown) => (isUsageError(e) ? (e as Error).message : `not a usage error: ${String(e)}`),
  );

describe('training on teacher-forced rows', () => {
  it('a short run: the reference cross-entropy read through forcedLogprobs falls by half and free-running greedy success rises', async () => {
    const outDir = temporaryFolder('forced-');
    const result = await train({ ...run('forced-ce'), outDir });
    const metrics = readFileSync(path.join(outDir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, number>);
    expect(result.steps).toBe(12);
    const ce = metrics.map((m) => m.referenceCe as number);
    expect(ce.at(-1)).toBeLessThan(0.5 * (ce[0] as number));
    expect(result.final.greedySuccess).toBeGreaterThan(result.initial.greedySuccess);
  });

  it('refuses a multi-turn environment and a forced loss without the sampler (bad input)', async () => {
    expect(await refusal(run('forced-ce', 'echo-long'))).toMatch(
      /sampler 'teacher-forced'.*single-turn.*'echo-long' has up to 3 turns.*environments that fit: echo/,
    );
    expect(await refusal(run('forced-ce-plain'))).toMatch(
      /loss 'reference-ce-test' trains on teacher-forced rows; run it with --set sampler=teacher-forced/,
    );
  });
});
