/**
 * The rollout engine: multi-turn episodes against any Environment, decoded together.
 * Context rule: [bos] obs_1 [sep] action_1 [eos] obs_2 [sep] ... obs_t [sep]; when that is
 * longer than contextLength - maxNewTokens, the oldest tokens are dropped (the bos stays).
 */
import type { Environment, Episode, Rng, Rollout, Turn } from '@policy-lab/core';
import type { PolicyModel } from '../model/policy.js';
import { BOS, type CharTokenizer, EOS, SEP } from '../tokenizer/char-tokenizer.js';

export interface RolloutRequest {
  task: unknown;
  groupId: string;
  count: number;
}

export interface RolloutOptions {
  maxNewTokens: number;
  temperature: number;
  greedy?: boolean;
  rng: Rng;
}

interface Running {
  episode: Episode;
  history: number[];
  turns: Turn[];
  done: boolean;
}

export function promptFor(history: readonly number[], observation: number[], limit: number): number[] {
  const full = [...history, ...observation, SEP];
  if (full.length <= limit) return full;
  return [BOS, ...full.slice(full.length - (limit - 1))];
}

/** Runs every requested episode to the end; returns rollouts grouped as requested. */
export async function collectRollouts(
  policy: PolicyModel,
  tokenizer: CharTokenizer,
  env: Environment,
  requests: readonly RolloutRequest[],
  options: RolloutOptions,
): Promise<Rollout[][]> {
  const limit = policy.config.contextLength - options.maxNewTokens;
  const running: Running[][] = requests.map((request) =>
    Array.from({ length: request.count }, (_, i) => ({
      episode: env.start(request.task, options.rng.split(`env/${request.groupId}/${i}`)),
      history: [BOS],
      turns: [],
      done: false,
    })),
  );
  for (let turn = 0; turn < env.maxTurns; turn++) {
    const active = running.flat().filter((r) => !r.done);
    if (active.length === 0) break;
    const observations = active.map((r) => r.episode.observation());
    const prompts = active.map((r, i) => promptFor(r.history, tokenizer.encode(observations[i] as string), limit));
    const generation = await policy.generate(prompts, {
      maxNewTokens: options.maxNewTokens,
      temperature: options.temperature,
      stopTokens: [EOS],
      greedy: options.greedy ?? false,
      rng: options.rng.split(`decode/turn${turn}`),
    });
    active.forEach((r, i) => {
      const actionTokens = generation.tokens[i] as number[];
      const text = tokenizer.decode(actionTokens.filter((t) => t !== EOS));
      const result = r.episode.step(text);
      r.turns.push({
        observation: observations[i] as string,
        action: text,
        promptTokens: prompts[i] as number[],
        actionTokens,
        logprobs: generation.logprobs[i] as number[],
        reward: result.reward,
        valid: result.valid,
        ...(result.stateKey !== undefined ? { stateKey: result.stateKey } : {}),
        truncated: generation.truncated[i] as boolean,
      });
      r.history = [...(prompts[i] as number[]), ...actionTokens];
      if (result.done || turn === env.maxTurns - 1) r.done = true;
    });
  }
  return running.map((group, g) =>
    group.map((r, i) => {
      const outcome = r.episode.outcome();
      const request = requests[g] as RolloutRequest;
      return {
        id: `${request.groupId}/${i}`,
        groupId: request.groupId,
        taskId: env.taskId(request.task),
        turns: r.turns,
        reward: outcome.reward,
        success: outcome.success,
      };
    }),
  );
}

export function generatedTokens(rollouts: readonly Rollout[]): number {
  let total = 0;
  for (const r of rollouts) for (const t of r.turns) total += t.actionTokens.length;
  return total;
}
