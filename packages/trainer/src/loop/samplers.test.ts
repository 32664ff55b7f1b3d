import { type Environment, type RewardModelHandle, Rng, type Rollout, type ScoredText } from '@policy-lab/core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/select-backend.js';
import { createPolicy } from '../model/transformer.js';
import { keepTopK, keepTopP, topIds, topK, tree, valueGuided } from '../samplers/samplers.js';
import { TINY, tinyRegistry, tinyStepContext } from '../test-support/tiny.js';
import { CharTokenizer, EOS } from '../tokenizer/char-tokenizer.js';
import { resolvePlugins } from './plugins.js';
import { collectRollouts } from './rollouts.js';
import { sampleGroups } from './samplers.js';
import { sample } from './stages/sample.js';

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
});

const tokenizer = CharTokenizer.fromAlphabet('abcdefgh ');
const tinyPolicy = (seed: number, contextLength = 24) =>
  createPolicy(
    { dim: 16, layers: 1, heads: 2, contextLength, mlpRatio: 2, valueHead: false, vocabSize: tokenizer.vocabSize },
    Rng.seeded(seed).split('init'),
  );

describe('beam search', () => {
  it('with width 1 is greedy decoding, token for token and log-prob for log-prob', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 1000 }),
        fc.array(fc.integer({ min: 5, max: tokenizer.vocabSize - 1 }), { minLength: 1, maxLength: 6 }),
        async (seed, body) => {
          const policy = tinyPolicy(seed);
          const prompt = [1, ...body];
          const greedy = await policy.generate([prompt], {
            maxNewTokens: 8,
            temperature: 1,
            stopTokens: [EOS],
            greedy: true,
            rng: Rng.seeded(seed),
          });
          const found = await policy.beamSearch(prompt, { width: 1, count: 1, maxNewTokens: 8, stopTokens: [EOS] });
          policy.dispose();
          expect(found.tokens).toEqual(greedy.tokens);
          expect(found.logprobs).toEqual(greedy.logprobs);
          expect(found.truncated).toEqual(greedy.truncated);
        },
      ),
      { numRuns: 12 },
    );
  });

  it('returns distinct hypotheses, best first, each scored by the sum of its tokens’ policy log-probs', async () => {
    const policy = tinyPolicy(7);
    const found = await policy.beamSearch([1, 5, 6], { width: 6, count: 4, maxNewTokens: 5, stopTokens: [EOS] });
    expect(found.tokens).toHaveLength(4);
    expect(new Set(found.tokens.map((t) => t.join(','))).size).toBe(4);
    found.scores.forEach((score, i) => {
      expect(score).toBeCloseTo(found.logprobs[i]?.reduce((a, b) => a + b, 0) as number, 10);
      if (i > 0) expect(score).toBeLessThanOrEqual(found.scores[i - 1] as number);
    });
    // A wider beam never returns a worse best hypothesis than a narrower one of the same search.
    const narrow = await policy.beamSearch([1, 5, 6], { width: 2, count: 1, maxNewTokens: 5, stopTokens: [EOS] });
    expect(found.scores[0]).toBeGreaterThanOrEqual((narrow.scores[0] as number) - 1e-9);
    policy.dispose();
  });

  it('refuses a count above the width, naming both', async () => {
    const policy = tinyPolicy(1);
    await expect(policy.beamSearch([1], { width: 2, count: 3, maxNewTokens: 3, stopTokens: [EOS] })).rejects.toThrow(
      /count must be an integer from 1 to the width 2, got 3/,
    );
    policy.dispose();
  });
});

describe('logits hooks', () => {
  it('top-k keeps the k largest (ties kept) and top-p the smallest top set reaching p', () => {
    const row = Float32Array.from([0.1, 0.4, 0.2, 0.3].map(Math.log));
    expect([...keepTopK(row, 2)].map(Number.isFinite)).toEqual([false, true, false, true]);
    expect([...keepTopP(row, 0.65)].map(Number.isFinite)).toEqual([false, true, false, true]);
    expect([...keepTopP(row, 0.71)].map(Number.isFinite)).toEqual([false, true, true, true]);
    fc.assert(
      fc.property(fc.array(fc.double({ min: -20, max: 0, noNaN: true }), { minLength: 1, maxLength: 12 }), (values) => {
        const kept = keepTopK(Float32Array.from(values), 1);
        expect(kept.some(Number.isFinite)).toBe(true);
      }),
    );
  });

  it('reach the draw: top-k with k = 1 samples the greedy action; behaviour decides the recorded log-probs', async () => {
    const policy = tinyPolicy(3);
    const env = echoLike();
    const request = [{ task: 'a', groupId: 'g', count: 3 }];
    const options = { maxNewTokens: 6, temperature: 1, rng: Rng.seeded(5) };
    const greedy = await collectRollouts(policy, tokenizer, env, request, { ...options, greedy: true });
    const proposal = await collectRollouts(policy, tokenizer, env, request, { ...options, sampler: topK({ k: 1 }) });
    const onPolicy = await collectRollouts(policy, tokenizer, env, request, {
      ...options,
      sampler: topK({ k: 1, behaviour: 'policy' }),
    });
    for (const r of [...proposal.flat(), ...onPolicy.flat()])
      expect(r.turns[0]?.actionTokens).toEqual(greedy.flat()[0]?.turns[0]?.actionTokens);
    // Drawn from a one-token distribution: log 1 = 0; the policy's own: greedy's log-probs.
    for (const r of proposal.flat()) for (const lp of r.turns[0]?.logprobs ?? []) expect(lp).toBe(0);
    expect(onPolicy.flat()[0]?.turns[0]?.logprobs).toEqual(greedy.flat()[0]?.turns[0]?.logprobs);
    policy.dispose();
  });
});

describe('value-guided decoding', () => {
  /** A value model that likes the letter c: 100 per c in the action so far; it records what it was asked. */
  const likesC = () => {
    const asked: ScoredText[] = [];
    const handle: RewardModelHandle = {
      name: 'v',
      score: async (texts) => {
        asked.push(...texts);
        return texts.map((t) => 100 * (t.text.split('c').length - 1));
      },
      train: async () => ({ loss: 0, examples: 0 }),
    };
    return { asked, handle };
  };

  it("re-weights the policy's top tokens by exp(beta x value): the value model's favourite is drawn; it reads the prompt and the action so far", async () => {
    const policy = tinyPolicy(3);
    const { asked, handle } = likesC();
    const rollouts = await collectRollouts(policy, tokenizer, echoLike(), [{ task: 'a', groupId: 'g', count: 2 }], {
      maxNewTokens: 5,
      temperature: 1,
      rng: Rng.seeded(2),
      sampler: valueGuided({ model: 'v', candidates: tokenizer.vocabSize }),
      rewardModels: { v: handle },
    });
    for (const r of rollouts.flat()) expect(r.turns[0]?.action).toBe('ccccc');
    // The observation as the policy read it ('s' and 'y' are outside this alphabet).
    expect(new Set(asked.map((t) => t.context))).toEqual(new Set([tokenizer.decode(tokenizer.encode('say a'))]));
    // Position k asks for the k c's drawn so far plus each candidate token.
    expect(asked.some((t) => t.text === 'cccc' + 'h')).toBe(true);
    policy.dispose();
  });

  it('beta 0 is top-k on the policy; the weights are log pi + beta V on the top tokens and -Infinity elsewhere (any row)', async () => {
    const { handle } = likesC();
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.double({ min: -20, max: 0, noNaN: true }), { minLength: 2, maxLength: 10 }),
        fc.integer({ min: 1, max: 10 }),
        fc.double({ min: 0, max: 3, noNaN: true }),
        async (values, k, beta) => {
          const row = Float32Array.from(values);
          const letters = 'abcdefghij';
          const request = {
            logprobs: [row],
            contexts: [[1]],
            position: 0,
            texts: [{ context: 'x', text: 'c' }],
            tokenText: (id: number) => letters[id] ?? '',
            rewardModels: { v: handle },
          };
          const [out] = (await valueGuided({ model: 'v', beta, candidates: k }).logits?.(request)) ?? [];
          const top = new Set(topIds(row, k));
          row.forEach((lp, id) => {
            const expected = top.has(id) ? lp + beta * 100 * (1 + (letters[id] === 'c' ? 1 : 0)) : Number.NEGATIVE_INFINITY;
            expect(out?.[id]).toBeCloseTo(expected, 3);
          });
          if (beta === 0) expect([...(out ?? [])].map(Number.isFinite).filter(Boolean)).toHaveLength(Math.min(k, row.length));
        },
      ),
      { numRuns: 40 },
    );
  });

  it('names the missing value model and the ones the run has', async () => {
    const sampler = valueGuided({ model: 'prefix-value' });
    await expect(
      Promise.resolve(
        sampler.logits?.({
          logprobs: [new Float32Array(3)],
          contexts: [[1]],
          position: 0,
          texts: [{ context: '', text: '' }],
          tokenText: () => '',
          rewardModels: { 'bt-outcome': likesC().handle },
        }),
      ),
    ).rejects.toThrow(/no reward model 'prefix-value' \(it has: bt-outcome\); add it with --set rewardModels=prefix-value/);
    expect(() => valueGuided({ candidates: 0 })).toThrow(/candidates must be an integer >= 1, got 0/);
  });
});

describe('tree search', () => {
  it('restarts branches from a node of an earlier rollout: the turns before it, its snapshot, the kept prefix and its log-probs', async () => {
    const policy = tinyPolicy(11, 48);
    const env = walk();
    const requests = [{ task: 'start', groupId: 'g', count: 5 }];
    const { groups, drawn } = await sampleGroups(
      policy,
      tokenizer,
      env,
      requests,
      { maxNewTokens: 4, temperature: 1, rng: Rng.seeded(2), sampler: tree({ roots: 1, branchFrom: 'uniform' }) },
      (r) => r.reward.steps ?? 0,
    );
    expect(drawn).toHaveLength(5);
    const group = groups[0] as Rollout[];
    expect(group.length).toBeLessThanOrEqual(5);
    // Every branch shares a prefix with an earlier rollout: whole turns, then part of an action.
    for (const branch of drawn.slice(1)) {
      const earlier = drawn.slice(0, drawn.indexOf(branch));
      const shares = earlier.some((parent) => sharesPrefix(parent, branch));
      expect(shares).toBe(true);
      // The environment was restored: each turn's observation follows from the actions before it.
      branch.turns.forEach((turn, t) =>
        expect(turn.observation).toBe(
          `at ${branch.turns
            .slice(0, t)
            .map((x) => x.action)
            .join('')}.`,
        ),
      );
    }
    policy.dispose();
  });

  it('removes duplicate rollouts from a group and charges every one drawn', async () => {
    const policy = tinyPolicy(4);
    const env = echoLike();
    const { groups, drawn } = await sampleGroups(
      policy,
      tokenizer,
      env,
      [{ task: 'a', groupId: 'g', count: 6 }],
      // One-token actions: branches often repeat an earlier rollout.
      { maxNewTokens: 1, temperature: 1, rng: Rng.seeded(1), sampler: tree({ roots: 1 }) },
      () => 0,
    );
    expect(drawn).toHaveLength(6);
    const keys = (groups[0] as Rollout[]).map((r) => r.turns[0]?.actionTokens.join(','));
    expect(new Set(keys).size).toBe(keys.length);
    expect(new Set(drawn.map((r) => r.turns[0]?.actionTokens.join(','))).size).toBe(keys.length);
    policy.dispose();
  });
});

describe('tree search on a policy that repeats itself', () => {
  it('keeps a group whose rollouts are all identical at its drawn size (a group of one has no contrast for any group-relative estimator)', async () => {
    const policy = tinyPolicy(5);
    // A near-zero temperature: every branch samples the most likely tokens, so all four rollouts are equal.
    const { groups, drawn } = await sampleGroups(
      policy,
      tokenizer,
      echoLike(),
      [{ task: 'a', groupId: 'g', count: 4 }],
      { maxNewTokens: 2, temperature: 1e-4, rng: Rng.seeded(1), sampler: tree({ roots: 1 }) },
      () => 0,
    );
    policy.dispose();
    expect(drawn).toHaveLength(4);
    expect(new Set(drawn.map((r) => r.turns[0]?.actionTokens.join(','))).size).toBe(1);
    expect(groups[0]).toHaveLength(4);
  });
});

describe('a method that names a sampler', () => {
  it('has it applied: the sample stage decodes each group by beam search', async () => {
    const registry = tinyRegistry({
      name: 'beam-method',
      methods: [
        {
          name: 'mean-beam',
          summary: 'mean baseline over beam search',
          estimator: 'mean-baseline',
          loss: 'ppo-clip',
          sampler: 'beam',
        },
      ],
    });
    expect(
      resolvePlugins({ registry, method: 'mean-beam', env: 'echo', seed: 1, budget: { episodes: 8 }, overrides: TINY }).sampler
        ?.name,
    ).toBe('beam');
    const ctx = await tinyStepContext({ registry, method: 'mean-beam' });
    const sampled = await sample(ctx, async () => ({ rng: ctx.rng, weights: ctx.weights, scalar: ctx.scalar }));
    for (const group of sampled.groups) {
      const actions = group.map((r) => r.turns[0]?.actionTokens.join(','));
      expect(new Set(actions).size).toBe(actions.length);
      const found = await ctx.policy.beamSearch(group[0]?.turns[0]?.promptTokens as number[], {
        width: Math.max(4, group.length),
        count: group.length,
        maxNewTokens: ctx.config.maxNewTokens,
        stopTokens: [EOS],
      });
      expect(group.map((r) => r.turns[0]?.actionTokens)).toEqual(found.tokens);
    }
    expect(ctx.meter.consumed.episodes).toBe(ctx.config.tasksPerStep * ctx.config.groupSize);
  });

  it('--set sampler replaces it and --set samplerOptions configures it; options without a sampler are refused', () => {
    const registry = tinyRegistry();
    const run = (overrides: Record<string, unknown>) =>
      resolvePlugins({
        registry,
        method: 'reinforce-mean',
        env: 'echo',
        seed: 1,
        budget: { episodes: 8 },
        overrides: { ...TINY, ...overrides },
      });
    expect(run({ sampler: 'beam', samplerOptions: { width: 9 } }).sampler?.width).toBe(9);
    expect(() => run({ samplerOptions: { width: 9 } })).toThrow(/this run has no sampler/);
    expect(() => run({ sampler: 'bean' })).toThrow(/unknown sampler 'bean'.*beam/);
  });
});

function sharesPrefix(parent: Rollout, branch: Rollout): boolean {
  for (let t = 0; t < branch.turns.length; t++) {
    const a = parent.turns[t];
    const b = branch.turns[t];
    if (!a || !b) return false;
    if (a.actionTokens.join(',') === b.actionTokens.join(',') && a.logprobs.join(',') === b.logprobs.join(',')) continue;
    // The branch point: a kept prefix (possibly empty) with the parent's recorded log-probs.
    let j = 0;
    while (j < a.actionTokens.length && a.actionTokens[j] === b.actionTokens[j]) j++;
    return a.logprobs.slice(0, j).join(',') === b.logprobs.slice(0, j).join(',') && a.observation === b.observation;
  }
  return true;
}

/** One turn: say anything. */
function echoLike(): Environment {
  return {
    name: 'echo-like',
    summary: 'one turn',
    rewardComponents: [{ name: 'steps', weight: 1 }],
    maxTurns: 1,
    tasks: () => ['a'],
    taskId: (task) => String(task),
    start: () => {
      let done = false;
      return {
        observation: () => 'say a',
        step: () => {
          done = true;
          return { reward: { steps: 1 }, done, valid: true };
        },
        outcome: () => ({ reward: { steps: 1 }, success: true }),
      };
    },
  };
}

/** Three turns; the observation spells the actions taken so far (so a wrong restore shows). */
function walk(): Environment {
  return {
    name: 'walk',
    summary: 'three turns',
    rewardComponents: [{ name: 'steps', weight: 1 }],
    maxTurns: 3,
    tasks: () => ['start'],
    taskId: (task) => String(task),
    start: () => {
      let path = '';
      let turns = 0;
      return {
        observation: () => `at ${path}.`,
        step: (action) => {
          path += action;
          turns += 1;
          return { reward: { steps: path.length }, done: turns >= 3, valid: true };
        },
        outcome: () => ({ reward: { steps: path.length }, success: path.length > 3 }),
        snapshot: () => ({ path, turns }),
        restore: (state) => {
          ({ path, turns } = state as { path: string; turns: number });
        },
      };
    },
  };
}
