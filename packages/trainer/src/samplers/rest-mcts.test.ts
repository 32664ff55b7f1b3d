import { type Environment, type RewardModelHandle, Rng, type ScoredText } from '@policy-lab/core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/select-backend.js';
import { nextValue, restMctsTargets } from '../loop/mcts.js';
import { promptFor } from '../loop/rollouts.js';
import { sampleGroups } from '../loop/samplers.js';
import { createPolicy } from '../model/transformer.js';
import { BOS, CharTokenizer, EOS } from '../tokenizer/char-tokenizer.js';
import { restMcts, restMctsEstimator } from './rest-mcts.js';

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
});

const tokenizer = CharTokenizer.fromAlphabet('abc +:');
const MAX_NEW = 8;
const tinyPolicy = (seed: number) =>
  createPolicy(
    { dim: 16, layers: 1, heads: 2, contextLength: 24, mlpRatio: 2, valueHead: false, vocabSize: tokenizer.vocabSize },
    Rng.seeded(seed).split('init'),
  );

/** One turn: the action's count of 'a' is its reward; it succeeds with at least two. */
const spell: Environment = {
  name: 'spell',
  summary: 'one turn',
  rewardComponents: [{ name: 'as', weight: 1 }],
  maxTurns: 1,
  tasks: () => ['t'],
  taskId: (task) => String(task),
  start: () => {
    let said = '';
    return {
      observation: () => 'say:',
      step: (action) => {
        said = action;
        return { reward: { as: said.split('a').length - 1 }, done: true, valid: true };
      },
      outcome: () => ({ reward: { as: said.split('a').length - 1 }, success: said.split('a').length - 1 >= 2 }),
    };
  },
};

/** A value model double: the share of 'a' in the action so far, each call logged. */
function aValue(): RewardModelHandle & { calls: ScoredText[][] } {
  const calls: ScoredText[][] = [];
  return {
    name: 'restmcts-value',
    calls,
    async score(texts) {
      calls.push([...texts]);
      return texts.map((t) => (t.text.length ? (t.text.split('a').length - 1) / t.text.length : 0));
    },
    async train() {
      return { loss: 0, examples: 0 };
    },
  };
}

const searchOptions = (sampler: ReturnType<typeof restMcts>, value: RewardModelHandle, seed: number) => ({
  maxNewTokens: MAX_NEW,
  temperature: 1,
  rng: Rng.seeded(seed),
  sampler,
  rewardModels: { 'restmcts-value': value },
});

describe('restMctsTargets (the values a finished tree infers)', () => {
  it("the reference's worked example: r = [+1, +1, -1, +1], m = [3, 2, 2, 1] give V = [0.333, 0.667, 0.5, 1]", () => {
    const r = [1, 1, -1, 1] as const;
    const m = [3, 2, 2, 1];
    const values: number[] = [];
    let v = 0;
    r.forEach((rk, k) => {
      v = nextValue(v, rk, m[k] as number);
      values.push(v);
    });
    expect(values.map((x) => Number(x.toFixed(3)))).toEqual([0.333, 0.667, 0.5, 1]);
  });

  it('a chain to a correct answer and a wrong sibling: distances counted from the answer, the wrong branch below its parent', () => {
    // root 0 -> 1 -> 2 -> 3 (correct end); 1 -> 4 (wrong end)
    const parents = [-1, 0, 1, 2, 1];
    const terminal = [false, false, false, true, true];
    const correct = [false, false, false, true, false];
    const t = restMctsTargets(parents, terminal, correct);
    // m: node 1 is 3 steps from the answer, node 2 two, node 3 one; node 4 takes its parent's 3
    expect(t[0]).toBe(0);
    expect(t[1]).toBeCloseTo(1 / 3, 12);
    expect(t[2]).toBeCloseTo(1 / 3 + 2 / 3 / 2, 12);
    expect(t[3]).toBe(1);
    expect(t[4]).toBeCloseTo(Math.max(0, 1 / 3 - 2 / 3 / 3), 12);
  });

  it('property: targets lie in [0, 1], a correct end is 1, and a tree without a correct end has none', () => {
    const tree = fc
      .integer({ min: 2, max: 24 })
      .chain((n) =>
        fc.tuple(
          fc.array(fc.nat(), { minLength: n - 1, maxLength: n - 1 }),
          fc.array(fc.boolean(), { minLength: n, maxLength: n }),
        ),
      );
    fc.assert(
      fc.property(tree, ([picks, correctness]) => {
        const parents = [-1, ...picks.map((p, i) => p % (i + 1))];
        const terminal = parents.map((_, i) => !parents.includes(i));
        const correct = terminal.map((t, i) => t && (correctness[i] as boolean));
        const targets = restMctsTargets(parents, terminal, correct);
        for (const v of targets) if (v !== undefined) expect(v >= 0 && v <= 1).toBe(true);
        correct.forEach((c, i) => {
          if (c) expect(targets[i]).toBe(1);
        });
        if (!correct.some(Boolean)) expect(targets.every((v) => v === undefined)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

describe('rest-mcts sampler (MCTS* over the steps of an action)', () => {
  it("property: one next step per expansion (one simulation per step) is plain sampling of the tree's stream, token for token, whatever the roll-forward does", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 0, max: 2 }), async (seed, rollForwardSteps) => {
        const policy = tinyPolicy(seed);
        const value = aValue();
        const searched = await sampleGroups(
          policy,
          tokenizer,
          spell,
          [{ task: 't', groupId: 'g0', count: 1 }],
          searchOptions(restMcts({ branch: 1, simulations: MAX_NEW, rollForwardSteps }), value, seed),
          () => 0,
        );
        const prompt = promptFor([BOS], tokenizer.encode('say:'), 24 - MAX_NEW, tokenizer);
        const plain = await policy.generate([prompt], {
          maxNewTokens: MAX_NEW,
          temperature: 1,
          stopTokens: [EOS],
          rng: Rng.seeded(seed).split('mcts/g0'),
        });
        policy.dispose();
        const [trace] = searched.groups[0] ?? [];
        expect(searched.groups[0]).toHaveLength(1);
        expect(trace?.turns[0]?.actionTokens).toEqual(plain.tokens[0]);
        const recorded = trace?.turns[0]?.logprobs ?? [];
        (plain.logprobs[0] ?? []).forEach((lp, k) => expect(recorded[k]).toBeCloseTo(lp, 5));
        // One finished trace: one episode; every token generated (the trace's and the roll-forwards') charged.
        expect(searched.extra?.episodes).toBe(1);
        expect(searched.extra?.generatedTokens).toBeGreaterThanOrEqual(plain.tokens[0]?.length ?? 0);
        if (rollForwardSteps === 0) expect(searched.extra?.generatedTokens).toBe(plain.tokens[0]?.length);
      }),
      { numRuns: 10 },
    );
  });

  it("acts: with a value model that likes 'a', the kept trace has more 'a' than plain samples (16 seeds), and every value call is on the task's observation", async () => {
    let searchedAs = 0;
    let plainAs = 0;
    for (let seed = 1; seed <= 16; seed++) {
      const policy = tinyPolicy(seed);
      const value = aValue();
      const out = await sampleGroups(
        policy,
        tokenizer,
        spell,
        [{ task: 't', groupId: 'g0', count: 1 }],
        searchOptions(restMcts({ branch: 4, simulations: 8, rollForwardSteps: 0 }), value, seed),
        () => 0,
      );
      const plain = await sampleGroups(
        policy,
        tokenizer,
        spell,
        [{ task: 't', groupId: 'g0', count: 1 }],
        { maxNewTokens: MAX_NEW, temperature: 1, rng: Rng.seeded(seed) },
        () => 0,
      );
      policy.dispose();
      searchedAs += out.groups[0]?.[0]?.reward.as ?? 0;
      plainAs += plain.groups[0]?.[0]?.reward.as ?? 0;
      for (const call of value.calls) for (const t of call) expect(t.context).toBe('say:');
      const meta = out.groups[0]?.[0]?.meta as { restMcts: { traces: number }; valueTargets?: unknown[] };
      expect(out.extra?.episodes).toBe(meta.restMcts.traces);
    }
    expect(searchedAs).toBeGreaterThan(plainAs);
  });

  it('the estimator keeps correct traces whose value reaches the threshold, as supervised targets', async () => {
    const trace = (success: boolean, value: number) => ({
      id: 'g/0',
      groupId: 'g',
      taskId: 't',
      turns: [],
      reward: {},
      success,
      meta: { restMcts: { value, traces: 3 } },
    });
    const out = await restMctsEstimator().compute([[trace(true, 0.5), trace(true, 0.1), trace(false, 0.9)]], {
      rng: Rng.seeded(1),
      weights: {},
      scalar: () => 0,
    });
    expect(out.weights).toEqual([[1, 0, 0]]);
    expect(out.rollout).toEqual([[1, 0, 0]]);
    expect(() =>
      restMctsEstimator().compute([[{ ...trace(true, 1), meta: {} }]], { rng: Rng.seeded(1), weights: {}, scalar: () => 0 }),
    ).toThrow(/--set sampler=rest-mcts/);
  });

  it('names a missing value model and a multi-turn environment; bad options are refused', async () => {
    const policy = tinyPolicy(1);
    const request = [{ task: 't', groupId: 'g0', count: 1 }];
    await expect(
      sampleGroups(
        policy,
        tokenizer,
        spell,
        request,
        { maxNewTokens: MAX_NEW, temperature: 1, rng: Rng.seeded(1), sampler: restMcts() },
        () => 0,
      ),
    ).rejects.toThrow(/reward model 'restmcts-value'.*--set rewardModels=restmcts-value/);
    await expect(
      sampleGroups(policy, tokenizer, { ...spell, maxTurns: 3 }, request, searchOptions(restMcts(), aValue(), 1), () => 0),
    ).rejects.toThrow(/single-turn environment/);
    policy.dispose();
    expect(() => restMcts({ branch: 0 })).toThrow(/branch/);
    expect(() => restMcts({ alpha: 2 })).toThrow(/alpha/);
  });
});
