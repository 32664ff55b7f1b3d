import { Rng } from '@policy-lab/core';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/select-backend.js';
import type { PolicyConfig } from './policy.js';
import { createPolicy } from './transformer.js';

const config: PolicyConfig = { vocabSize: 12, dim: 16, layers: 2, heads: 2, contextLength: 24, mlpRatio: 4, valueHead: true };

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'stock' });
});

/** Teacher-forced log-probs of each generated token, from the full sequence (no cache). */
async function rescore(
  policy: ReturnType<typeof createPolicy>,
  prompt: number[],
  generated: number[],
  prefix?: tf.Tensor,
): Promise<number[]> {
  const sequence = [...prompt, ...generated];
  const inputs = tf.tensor2d([sequence.slice(0, -1)], [1, sequence.length - 1], 'int32');
  const targets = tf.tensor2d([sequence.slice(1)], [1, sequence.length - 1], 'int32');
  const { logprobs } = policy.score(inputs, targets, prefix ? { prefix } : {});
  const all = Array.from(await logprobs.data());
  tf.dispose([inputs, targets, logprobs]);
  return all.slice(prompt.length - 1);
}

describe('TransformerPolicy', () => {
  it('prefills long prompt batches in chunks that fit the heap, with the same tokens and log-probs as small batches', async () => {
    const long: PolicyConfig = { ...config, contextLength: 320 };
    const policy = createPolicy(long, Rng.seeded(4));
    const rng = Rng.seeded(9);
    // 48 prompts of up to 300 tokens, 2 heads: 48 x 2 x 300^2 > 8M floats, so the prefill is split.
    const prompts = Array.from({ length: 48 }, (_, r) => [1, ...Array.from({ length: 290 + (r % 10) }, () => rng.int(3, 11))]);
    const options = { maxNewTokens: 6, temperature: 1, stopTokens: [2], greedy: true, rng: Rng.seeded(1) };
    const together = await policy.generate(prompts, options);
    const halves = [await policy.generate(prompts.slice(0, 24), options), await policy.generate(prompts.slice(24), options)];
    expect(together.tokens).toEqual([...(halves[0]?.tokens ?? []), ...(halves[1]?.tokens ?? [])]);
    const flat = (g: { logprobs: number[][] }[]) => g.flatMap((x) => x.logprobs.flat());
    flat([together]).forEach((v, i) => expect(v).toBeCloseTo(flat(halves)[i] as number, 4));
    policy.dispose();
  });

  it('records sampling log-probs equal to full-context teacher forcing (KV cache = recomputation), with ragged prompts', async () => {
    const policy = createPolicy(config, Rng.seeded(1));
    const prompts = [
      [1, 5, 6, 7],
      [1, 8],
      [1, 9, 10, 11, 5, 6],
    ];
    const generation = await policy.generate(prompts, { maxNewTokens: 8, temperature: 1, stopTokens: [2], rng: Rng.seeded(3) });
    for (let r = 0; r < prompts.length; r++) {
      const generated = generation.tokens[r] as number[];
      expect(generated.length).toBeGreaterThan(0);
      const expected = await rescore(policy, prompts[r] as number[], generated);
      (generation.logprobs[r] as number[]).forEach((lp, i) => expect(lp).toBeCloseTo(expected[i] as number, 5));
      expect(generation.truncated[r]).toBe(!generated.includes(2));
    }
    policy.dispose();
  });

  it('with per-row conditioning vectors on the plain path, records log-probs equal to teacher forcing (ragged prompts)', async () => {
    const policy = createPolicy(config, Rng.seeded(1));
    const prompts = [
      [1, 5, 6, 7],
      [1, 8],
      [1, 9, 10, 11, 5, 6],
    ];
    const rng = Rng.seeded(8);
    const prefix = tf.tensor3d(
      Array.from({ length: 3 * 2 * config.dim }, () => rng.normal()),
      [3, 2, config.dim],
    );
    const generation = await policy.generate(prompts, {
      maxNewTokens: 8,
      temperature: 1,
      stopTokens: [2],
      rng: Rng.seeded(3),
      prefix,
    });
    for (let r = 0; r < prompts.length; r++) {
      const own = tf.slice(prefix, [r, 0, 0], [1, 2, config.dim]);
      const expected = await rescore(policy, prompts[r] as number[], generation.tokens[r] as number[], own);
      (generation.logprobs[r] as number[]).forEach((lp, i) => expect(lp).toBeCloseTo(expected[i] as number, 5));
      own.dispose();
    }
    prefix.dispose();
    policy.dispose();
  });

  it('gives identical samples for the same seed and different ones for another seed', async () => {
    const policy = createPolicy(config, Rng.seeded(1));
    const run = (seed: number) =>
      policy.generate(
        [
          [1, 5],
          [1, 6],
        ],
        { maxNewTokens: 10, temperature: 1, stopTokens: [], rng: Rng.seeded(seed) },
      );
    const a = await run(4);
    const b = await run(4);
    const c = await run(5);
    expect(a).toEqual(b);
    expect(a.tokens).not.toEqual(c.tokens);
    policy.dispose();
  });

  it('applies top-k and greedy decoding', async () => {
    const policy = createPolicy(config, Rng.seeded(2));
    const greedy = await policy.generate([[1, 5]], {
      maxNewTokens: 6,
      temperature: 1,
      stopTokens: [],
      greedy: true,
      rng: Rng.seeded(1),
    });
    const again = await policy.generate([[1, 5]], {
      maxNewTokens: 6,
      temperature: 1,
      stopTokens: [],
      greedy: true,
      rng: Rng.seeded(9),
    });
    expect(greedy.tokens).toEqual(again.tokens);
    const top1 = await policy.generate([[1, 5]], {
      maxNewTokens: 6,
      temperature: 1,
      topK: 1,
      stopTokens: [],
      rng: Rng.seeded(3),
    });
    expect(top1.tokens).toEqual(greedy.tokens);
    for (const lp of top1.logprobs[0] as number[]) expect(lp).toBeCloseTo(0, 6);
    policy.dispose();
  });

  it('leaks no tensors over 100 scoring and sampling calls, and a frozen copy matches then stays put', async () => {
    const policy = createPolicy(config, Rng.seeded(1));
    const reference = policy.freeze();
    const inputs = tf.tensor2d([[1, 5, 6, 7]], [1, 4], 'int32');
    const targets = tf.tensor2d([[5, 6, 7, 2]], [1, 4], 'int32');
    const before = tf.memory().numTensors;
    for (let i = 0; i < 100; i++) {
      const scored = policy.score(inputs, targets, { entropy: true, values: true });
      tf.dispose([scored.logprobs, scored.entropy as tf.Tensor, scored.values as tf.Tensor]);
      if (i % 10 === 0) await policy.generate([[1, 5]], { maxNewTokens: 4, temperature: 1, stopTokens: [2], rng: Rng.seeded(i) });
    }
    expect(tf.memory().numTensors).toBe(before);
    const mine = policy.score(inputs, targets).logprobs;
    const theirs = reference.score(inputs, targets).logprobs;
    expect(Array.from(await mine.data())).toEqual(Array.from(await theirs.data()));
    expect(reference.variables.every((v) => !v.trainable)).toBe(true);
    tf.dispose([inputs, targets, mine, theirs]);
    policy.dispose();
    reference.dispose();
  });
});
