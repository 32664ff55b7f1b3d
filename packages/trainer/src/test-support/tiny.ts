/**
 * A test-local environment and estimator (the trainer is tested without the plugin
 * packages): "echo" shows a letter and rewards the answer that repeats it, and a
 * mean-baseline REINFORCE estimator.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type AdvantageEstimator, type Environment, type Plugin, Registry, type Rollout } from '@policy-lab/core';
import { ppoClip } from '../losses/ppo-clip.js';
import { plugin as trainerPlugin } from '../plugin.js';

const LETTERS = ['a', 'b'];

export const echoEnv: Environment<{ letter: string; id: number }> = {
  name: 'echo',
  summary: 'answer the shown letter',
  rewardComponents: [
    { name: 'correct', weight: 1 },
    { name: 'format', weight: 0.1 },
  ],
  maxTurns: 1,
  recommended: { dim: 16, layers: 1, heads: 2, contextLength: 16, maxNewTokens: 4 },
  tasks: (split, { count = 32 }) =>
    Array.from({ length: count }, (_, i) => ({
      letter: LETTERS[(i + (split === 'test' ? 3 : 0)) % LETTERS.length] as string,
      id: i + (split === 'test' ? 1000 : 0),
    })),
  taskId: (task) => `${task.letter}${task.id}`,
  alphabet: () => `say ${LETTERS.join('')}: `,
  demonstrate: (task) => [task.letter],
  start(task) {
    let answer = '';
    const score = () => ({ correct: answer === task.letter ? 1 : 0, format: answer.length === 1 ? 1 : 0 });
    return {
      observation: () => `say ${task.letter}:`,
      step(action) {
        answer = action;
        return { reward: score(), done: true, valid: true };
      },
      outcome: () => ({ reward: score(), success: score().correct === 1 }),
    };
  },
};

export const meanBaseline: AdvantageEstimator = {
  name: 'mean-baseline',
  summary: 'REINFORCE with the group mean as baseline',
  compute(groups, ctx) {
    const rollout = groups.map((group) => {
      const rewards = group.map((r) => ctx.scalar(r.reward));
      const mean = rewards.reduce((a, b) => a + b, 0) / rewards.length;
      return rewards.map((r) => r - mean);
    });
    return { rollout, weights: rollout.map((g) => g.map(() => 1)) };
  },
};

/** Keeps only groups whose first rollout succeeded: exercises discarded-group charging. */
export const pickyBaseline: AdvantageEstimator = {
  ...meanBaseline,
  name: 'picky',
  summary: 'discards groups',
  keepGroup: (group) => group[0]?.success === true,
};

/** Mean baseline that also gives the critic a target: the turn's scalar reward. */
export const criticBaseline: AdvantageEstimator = {
  ...meanBaseline,
  name: 'critic-baseline',
  summary: 'mean baseline with value targets',
  compute(groups, ctx) {
    const base = meanBaseline.compute(groups, ctx) as { rollout: number[][]; weights: number[][] };
    return { ...base, returns: groups.map((g) => g.map((r) => r.turns.map(() => ctx.scalar(r.reward)))) };
  },
};

/** k2 estimate of KL(pi || ref) per token (never negative), as a test-local divergence plugin. */
export const k2Divergence = {
  name: 'k2-test',
  summary: 'k2 = (log p - log q)^2 / 2',
  estimate: (logp: number, logq: number) => 0.5 * (logp - logq) ** 2,
  penalty: (
    logp: unknown,
    logRef: unknown,
    tf: { mul(a: unknown, b: number): unknown; square(a: unknown): unknown; sub(a: unknown, b: unknown): unknown },
  ) => tf.mul(tf.square(tf.sub(logp, logRef)), 0.5),
};

type MiniTf = {
  sub(a: unknown, b: unknown): unknown;
  mul(a: unknown, b: number): unknown;
  neg(a: unknown): unknown;
  softplus(a: unknown): unknown;
  mean(a: unknown): unknown;
};

/** DPO's sigmoid loss with beta 0.5 as a test-local pair loss. */
export const dpoTest = {
  name: 'dpo-test',
  summary: 'DPO sigmoid loss, beta 0.5',
  kind: 'pairs' as const,
  needs: { reference: true },
  loss(
    batch: { chosenLogps: unknown; rejectedLogps: unknown; refChosenLogps?: unknown; refRejectedLogps?: unknown },
    tf: MiniTf,
  ) {
    const margin = tf.mul(
      tf.sub(tf.sub(batch.chosenLogps, batch.refChosenLogps), tf.sub(batch.rejectedLogps, batch.refRejectedLogps)),
      0.5,
    );
    return { loss: tf.mean(tf.softplus(tf.neg(margin))), metrics: { margin } };
  },
};

type KtoTf = MiniTf & {
  add(a: unknown, b: unknown): unknown;
  sigmoid(a: unknown): unknown;
  tensor1d(values: number[]): unknown;
  scalar(value: number): unknown;
  maximum(a: unknown, b: number): unknown;
  mul(a: unknown, b: unknown): unknown;
};

/**
 * KTO with beta 0.5 as a test-local labelled loss: desirable 1 - sigma(b(z - z0)),
 * undesirable 1 - sigma(b(z0 - z)), z0 = max(0, mean of the mismatched log-ratios).
 */
export const ktoTest = {
  name: 'kto-test',
  summary: 'KTO, beta 0.5',
  kind: 'labelled' as const,
  needs: { reference: true },
  loss(
    batch: { logps: unknown; refLogps?: unknown; desirable: readonly boolean[]; klLogps?: unknown; klRefLogps?: unknown },
    tf: KtoTf,
  ) {
    const z = tf.sub(batch.logps, batch.refLogps);
    const z0 = batch.klLogps ? tf.maximum(tf.mean(tf.sub(batch.klLogps, batch.klRefLogps)), 0) : tf.scalar(0);
    const sign = tf.tensor1d(batch.desirable.map((d) => (d ? 1 : -1)));
    const loss = tf.mean(tf.sub(tf.scalar(1), tf.sigmoid(tf.mul(tf.mul(tf.sub(z, z0), sign), 0.5))));
    return { loss, metrics: { kl: z0 } };
  },
};

/** Loadable with --plugin (bench tests do), or registered directly. */
export const plugin: Plugin = {
  name: 'tiny',
  environments: [echoEnv],
  estimators: [meanBaseline, pickyBaseline, criticBaseline],
  divergences: [k2Divergence as never],
  losses: [
    dpoTest as never,
    ktoTest as never,
    { ...ppoClip(), name: 'ppo-frozen', summary: 'PPO clip at learning rate x 0', learningRateScale: 0 },
  ],
  methods: [
    { name: 'reinforce-mean', summary: 'mean baseline + PPO clip', estimator: 'mean-baseline', loss: 'ppo-clip' },
    { name: 'picky', summary: 'discarding estimator', estimator: 'picky', loss: 'ppo-clip' },
    { name: 'dpo-online', summary: 'DPO on best/worst rollouts', estimator: 'mean-baseline', loss: 'dpo-test' },
    { name: 'kto-online', summary: 'KTO on rollouts above/below their group mean', estimator: 'mean-baseline', loss: 'kto-test' },
    {
      name: 'critic',
      summary: 'with a value head',
      estimator: 'critic-baseline',
      loss: 'ppo-clip',
      defaults: { model: { dim: 16, layers: 1, heads: 2, contextLength: 16, mlpRatio: 4, valueHead: true } },
    },
  ],
};

export const TINY = {
  sftSteps: 8,
  learningRate: 0.01,
  evalTasks: 12,
  evalSamples: 4,
  evalEvery: 3,
  tasksPerStep: 4,
  groupSize: 6,
};

/** The trainer's own plugins and the test-local ones, registered as a third party would. */
export function tinyRegistry(...extra: Plugin[]): Registry {
  const registry = new Registry();
  registry.register(trainerPlugin, '@policy-lab/trainer');
  registry.register(plugin, 'test');
  for (const more of extra) registry.register(more, `test:${more.name}`);
  return registry;
}

/** A fresh temporary folder. */
export const temporaryFolder = (prefix = 'train-'): string => mkdtempSync(path.join(tmpdir(), prefix));

/**
 * A step context over the tiny registry, as train() builds one (model, optimizer, meter, train
 * tasks), for testing one stage at a time. Start a backend first.
 */
export async function tinyStepContext(
  options: {
    method?: string;
    overrides?: Record<string, unknown>;
    registry?: Registry;
    step?: number;
    budget?: { episodes?: number };
    reference?: boolean;
  } = {},
) {
  const { resolvePlugins } = await import('../loop/plugins.js');
  const { stepContext } = await import('../loop/step-context.js');
  const { createPolicy } = await import('../model/transformer.js');
  const { Adam } = await import('../optim/adam.js');
  const { CharTokenizer } = await import('../tokenizer/char-tokenizer.js');
  const { BudgetMeter, Rng } = await import('@policy-lab/core');
  const { openTaskStream } = await import('../loop/task-stream.js');
  const { buildRewardModel } = await import('../loop/reward-models.js');
  const registry = options.registry ?? tinyRegistry();
  const budget = options.budget ?? { episodes: 1000 };
  const plugins = resolvePlugins({
    registry,
    method: options.method ?? 'reinforce-mean',
    env: 'echo',
    seed: 1,
    budget,
    overrides: { ...TINY, ...(options.overrides ?? {}) },
  });
  const tokenizer = CharTokenizer.fromAlphabet(plugins.env.alphabet?.() ?? '');
  const policy = createPolicy({ ...plugins.config.model, vocabSize: tokenizer.vocabSize }, Rng.seeded(1).split('init'));
  const meter = new BudgetMeter(budget);
  const run = {
    plugins,
    policy,
    ...(options.reference ? { reference: policy.freeze() } : {}),
    tokenizer,
    optimizer: new Adam(policy.variables, { learningRate: plugins.config.learningRate }),
    meter,
    tasks: openTaskStream(plugins.taskSource, plugins.env.tasks('train', { seed: 1 }), plugins.env),
    rewardModels: plugins.rewardModels.map((p) => buildRewardModel(p, plugins.config, tokenizer, (c) => meter.charge(c), policy)),
    side: { episodes: 0, generatedTokens: 0 },
  };
  return stepContext(run, options.step ?? 1, {
    divergenceCoef: plugins.config.divergenceCoef,
    entropyCoef: plugins.config.entropyCoef,
  });
}

/** A one-turn rollout of the echo environment with `correct` and `format` rewards, for stage tests. */
export function echoRollout(id: string, correct: number, actionTokens: readonly number[] = [5, 2]): Rollout {
  return {
    id,
    groupId: 'g',
    taskId: 't',
    turns: [
      {
        observation: 'a',
        action: 'a',
        promptTokens: [1, 5],
        actionTokens,
        logprobs: actionTokens.map(() => -0.5),
        reward: { correct, format: 1 },
        valid: true,
        truncated: actionTokens.length > 3,
      },
    ],
    reward: { correct, format: 1 },
    success: correct === 1,
  };
}
