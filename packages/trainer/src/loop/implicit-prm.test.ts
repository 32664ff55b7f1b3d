/**
 * The implicit PRM (iStar/OPRL) as the trainer builds it: a copy of the policy trained by
 * trajectory DPO, whose step rewards beta * log(pi_prm / pi_policy) are scored and charged.
 */
import { BudgetMeter, type RewardModel, Rng, type ScoredText } from '@policy-lab/core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/select-backend.js';
import { createPolicy } from '../model/transformer.js';
import { CharTokenizer } from '../tokenizer/char-tokenizer.js';
import { resolveTrainConfig } from './config.js';
import { binomialUpperTail } from './evaluate.js';
import { buildRewardModel } from './reward-models.js';

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
});

const tokenizer = CharTokenizer.fromAlphabet('abcdefgh|');
const modelConfig = { dim: 16, layers: 1, heads: 2, contextLength: 32, mlpRatio: 2, valueHead: false };
const config = {
  ...resolveTrainConfig(
    {
      method: { name: 'm', summary: 's', estimator: 'e', loss: 'l' },
      env: {
        name: 'x',
        summary: 's',
        rewardComponents: [],
        maxTurns: 3,
        tasks: () => [],
        taskId: String,
        start: () => ({}) as never,
      },
      seed: 5,
      budget: { episodes: 1 },
    },
    {},
  ),
  model: modelConfig,
};
const plugin: RewardModel = {
  name: 'implicit-prm',
  summary: 'test',
  architecture: { kind: 'policy-copy' },
  objective: 'implicit-prm',
  beta: 0.5,
  learningRate: 0.01,
  updatesPerStep: 1,
  component: { name: 'implicitReward', weight: 0 },
  examples: () => ({}),
};
const policyOf = () => createPolicy({ ...modelConfig, vocabSize: tokenizer.vocabSize }, Rng.seeded(9).split('init'));

// A task is a letter; an expert answers each of its 3 steps with that letter, a corrupted solution
// gets one step wrong. The PRM sees only which whole trajectory is preferred.
const LETTERS = 'abcdefgh';
const stepsOf = (task: string, actions: readonly string[]): ScoredText[] => {
  let history = `${task}|`;
  return actions.map((action) => {
    const context = history;
    history += action;
    return { context, text: action };
  });
};
const corruptedCase = (rng: Rng) => {
  const task = LETTERS[rng.int(0, 7)] as string;
  const wrong = LETTERS.replace(task, '')[rng.int(0, 6)] as string;
  const at = rng.int(0, 2);
  const expert = [task, task, task];
  const corrupted = expert.map((a, k) => (k === at ? wrong : a));
  return { expert: stepsOf(task, expert), corrupted: stepsOf(task, corrupted), at };
};

describe('implicit PRM (policy-copy, trajectory DPO)', () => {
  it('starts as the policy: every step reward is 0; scoring charges both passes, training the PRM pass as trained', async () => {
    const meter = new BudgetMeter({ episodes: 1 });
    const policy = policyOf();
    const prm = buildRewardModel(plugin, config, tokenizer, (c) => meter.charge(c), policy);
    prm.startFrom(policy);
    const { expert, corrupted } = corruptedCase(Rng.seeded(1));
    const scores = await prm.handle.score([...expert, ...corrupted]);
    for (const s of scores) expect(Math.abs(s)).toBeLessThan(1e-5);
    // 6 rows of the longest length (BOS, 4 context, SEP, 1 action, EOS = 8 tokens), once by the PRM and once by the policy
    expect(meter.consumed.auxScoredTokens).toBe(2 * 6 * 8);
    const { loss } = await prm.handle.train({ trajectories: [{ chosen: expert, rejected: corrupted }] });
    expect(loss).toBeCloseTo(Math.log(2), 5);
    expect(meter.consumed.auxTrainedTokens).toBe(6 * 8);
    expect(meter.consumed.auxScoredTokens).toBe(2 * 6 * 8 + 6 * 8);
    prm.dispose();
    policy.dispose();
  });

  it('property: the step rewards of a trajectory sum to its implicit reward in the DPO loss', async () => {
    const policy = policyOf();
    const prm = buildRewardModel(plugin, config, tokenizer, () => {}, policy);
    prm.startFrom(policy);
    const rng = Rng.seeded(2);
    // A few updates first, so that the PRM differs from the policy.
    for (let u = 0; u < 5; u++) {
      const c = corruptedCase(rng);
      await prm.handle.train({ trajectories: [{ chosen: c.expert, rejected: c.corrupted }] });
    }
    const actions = fc.array(fc.constantFrom(...LETTERS), { minLength: 1, maxLength: 3 });
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...LETTERS), actions, actions, async (task, chosenActions, rejectedActions) => {
        const chosen = stepsOf(task, chosenActions);
        const rejected = stepsOf(task, rejectedActions);
        const scores = await prm.handle.score([...chosen, ...rejected]);
        const margin =
          scores.slice(0, chosen.length).reduce((a, b) => a + b, 0) - scores.slice(chosen.length).reduce((a, b) => a + b, 0);
        // the loss reported is the one before the update: -log sigmoid(margin) = softplus(-margin)
        const probe = buildRewardModel({ ...plugin, learningRate: 1e-12 }, config, tokenizer, () => {}, policy);
        probe.weights.variables.forEach((v, i) => v.assign(prm.weights.variables[i] as never));
        const { loss } = await probe.handle.train({ trajectories: [{ chosen, rejected }] });
        probe.dispose();
        expect(loss).toBeCloseTo(Math.log1p(Math.exp(-margin)), 4);
      }),
      { numRuns: 12 },
    );
    prm.dispose();
    policy.dispose();
  });

  it('trained on trajectory preferences only, it scores the expert step above the corrupted one on held-out cases (binomial test)', async () => {
    const policy = policyOf();
    const prm = buildRewardModel(plugin, config, tokenizer, () => {}, policy);
    prm.startFrom(policy);
    const rng = Rng.seeded(3);
    for (let u = 0; u < 120; u++) {
      const batch = Array.from({ length: 8 }, () => corruptedCase(rng));
      await prm.handle.train({ trajectories: batch.map((c) => ({ chosen: c.expert, rejected: c.corrupted })) });
    }
    const heldOut = Rng.seeded(1234);
    const cases = Array.from({ length: 40 }, () => corruptedCase(heldOut));
    let right = 0;
    for (const c of cases) {
      const [expertStep, corruptedStep] = await prm.handle.score([c.expert[c.at] as ScoredText, c.corrupted[c.at] as ScoredText]);
      if ((expertStep as number) > (corruptedStep as number)) right++;
    }
    const p = binomialUpperTail(right, cases.length);
    expect(right).toBeGreaterThanOrEqual(30);
    expect(p).toBeLessThan(0.01);
    prm.dispose();
    policy.dispose();
  }, 60_000);

  it('refuses an implicit-prm objective without the policy-copy architecture, and the reverse', () => {
    const policy = policyOf();
    expect(() =>
      buildRewardModel(
        { ...plugin, architecture: { kind: 'transformer', dim: 16, layers: 1, heads: 2 } },
        config,
        tokenizer,
        () => {},
        policy,
      ),
    ).toThrow(/implicit-prm objective and the policy-copy architecture go together/);
    expect(() => buildRewardModel({ ...plugin, objective: 'bradley-terry' }, config, tokenizer, () => {}, policy)).toThrow(
      /go together/,
    );
    policy.dispose();
  });
});
