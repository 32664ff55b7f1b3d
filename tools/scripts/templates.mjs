// Templates of `npm run new`: each variant returns the package's source, tests and README.
// Every template is a small, correct plugin with a fast-check property and a worked example.

const readme = ({ name, what, formula, defaults, when, example, options }) => `# @policy-lab/${name}

${what}

## Formula

${formula}

## Defaults and where they come from

${defaults}

## When to use it

${when}

## Example

\`\`\`sh
${example}
\`\`\`

## Options

${options}

## Paper

(cite the paper this plugin implements: title, year, arXiv id)

## Unverified parts

(list what is not confirmed against a primary source; the plugin's \`unverified\` field says the same)
`;

const estimatorSource = (
  { name, camel },
  withMethod,
) => `import { type AdvantageEstimator, defineEstimator, ${withMethod ? 'defineMethod, ' : ''}type Plugin, resolveOptions } from '@policy-lab/core';

const OPTIONS = {
  scale: { type: 'number', default: 1, doc: 'multiplies every advantage' },
} as const;

/** A_i = scale x (r_i - mean(r)): the group mean as baseline (replace with your method's rule). */
export function ${camel}(options: { scale?: number } = {}): AdvantageEstimator {
  const resolved = resolveOptions<{ scale: number }>('${name}', OPTIONS, options);
  return defineEstimator({
    name: '${name}',
    summary: 'Group-mean baseline (template: replace with your estimator)',
    options: OPTIONS,
    resolved,
    math: '$A_i = s \\\\cdot (r_i - \\\\operatorname{mean}(r))$',
    configure: (next) => ${camel}({ ...resolved, ...next }) as never,
    compute(groups, ctx) {
      const rollout = groups.map((group, g) => {
        if (group.length < 2) throw new RangeError(\`${name}: group \${g} has \${group.length} rollout(s); it needs at least 2\`);
        const rewards = group.map((r) => ctx.scalar(r.reward));
        const mean = rewards.reduce((a, b) => a + b, 0) / rewards.length;
        return rewards.map((r) => resolved.scale * (r - mean));
      });
      return { rollout, weights: rollout.map((g) => g.map(() => 1)) };
    },
  });
}

export const plugin: Plugin = {
  name: '@policy-lab/${name}',
  estimators: [${camel}()],${
    withMethod
      ? `
  methods: [
    defineMethod({ name: '${name}', summary: '${name}: the ${name} estimator with the PPO clipped surrogate', estimator: '${name}', loss: 'ppo-clip' }),
  ],`
      : ''
  }
};
`;

const estimatorTest = ({ name, camel }) => `import { Rng, weightedSum } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ${camel} } from './index.js';

const weights = { reward: 1 };
const ctx = { rng: Rng.seeded(0), weights, scalar: (r: Record<string, number>) => weightedSum(r, weights) };
const groupOf = (rewards: number[]) => rewards.map((r, i) => ({ id: \`g/\${i}\`, groupId: 'g', taskId: 't', turns: [], reward: { reward: r }, success: r > 0 }));
const advantages = (rewards: number[], scale = 1) => (${camel}({ scale }).compute([groupOf(rewards)], ctx) as { rollout: number[][] }).rollout[0] as number[];

describe('${name}', () => {
  it('worked example: [1, 0, 0, 1] -> [0.5, -0.5, -0.5, 0.5]', () => {
    expect(advantages([1, 0, 0, 1])).toEqual([0.5, -0.5, -0.5, 0.5]);
    expect(advantages([1, 0, 0, 1], 2)).toEqual([1, -1, -1, 1]);
  });

  it('group advantages sum to zero and ignore a constant added to every reward', () => {
    const reward = fc.integer({ min: -1000, max: 1000 }).map((x) => x / 10);
    fc.assert(
      fc.property(fc.array(reward, { minLength: 2, maxLength: 8 }), reward, (rewards, shift) => {
        const a = advantages(rewards);
        const b = advantages(rewards.map((r) => r + shift));
        const total = a.reduce((x, y) => x + y, 0);
        return Math.abs(total) < 1e-9 && a.every((v, i) => Math.abs(v - (b[i] as number)) < 1e-9);
      }),
    );
  });

  it('refuses a group of one', () => {
    expect(() => advantages([1])).toThrow(/needs at least 2/);
  });
});
`;

const estimator = (withMethod) => (names) => ({
  description: `${names.name}: an advantage estimator${withMethod ? ' and method' : ''} for policy-lab.`,
  index: estimatorSource(names, withMethod),
  test: estimatorTest(names),
  readme: readme({
    name: names.name,
    what: `An advantage estimator${withMethod ? ' and the Method that uses it' : ''} for policy-lab (generated template: replace the rule with your method's).`,
    formula: '$A_i = s \\cdot (r_i - \\operatorname{mean}(r))$ over the rollouts of a group.',
    defaults: '`scale` = 1.',
    when: "When a group-mean baseline fits your rewards; replace this text with your method's case.",
    example: withMethod
      ? `npx bench compare ${names.name} grpo --budget episodes=256`
      : `npx bench list --kind estimators --verbose`,
    options: '- `scale` (number, default 1): multiplies every advantage.',
  }),
});

const loss = ({ name, camel }) => ({
  description: `${name}: a policy loss for policy-lab.`,
  devDependencies: { '@tensorflow/tfjs-backend-cpu': '4.22.0', '@tensorflow/tfjs-core': '4.22.0' },
  index: `import { aggregateLoss, defineLoss, type Plugin, type RowLoss } from '@policy-lab/core';
import type * as tf from '@tensorflow/tfjs-core';

/**
 * -A log pi on the trained tokens (template: replace with your loss). A loss over rows is
 * kind 'rows'; it reduces through core's aggregateLoss, the one aggregation every loss shares
 * (rows of weight 0 leave every denominator). No tfjs import at run time: tf is passed in.
 */
export function ${camel}(): RowLoss<typeof tf, tf.Tensor> {
  return defineLoss<RowLoss<typeof tf, tf.Tensor>>({
    name: '${name}',
    kind: 'rows',
    summary: 'Advantage-weighted log-likelihood (template: replace with your loss)',
    math: '$\\\\ell = -\\\\frac{\\\\sum_t m_t A_t \\\\log \\\\pi_\\\\theta(a_t)}{\\\\sum_t m_t}$',
    loss(batch, tfjs) {
      const perToken = tfjs.neg(tfjs.mul(batch.advantages, batch.logprobs));
      return { loss: aggregateLoss<tf.Tensor>(tfjs, perToken, batch.mask, batch.weights, batch.aggregation, batch.normLength) };
    },
  });
}

export const plugin: Plugin = { name: '@policy-lab/${name}', losses: [${camel}()] };
`,
  test: `import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { ${camel} } from './index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const batch = (logprobs: number[], advantages: number[], weight = 1) => ({
  logprobs: tf.tensor2d([logprobs]),
  oldLogprobs: tf.zeros([1, logprobs.length]),
  advantages: tf.tensor2d([advantages]),
  mask: tf.ones([1, logprobs.length]),
  weights: tf.tensor1d([weight]),
  aggregation: 'token-mean' as const,
  normLength: logprobs.length,
});

describe('${name}', () => {
  it('worked example: -(1 x -0.5 + 2 x -1) / 2 = 1.25', async () => {
    const { loss } = ${camel}().loss(batch([-0.5, -1], [1, 2]), tf);
    expect((await loss.data())[0]).toBeCloseTo(1.25, 6);
  });

  it('is zero for zero advantages and for excluded rollouts', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.double({ min: -5, max: 0, noNaN: true }), { minLength: 1, maxLength: 6 }), async (logprobs) => {
        const zero = ${camel}().loss(batch(logprobs, logprobs.map(() => 0)), tf).loss;
        const excluded = ${camel}().loss(batch(logprobs, logprobs.map(() => 1), 0), tf).loss;
        return Math.abs((await zero.data())[0] as number) < 1e-9 && Math.abs((await excluded.data())[0] as number) < 1e-9;
      }),
      { numRuns: 30 },
    );
  });
});
`,
  readme: readme({
    name,
    what: "A policy loss for policy-lab (generated template: replace with your loss). It receives the trainer's `tf` namespace, so the package never imports tfjs at run time.",
    formula: '$\\ell = -\\frac{\\sum_t m_t A_t \\log \\pi_\\theta(a_t)}{\\sum_t m_t}$',
    defaults: 'No options.',
    when: 'Replace with the case your loss is for.',
    example: `npx bench train grpo --env countdown --budget episodes=256 --set loss=${name}`,
    options: 'None.',
  }),
});

const divergence = ({ name, camel }) => ({
  description: `${name}: an f-divergence for policy-lab.`,
  index: `import { defineDivergence, type Plugin } from '@policy-lab/core';

/** Pearson chi-squared as a template: f(t) = (t - 1)^2, per-sample estimate for x ~ p. */
export function ${camel}() {
  return defineDivergence({
    name: '${name}',
    summary: 'Pearson chi-squared divergence (template: replace with your divergence)',
    math: '$f(t) = (t-1)^2$, $D_f(P\\\\|Q) = \\\\sum_x Q(x) f(P(x)/Q(x))$',
    f: (t: number) => (t - 1) ** 2,
    value: (p: readonly number[], q: readonly number[]) => p.reduce((total, pi, i) => total + ((pi - (q[i] as number)) ** 2) / (q[i] as number), 0),
    // E_{x~p}[(p/q - 1)^2 q/p] = sum q (p/q - 1)^2
    estimate: (logp: number, logq: number) => (Math.exp(logp - logq) - 1) ** 2 * Math.exp(logq - logp),
  });
}

export const plugin: Plugin = { name: '@policy-lab/${name}', divergences: [${camel}()] };
`,
  test: `import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ${camel} } from './index.js';

const divergence = ${camel}();
const distribution = fc.array(fc.double({ min: 0.01, max: 1, noNaN: true }), { minLength: 2, maxLength: 6 }).map((w) => {
  const total = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / total);
});

describe('${name}', () => {
  it('worked example: P = [0.5, 0.5], Q = [0.25, 0.75] -> 1/3', () => {
    expect(divergence.value?.([0.5, 0.5], [0.25, 0.75])).toBeCloseTo(0.25 ** 2 / 0.25 + 0.25 ** 2 / 0.75, 12);
  });

  it('has f(1) = 0, a convex generator, D(P||P) = 0 and D >= 0', () => {
    expect(divergence.f?.(1)).toBe(0);
    fc.assert(fc.property(fc.double({ min: 0.01, max: 10, noNaN: true }), fc.double({ min: 0.01, max: 10, noNaN: true }), (a, b) => (divergence.f?.((a + b) / 2) as number) <= ((divergence.f?.(a) as number) + (divergence.f?.(b) as number)) / 2 + 1e-12));
    fc.assert(fc.property(distribution, (p) => Math.abs(divergence.value?.(p, p) as number) < 1e-12));
    fc.assert(fc.property(distribution, distribution, (p, q) => p.length !== q.length || (divergence.value?.(p, q) as number) >= -1e-12));
  });

  it('its per-sample estimate is unbiased: E_p[estimate] = D exactly', () => {
    fc.assert(
      fc.property(distribution, distribution, (p, q) => {
        if (p.length !== q.length) return true;
        const expectation = p.reduce((total, pi, i) => total + pi * divergence.estimate(Math.log(pi), Math.log(q[i] as number)), 0);
        return Math.abs(expectation - (divergence.value?.(p, q) as number)) < 1e-9 * (1 + expectation);
      }),
    );
  });
});
`,
  readme: readme({
    name,
    what: 'An f-divergence for policy-lab (generated template: Pearson chi-squared; replace with yours).',
    formula: '$f(t) = (t-1)^2$, $D_f(P\\|Q) = \\sum_x Q(x) f(P(x)/Q(x))$',
    defaults: 'No options.',
    when: "Replace with the case your divergence is for. Add a tensor `penalty(logp, logRef, tf)` to use it as the trainer's penalty.",
    example: 'npx bench list --kind divergences --verbose',
    options: 'None.',
  }),
});

const shaper = ({ name, camel }) => ({
  description: `${name}: a reward shaper for policy-lab.`,
  index: `import { defineShaper, type Plugin, type RewardShaper, resolveOptions } from '@policy-lab/core';

const OPTIONS = { coef: { type: 'number', default: 0.1, doc: 'penalty per action token, as a fraction of the token limit' } } as const;

/** Adds a \`length\` component: -coef x (action tokens / maxNewTokens) (template: replace with your shaper). */
export function ${camel}(options: { coef?: number } = {}): RewardShaper {
  const resolved = resolveOptions<{ coef: number }>('${name}', OPTIONS, options);
  return defineShaper({
    name: '${name}',
    summary: 'Length penalty as its own reward component (template: replace with your shaper)',
    options: OPTIONS,
    resolved,
    math: '$r_{length} = -c \\\\cdot |a| / L_{max}$',
    configure: (next) => ${camel}({ ...resolved, ...next }) as never,
    shape(rollouts, ctx) {
      return rollouts.map((rollout) => {
        const tokens = rollout.turns.reduce((total, turn) => total + turn.actionTokens.length, 0);
        return { ...rollout, reward: { ...rollout.reward, length: (-resolved.coef * tokens) / ctx.maxNewTokens } };
      });
    },
  });
}

export const plugin: Plugin = { name: '@policy-lab/${name}', shapers: [${camel}()] };
`,
  test: `import { Rng, type Rollout } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ${camel} } from './index.js';

const ctx = { rng: Rng.seeded(0), step: 1, weights: { correct: 1 }, components: ['correct'], maxNewTokens: 10 };
const rollout = (tokens: number): Rollout => ({
  id: 'g/0', groupId: 'g', taskId: 't', success: false, reward: { correct: 1 },
  turns: [{ observation: 'o', action: 'a', promptTokens: [1], actionTokens: new Array(tokens).fill(5), logprobs: new Array(tokens).fill(0), reward: {}, valid: true, truncated: false }],
});

describe('${name}', () => {
  it('worked example: 5 tokens of 10 with coef 0.1 -> length -0.05', () => {
    expect(${camel}().shape([rollout(5)], ctx)[0]?.reward).toEqual({ correct: 1, length: -0.05 });
  });

  it('never mutates its input and penalises longer actions more', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 }), fc.integer({ min: 0, max: 10 }), (a, b) => {
        const input = [rollout(a), rollout(b)];
        const before = JSON.stringify(input);
        const [x, y] = ${camel}().shape(input, ctx);
        return JSON.stringify(input) === before && (a <= b ? (x?.reward.length as number) >= (y?.reward.length as number) : true);
      }),
    );
  });
});
`,
  readme: readme({
    name,
    what: 'A reward shaper for policy-lab (generated template: a length penalty as its own component; replace with yours).',
    formula: '$r_{length} = -c \\cdot |a| / L_{max}$',
    defaults: '`coef` = 0.1.',
    when: 'Replace with the case your shaper is for. Shapers return new rollouts and never mutate their input.',
    example: 'npx bench list --kind shapers --verbose',
    options: '- `coef` (number, default 0.1).',
  }),
});

const env = ({ name, camel }) => ({
  description: `${name}: a text environment for policy-lab.`,
  index: `import { defineEnvironment, type Plugin, type Rng } from '@policy-lab/core';

export interface ${camel[0]?.toUpperCase()}${camel.slice(1)}Task {
  word: string;
}

const WORDS = ['cat', 'dog', 'sun', 'sky', 'sea', 'red', 'map', 'pen', 'cup', 'box'];

/** Reverse a three-letter word (template: replace with your environment). Single turn. */
export function ${camel}() {
  return defineEnvironment({
    name: '${name}',
    summary: 'Reverse a three-letter word (template: replace with your environment)',
    rewardComponents: [
      { name: 'correct', weight: 1 },
      { name: 'format', weight: 0.1 },
    ],
    maxTurns: 1,
    recommended: { dim: 32, layers: 1, heads: 2, contextLength: 24, maxNewTokens: 6 },
    // Words with an even index are train tasks, odd ones test tasks: disjoint whatever the seed.
    tasks: (split: 'train' | 'test', { count }: { seed: number; count?: number }) =>
      WORDS.filter((_, i) => (i % 2 === 0) === (split === 'train')).slice(0, count).map((word) => ({ word })),
    taskId: (task: { word: string }) => task.word,
    alphabet: () => 'abcdefghijklmnopqrstuvwxyz :',
    demonstrate: (task: { word: string }) => [[...task.word].reverse().join('')],
    // Deterministic: the Rng is for environments that draw randomness during an episode.
    start(task: { word: string }, _rng: Rng) {
      let answer = '';
      const reward = () => ({ correct: answer === [...task.word].reverse().join('') ? 1 : 0, format: /^[a-z]{3}$/.test(answer) ? 1 : 0 });
      return {
        observation: () => \`reverse: \${task.word}\`,
        step(action: string) {
          answer = action;
          return { reward: reward(), done: true, valid: /^[a-z]{3}$/.test(action) };
        },
        outcome: () => ({ reward: reward(), success: reward().correct === 1 }),
      };
    },
  });
}

export const plugin: Plugin = { name: '@policy-lab/${name}', environments: [${camel}()] };
`,
  test: `import { Rng } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ${camel} } from './index.js';

const env = ${camel}();

describe('${name}', () => {
  it('worked example: reverse "cat" -> "tac" scores correct 1, format 1', () => {
    const episode = env.start({ word: 'cat' }, Rng.seeded(1));
    expect(episode.observation()).toBe('reverse: cat');
    expect(episode.step('tac')).toMatchObject({ reward: { correct: 1, format: 1 }, done: true, valid: true });
    expect(episode.outcome().success).toBe(true);
  });

  it('has disjoint splits and an expert that solves every test task', () => {
    const train = env.tasks('train', { seed: 1 }).map(env.taskId);
    const test = env.tasks('test', { seed: 1 });
    expect(test.some((t) => train.includes(env.taskId(t)))).toBe(false);
    for (const task of test) {
      const episode = env.start(task, Rng.seeded(1));
      for (const action of env.demonstrate?.(task) ?? []) episode.step(action);
      expect(episode.outcome().success).toBe(true);
    }
  });

  it('never throws on arbitrary actions, which are valid or reported invalid', () => {
    fc.assert(
      fc.property(fc.string(), (action) => {
        const result = env.start({ word: 'sun' }, Rng.seeded(1)).step(action);
        return typeof result.valid === 'boolean' && result.done;
      }),
    );
  });
});
`,
  readme: readme({
    name,
    what: 'A text environment for policy-lab (generated template: reverse a three-letter word; replace with yours).',
    formula: '`correct` = 1 when the answer is the reversed word; `format` = 1 when it is three lowercase letters.',
    defaults: 'Weights: correct 1.0, format 0.1. Model: dim 32, 1 layer, context 24.',
    when: 'Replace with your environment. Keep train and test tasks disjoint and give an expert `demonstrate` for the SFT warm start.',
    example: `npx bench train grpo --env ${name} --budget episodes=256`,
    options: 'None.',
  }),
});

export const TEMPLATES = {
  method: estimator(true),
  estimator: estimator(false),
  loss,
  divergence,
  shaper,
  env,
};
