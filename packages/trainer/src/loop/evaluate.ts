/**
 * Evaluation on the fixed test split: success sampled at temperature 1 (mean over k samples:
 * the headline, since RL moves it first), greedy success, pass@k (RL can raise mean@k while
 * narrowing pass@k, so both are reported), mean reward per component, mean action length.
 */
import type { Environment, Rng } from '@policy-lab/core';
import type { PolicyModel } from '../model/policy.js';
import type { CharTokenizer } from '../tokenizer/char-tokenizer.js';
import type { EvalResult } from './api.js';
import { collectRollouts } from './rollouts.js';

export async function evaluate(
  policy: PolicyModel,
  tokenizer: CharTokenizer,
  env: Environment,
  tasks: readonly unknown[],
  options: { samples: number; maxNewTokens: number; rng: Rng },
): Promise<EvalResult> {
  const requests = tasks.map((task, k) => ({ task, groupId: `eval${k}`, count: options.samples }));
  const sampled = await collectRollouts(policy, tokenizer, env, requests, {
    maxNewTokens: options.maxNewTokens,
    temperature: 1,
    rng: options.rng.split('sampled'),
  });
  const greedy = await collectRollouts(
    policy,
    tokenizer,
    env,
    tasks.map((task, k) => ({ task, groupId: `greedy${k}`, count: 1 })),
    {
      maxNewTokens: options.maxNewTokens,
      temperature: 1,
      greedy: true,
      rng: options.rng.split('greedy'),
    },
  );
  const all = sampled.flat();
  const reward: Record<string, number> = {};
  for (const { name } of env.rewardComponents) reward[name] = all.reduce((a, r) => a + (r.reward[name] ?? 0), 0) / all.length;
  const lengths = all.flatMap((r) => r.turns.map((t) => t.actionTokens.length));
  return {
    success: all.filter((r) => r.success).length / all.length,
    greedySuccess: greedy.flat().filter((r) => r.success).length / tasks.length,
    passAtK: sampled.filter((group) => group.some((r) => r.success)).length / tasks.length,
    reward,
    meanLength: lengths.reduce((a, b) => a + b, 0) / Math.max(1, lengths.length),
    perTask: sampled.map((group) => group.filter((r) => r.success).length / group.length),
  };
}
