/**
 * The per-token credit map of a finished run (Rafailov et al., "From r to Q*: Your Language
 * Model is Secretly a Q-Function", arXiv 2404.12358): for a policy trained by DPO against a
 * reference, r_t = beta log pi(y_t|s_t) / pi_ref(y_t|s_t) is, in the token-level MDP, the
 * optimal advantage Q*(s_t, y_t) - V*(s_t); the map shows which tokens of an answer carry its
 * implicit reward. The tokens' credits sum to the answer's sequence implicit reward
 * beta log pi(y|x) / pi_ref(y|x), computed here apart from them (teacher-forced sums), so the
 * map's sums check themselves.
 *
 * Answers: for each test task in order (the first `maxTasks` at most), `samples` rollouts of the
 * run's policy (temperature 1); the best and the worst by reward form a pair when they differ,
 * until `pairs` pairs are found. What the map costs (its samples and the teacher-forced passes)
 * is returned beside it: a diagnostic's side cost, never part of a run's budget.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  type BudgetConsumption,
  type Environment,
  Rng,
  type Rollout,
  type TrainConfig,
  UsageError,
  weightedSum,
} from '@policy-lab/core';
import * as tf from '@tensorflow/tfjs-core';
import { loadSafetensors } from '../checkpoint/safetensors.js';
import type { PolicyModel } from '../model/policy.js';
import { createPolicy } from '../model/transformer.js';
import { CharTokenizer, type TokenizerJson } from '../tokenizer/char-tokenizer.js';
import { chargedModel } from './charged-model.js';
import { refuseHfRun } from './checkpoint.js';
import { collectRollouts, generatedTokens } from './rollouts.js';
import { writeWeights } from './weights.js';

export interface CreditedAnswer {
  task: string;
  role: 'chosen' | 'rejected';
  /** What the policy read (its last turn's observation). */
  observation: string;
  /** The answer's tokens as text ('' for special tokens such as the end token). */
  tokens: string[];
  /** beta (log pi - log pi_ref) per token, from the sampling log-probs and a teacher-forced reference pass. */
  credits: number[];
  creditSum: number;
  /** beta (log pi(y|x) - log pi_ref(y|x)) from teacher-forced sequence passes of both models. */
  implicitReward: number;
  reward: number;
}

export interface CreditMap {
  beta: number;
  step: number;
  method: string;
  env: string;
  answers: CreditedAnswer[];
  /** The largest |creditSum - implicitReward| over the answers. */
  maxSumError: number;
  /** Mean sequence implicit reward of the chosen and of the rejected answers. */
  chosenReward: number;
  rejectedReward: number;
  /** Test tasks sampled, and what the map cost: its sampled episodes and generated tokens, and the tokens of its teacher-forced passes (policy and reference). */
  tasksTried: number;
  cost: { episodes: number; generatedTokens: number; scoredTokens: number };
}

/** Per-token log-probabilities of a turn's action tokens after its prompt, teacher-forced. */
async function actionLogprobs(
  model: Pick<PolicyModel, 'score'>,
  prompt: readonly number[],
  action: readonly number[],
): Promise<number[]> {
  const sequence = [...prompt, ...action];
  const inputs = tf.tensor2d([sequence.slice(0, -1)], [1, sequence.length - 1], 'int32');
  const targets = tf.tensor2d([sequence.slice(1)], [1, sequence.length - 1], 'int32');
  const { logprobs } = model.score(inputs, targets);
  const out = Array.from(await logprobs.data()).slice(prompt.length - 1);
  tf.dispose([inputs, targets, logprobs]);
  return out;
}

/** The credit map of answers sampled from `policy`, against `reference` (single- or multi-turn: the last turn's action). */
export async function creditAnswers(
  policy: Pick<PolicyModel, 'score'>,
  reference: Pick<PolicyModel, 'score'>,
  rollouts: readonly { rollout: Rollout; role: 'chosen' | 'rejected'; reward: number }[],
  beta: number,
  tokenText: (id: number) => string,
): Promise<CreditedAnswer[]> {
  const out: CreditedAnswer[] = [];
  for (const { rollout, role, reward } of rollouts) {
    const turn = rollout.turns.at(-1);
    if (!turn || turn.actionTokens.length === 0) continue;
    const ref = await actionLogprobs(reference, turn.promptTokens, turn.actionTokens);
    const credits = turn.logprobs.map((lp, k) => beta * (lp - (ref[k] as number)));
    const forced = await actionLogprobs(policy, turn.promptTokens, turn.actionTokens);
    const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
    out.push({
      task: rollout.taskId,
      role,
      observation: turn.observation,
      tokens: turn.actionTokens.map(tokenText),
      credits,
      creditSum: sum(credits),
      implicitReward: beta * (sum(forced) - sum(ref)),
      reward,
    });
  }
  return out;
}

function loadModel(file: string, config: TrainConfig, tokenizer: CharTokenizer, prefix: string): PolicyModel {
  const model = createPolicy({ ...config.model, vocabSize: tokenizer.vocabSize }, Rng.seeded(0));
  writeWeights(model, model.weightNames(), loadSafetensors(file).tensors, file, prefix);
  return model;
}

/** The credit map of a finished run folder that keeps a reference (a run whose loss or divergence read one). */
export async function creditMapOfRun(
  folder: string,
  env: Environment,
  options: { pairs: number; samples: number; beta: number; seed: number; maxTasks?: number },
): Promise<CreditMap> {
  const sidecar = path.join(folder, 'checkpoint.json');
  let saved: { step?: unknown; weights?: unknown; config?: TrainConfig; tokenizer?: unknown };
  try {
    saved = JSON.parse(readFileSync(sidecar, 'utf8'));
  } catch {
    throw new UsageError(`run ${folder}: cannot read ${sidecar}; give the --out folder of a finished bench train`);
  }
  refuseHfRun(saved, folder, 'the credit map');
  const { config } = saved;
  if (typeof saved.weights !== 'string' || typeof saved.step !== 'number' || !config?.model || !saved.tokenizer)
    throw new UsageError(
      `run ${folder}: ${sidecar} lacks 'weights', 'step', 'config.model' or 'tokenizer' (not a run checkpoint)`,
    );
  if ((config.softPrompt ?? 0) > 0)
    throw new UsageError(`run ${folder}: trained with a soft prompt; the credit map reads runs without one (softPrompt 0)`);
  const referenceFile = path.join(folder, 'reference.safetensors');
  if (!existsSync(referenceFile))
    throw new UsageError(
      `run ${folder}: no reference.safetensors; the credit map needs a run whose loss or divergence read a reference (dpo, token-dpo-beam, or --set divergence=kl)`,
    );
  const tokenizer = CharTokenizer.fromJSON(saved.tokenizer as TokenizerJson);
  const policy = loadModel(path.join(folder, saved.weights), config, tokenizer, 'model.');
  const reference = loadModel(referenceFile, config, tokenizer, 'model.');
  try {
    const weights = Object.fromEntries(env.rewardComponents.map((c) => [c.name, config.weights?.[c.name] ?? c.weight]));
    const scalar = (r: Rollout) => weightedSum(r.reward, weights);
    const picked: { rollout: Rollout; role: 'chosen' | 'rejected'; reward: number }[] = [];
    const tasks = env.tasks('test', { seed: config.seed });
    const rng = Rng.seeded(options.seed).split('credit-map');
    const cost = { episodes: 0, generatedTokens: 0, scoredTokens: 0 };
    const limit = Math.min(tasks.length, options.maxTasks ?? tasks.length);
    let k = 0;
    for (; k < limit && picked.length < 2 * options.pairs; k++) {
      const [group] = await collectRollouts(
        policy,
        tokenizer,
        env,
        [{ task: tasks[k], groupId: `credit${k}`, count: options.samples }],
        {
          maxNewTokens: config.maxNewTokens,
          temperature: 1,
          rng: rng.split(`task/${k}`),
        },
      );
      cost.episodes += group?.length ?? 0;
      cost.generatedTokens += generatedTokens(group ?? []);
      const ranked = [...(group ?? [])].sort((a, b) => scalar(b) - scalar(a));
      const best = ranked[0];
      const worst = ranked.at(-1);
      if (!best || !worst || scalar(best) === scalar(worst)) continue;
      picked.push(
        { rollout: best, role: 'chosen', reward: scalar(best) },
        { rollout: worst, role: 'rejected', reward: scalar(worst) },
      );
    }
    const charge = (used: Partial<BudgetConsumption>) => {
      cost.scoredTokens += used.auxScoredTokens ?? 0;
    };
    const answers = await creditAnswers(
      chargedModel(policy, charge),
      chargedModel(reference, charge),
      picked,
      options.beta,
      (id) => tokenizer.decode([id]),
    );
    const meanOf = (role: 'chosen' | 'rejected') => {
      const xs = answers.filter((a) => a.role === role).map((a) => a.implicitReward);
      return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
    };
    return {
      beta: options.beta,
      step: saved.step,
      method: config.method,
      env: config.env,
      answers,
      maxSumError: Math.max(0, ...answers.map((a) => Math.abs(a.creditSum - a.implicitReward))),
      chosenReward: meanOf('chosen'),
      rejectedReward: meanOf('rejected'),
      tasksTried: k,
      cost,
    };
  } finally {
    policy.dispose();
    reference.dispose();
  }
}
