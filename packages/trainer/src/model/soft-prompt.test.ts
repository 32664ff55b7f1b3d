/**
 * Conditioning vectors ahead of the tokens (a soft prompt, or an encoder's output): sampling,
 * beam search and teacher forcing must read them the same way. This file runs the fast wasm
 * kernels, so `score` takes the fused attention path while the KV-cache prefill and decode steps
 * take the plain one: agreement here is agreement between the two paths (transformer.test.ts
 * checks the plain path alone).
 */
import { Rng } from '@policy-lab/core';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/select-backend.js';
import { fusedAttentionAvailable } from '../kernels/fused-ops.js';
import type { PolicyConfig } from './policy.js';
import { createPolicy, type TransformerPolicy } from './transformer.js';

const config: PolicyConfig = { vocabSize: 12, dim: 16, layers: 2, heads: 2, contextLength: 24, mlpRatio: 4, valueHead: true };
const prompts = [
  [1, 5, 6, 7],
  [1, 8],
  [1, 9, 10, 11, 5, 6],
];

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
});

/** Normal(0, std) vectors of a shape, from a seed (std 1 so that they move the policy visibly). */
function vectors(shape: number[], seed: number, std = 1): tf.Tensor {
  const rng = Rng.seeded(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Float32Array.from({ length: size }, () => rng.normal() * std),
    shape,
  );
}

/** Teacher-forced log-probs of `generated` after `prompt`, with the given prefix (one row). */
async function rescore(policy: TransformerPolicy, prompt: number[], generated: number[], prefix?: tf.Tensor): Promise<number[]> {
  const sequence = [...prompt, ...generated];
  const inputs = tf.tensor2d([sequence.slice(0, -1)], [1, sequence.length - 1], 'int32');
  const targets = tf.tensor2d([sequence.slice(1)], [1, sequence.length - 1], 'int32');
  const { logprobs } = policy.score(inputs, targets, prefix ? { prefix } : {});
  const all = Array.from(await logprobs.data());
  tf.dispose([inputs, targets, logprobs]);
  return all.slice(prompt.length - 1);
}

/** Ragged rows right-padded for `score`: inputs, targets and each row's length. */
function padded(sequences: number[][]): { inputs: tf.Tensor2D; targets: tf.Tensor2D } {
  const T = Math.max(...sequences.map((s) => s.length)) - 1;
  const row = (s: number[], from: number) => Array.from({ length: T }, (_, t) => s[t + from] ?? 0);
  return {
    inputs: tf.tensor2d(
      sequences.map((s) => row(s, 0)),
      [sequences.length, T],
      'int32',
    ),
    targets: tf.tensor2d(
      sequences.map((s) => row(s, 1)),
      [sequences.length, T],
      'int32',
    ),
  };
}

describe('conditioning vectors (prefix)', () => {
  it('runs score through the fused attention kernel here (so the paths compared differ)', () => {
    expect(fusedAttentionAvailable(config.dim / config.heads)).toBe(true);
  });

  it('records sampling log-probs equal to teacher forcing with the same shared [P, D] prefix, with ragged prompts', async () => {
    const policy = createPolicy(config, Rng.seeded(1));
    const prefix = vectors([3, config.dim], 7);
    const generation = await policy.generate(prompts, {
      maxNewTokens: 8,
      temperature: 1,
      stopTokens: [2],
      rng: Rng.seeded(3),
      prefix,
    });
    const plain = await policy.generate(prompts, { maxNewTokens: 8, temperature: 1, stopTokens: [2], rng: Rng.seeded(3) });
    expect(generation.logprobs).not.toEqual(plain.logprobs);
    for (let r = 0; r < prompts.length; r++) {
      const generated = generation.tokens[r] as number[];
      expect(generated.length).toBeGreaterThan(0);
      const expected = await rescore(policy, prompts[r] as number[], generated, prefix);
      (generation.logprobs[r] as number[]).forEach((lp, i) => expect(lp).toBeCloseTo(expected[i] as number, 5));
    }
    // The same rows scored together (right-padded, one shared prefix) give the same numbers.
    const sequences = prompts.map((p, r) => [...p, ...(generation.tokens[r] as number[])]);
    const { inputs, targets } = padded(sequences);
    const together = (await policy.score(inputs, targets, { prefix }).logprobs.array()) as number[][];
    sequences.forEach((_, r) => {
      const from = (prompts[r] as number[]).length - 1;
      (generation.logprobs[r] as number[]).forEach((lp, i) => expect(lp).toBeCloseTo(together[r]?.[from + i] as number, 5));
    });
    tf.dispose([prefix, inputs, targets]);
    policy.dispose();
  });

  it('conditions each row on its own [rows, P, D] vectors: generation, teacher forcing and a shared prefix agree', async () => {
    const policy = createPolicy(config, Rng.seeded(2));
    const perRow = vectors([prompts.length, 2, config.dim], 11);
    const generation = await policy.generate(prompts, {
      maxNewTokens: 6,
      temperature: 1,
      stopTokens: [2],
      rng: Rng.seeded(5),
      prefix: perRow,
    });
    for (let r = 0; r < prompts.length; r++) {
      const own = tf.reshape(tf.slice(perRow, [r, 0, 0], [1, 2, config.dim]), [2, config.dim]);
      const expected = await rescore(policy, prompts[r] as number[], generation.tokens[r] as number[], own);
      (generation.logprobs[r] as number[]).forEach((lp, i) => expect(lp).toBeCloseTo(expected[i] as number, 5));
      // A row's vectors given as the shared prefix of a one-row call decode the same tokens.
      const alone = await policy.generate([prompts[r] as number[]], {
        maxNewTokens: 6,
        temperature: 1,
        stopTokens: [2],
        greedy: true,
        rng: Rng.seeded(0),
        prefix: own,
      });
      const inBatch = await policy.generate(prompts, {
        maxNewTokens: 6,
        temperature: 1,
        stopTokens: [2],
        greedy: true,
        rng: Rng.seeded(0),
        prefix: perRow,
      });
      expect(alone.tokens[0]).toEqual(inBatch.tokens[r]);
      own.dispose();
    }
    perRow.dispose();
    policy.dispose();
  });

  it('prefills long batches in row chunks with each chunk’s own per-row vectors: the same tokens as small batches', async () => {
    const long: PolicyConfig = { ...config, contextLength: 320 };
    const policy = createPolicy(long, Rng.seeded(4));
    const rng = Rng.seeded(9);
    // 48 rows of up to 4 + 300 positions, 2 heads: above 8M attention floats, so the prefill is split.
    const many = Array.from({ length: 48 }, (_, r) => [1, ...Array.from({ length: 290 + (r % 10) }, () => rng.int(3, 11))]);
    const perRow = vectors([48, 4, config.dim], 31);
    const options = { maxNewTokens: 6, temperature: 1, stopTokens: [2], greedy: true, rng: Rng.seeded(1) };
    const together = await policy.generate(many, { ...options, prefix: perRow });
    const halves = await Promise.all(
      [0, 24].map(async (start) => {
        const part = tf.slice(perRow, [start, 0, 0], [24, 4, config.dim]);
        const generated = await policy.generate(many.slice(start, start + 24), { ...options, prefix: part });
        part.dispose();
        return generated;
      }),
    );
    expect(together.tokens).toEqual(halves.flatMap((h) => h.tokens));
    const flat = halves.flatMap((h) => h.logprobs.flat());
    together.logprobs.flat().forEach((v, i) => expect(v).toBeCloseTo(flat[i] as number, 4));
    perRow.dispose();
    policy.dispose();
  });

  it('beam search with a prefix scores its hypotheses as teacher forcing does, and width 1 is greedy decoding', async () => {
    const policy = createPolicy(config, Rng.seeded(3));
    const prefix = vectors([4, config.dim], 13) as tf.Tensor2D;
    const prompt = [1, 5, 6];
    const found = await policy.beamSearch(prompt, { width: 3, count: 2, maxNewTokens: 6, stopTokens: [2], prefix });
    for (let h = 0; h < found.tokens.length; h++) {
      const expected = await rescore(policy, prompt, found.tokens[h] as number[], prefix);
      (found.logprobs[h] as number[]).forEach((lp, i) => expect(lp).toBeCloseTo(expected[i] as number, 5));
    }
    const beam1 = await policy.beamSearch(prompt, { width: 1, count: 1, maxNewTokens: 6, stopTokens: [2], prefix });
    const greedy = await policy.generate([prompt], {
      maxNewTokens: 6,
      temperature: 1,
      stopTokens: [2],
      greedy: true,
      rng: Rng.seeded(0),
      prefix,
    });
    expect(beam1.tokens[0]).toEqual(greedy.tokens[0]);
    prefix.dispose();
    policy.dispose();
  });

  it('P = 0 gives exactly the unconditioned numbers, and those are the ones recorded before prefixes existed', async () => {
    const policy = createPolicy(config, Rng.seeded(1));
    const empty = tf.zeros([0, config.dim]);
    const options = { maxNewTokens: 8, temperature: 1, stopTokens: [2] };
    const none = await policy.generate(prompts, { ...options, rng: Rng.seeded(3) });
    const zero = await policy.generate(prompts, { ...options, rng: Rng.seeded(3), prefix: empty });
    expect(zero).toEqual(none);
    const inputs = tf.tensor2d(
      [
        [1, 5, 6, 7],
        [1, 8, 9, 0],
      ],
      [2, 4],
      'int32',
    );
    const targets = tf.tensor2d(
      [
        [5, 6, 7, 2],
        [8, 9, 0, 0],
      ],
      [2, 4],
      'int32',
    );
    const a = Array.from(await policy.score(inputs, targets).logprobs.data());
    const b = Array.from(await policy.score(inputs, targets, { prefix: empty }).logprobs.data());
    expect(b).toEqual(a);
    // Recorded with the same model, seeds and kernels at the commit before conditioning vectors
    // were added (the stock kernels gave the same values): the unconditioned path is unchanged.
    expect(a.slice(0, 4)).toEqual([-2.3801472187042236, -2.4649736881256104, -2.5446197986602783, -2.486398696899414]);
    expect(none.logprobs[0]?.slice(0, 3)).toEqual([-2.5076191335059863, -2.404862062277434, -2.5260010224723795]);
    tf.dispose([empty, inputs, targets]);
    policy.dispose();
  });

  it('passes gradients into a [rows, P, D] prefix (finite differences), each row only into its own vectors', async () => {
    const tiny: PolicyConfig = { vocabSize: 8, dim: 8, layers: 1, heads: 2, contextLength: 12, mlpRatio: 2, valueHead: false };
    const policy = createPolicy(tiny, Rng.seeded(4));
    const inputs = tf.tensor2d(
      [
        [1, 3, 4],
        [1, 5, 0],
      ],
      [2, 3],
      'int32',
    );
    const targets = tf.tensor2d(
      [
        [3, 4, 2],
        [5, 2, 0],
      ],
      [2, 3],
      'int32',
    );
    const start = vectors([2, 2, tiny.dim], 17);
    // Row 0's log-likelihood only: row 1's vectors must get exactly no gradient.
    const objective = (prefix: tf.Tensor) =>
      tf.tidy(() => {
        const { logprobs } = policy.score(inputs, targets, { prefix });
        return tf.sum(tf.slice(logprobs, [0, 0], [1, 3])) as tf.Scalar;
      });
    const gradient = tf.grad(objective)(start);
    const analytic = Array.from(await gradient.data());
    const values = Array.from(await start.data());
    const h = 1e-2;
    const probe = async (index: number, delta: number) => {
      const moved = values.slice();
      moved[index] = (moved[index] as number) + delta;
      const t = tf.tensor(moved, start.shape);
      const f = (await objective(t).data())[0] as number;
      t.dispose();
      return f;
    };
    const half = 2 * tiny.dim; // row 0's vectors are the first P x D values
    for (const index of [0, 3, 9, 15]) {
      const numeric = ((await probe(index, h)) - (await probe(index, -h))) / (2 * h);
      expect(Math.abs(numeric - (analytic[index] as number))).toBeLessThan(2e-3 + 0.02 * Math.abs(numeric));
    }
    expect(analytic.slice(0, half).some((g) => Math.abs(g) > 1e-3)).toBe(true);
    expect(analytic.slice(half).every((g) => g === 0)).toBe(true);
    tf.dispose([inputs, targets, start, gradient]);
    policy.dispose();
  });

  it('is deterministic: the same prefix and seed repeat exactly; another prefix changes the samples', async () => {
    const policy = createPolicy(config, Rng.seeded(1));
    const run = (prefix: tf.Tensor) =>
      policy.generate(
        [
          [1, 5],
          [1, 6],
        ],
        { maxNewTokens: 10, temperature: 1, stopTokens: [], rng: Rng.seeded(4), prefix },
      );
    const first = vectors([2, config.dim], 21);
    const second = vectors([2, config.dim], 22);
    const a = await run(first);
    const b = await run(first);
    const c = await run(second);
    expect(a).toEqual(b);
    expect(a.logprobs).not.toEqual(c.logprobs);
    tf.dispose([first, second]);
    policy.dispose();
  });

  it('counts the vectors in the context and refuses a prefix of the wrong shape, naming it', async () => {
    const policy = createPolicy(config, Rng.seeded(1));
    const inputs = tf.zeros([1, 20], 'int32') as tf.Tensor2D;
    const tooLong = tf.zeros([5, config.dim]);
    expect(() => policy.score(inputs, inputs, { prefix: tooLong })).toThrow(
      /a prefix of 5 vectors and 20 tokens exceed the context length 24/,
    );
    await expect(
      policy.generate([Array.from({ length: 19 }, () => 1)], {
        maxNewTokens: 4,
        temperature: 1,
        stopTokens: [],
        rng: Rng.seeded(1),
        prefix: tooLong,
      }),
    ).rejects.toThrow(/a prefix of 5 vectors and prompts of 19 tokens leave no room in a context of 24/);
    const wrongWidth = tf.zeros([2, 5]);
    expect(() => policy.score(inputs, inputs, { prefix: wrongWidth })).toThrow(/\[P, 16\] or \[1, P, 16\].*\[2, 5\]/);
    const wrongRows = tf.zeros([3, 2, config.dim]);
    await expect(
      policy.generate([[1, 5]], { maxNewTokens: 2, temperature: 1, stopTokens: [], rng: Rng.seeded(1), prefix: wrongRows }),
    ).rejects.toThrow(/\[3, 2, 16\]/);
    // A generation that fits: P + prompt + new tokens <= the context; the token limit shrinks to fit.
    const fits = await policy.generate([[1, 5, 6]], {
      maxNewTokens: 30,
      temperature: 1,
      stopTokens: [],
      rng: Rng.seeded(1),
      prefix: tooLong,
    });
    expect(fits.tokens[0]).toHaveLength(24 - 5 - 3);
    tf.dispose([inputs, tooLong, wrongWidth, wrongRows]);
    policy.dispose();
  });

  it('leaks no tensors when generating, beam searching and scoring with a prefix', async () => {
    const policy = createPolicy(config, Rng.seeded(1));
    const prefix = vectors([2, config.dim], 3) as tf.Tensor2D;
    const perRow = vectors([2, 2, config.dim], 4);
    const inputs = tf.tensor2d([[1, 5, 6, 7]], [1, 4], 'int32');
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) {
      await policy.generate([[1, 5], [1]], { maxNewTokens: 4, temperature: 1, stopTokens: [2], rng: Rng.seeded(i), prefix });
      await policy.generate([[1, 5], [1]], {
        maxNewTokens: 4,
        temperature: 1,
        stopTokens: [2],
        rng: Rng.seeded(i),
        prefix: perRow,
      });
      await policy.beamSearch([1, 5], { width: 2, count: 2, maxNewTokens: 3, stopTokens: [2], prefix });
      const scored = policy.score(inputs, inputs, { prefix, entropy: true });
      tf.dispose([scored.logprobs, scored.entropy as tf.Tensor]);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([prefix, perRow, inputs]);
    policy.dispose();
  });
});
