/**
 * Teacher-forced rollouts (VA-pi: Liao, He et al. 2025, "Variational Policy Alignment for
 * Pixel-Aware Autoregressive Generation", arXiv 2512.19680; public code Lil-Shake/VA-Pi,
 * `train_c2i_grpo.py`). For each task the environment's expert gives a reference action y*;
 * one teacher-forced pass of the policy over (prompt, y*) gives the next-token distribution at
 * every position j given the prompt and y*_<j, and each of the group's G actions draws its token
 * j from that distribution independently (no free-running decoding). The drawn tokens are
 * detokenised (up to the first stop token) and played in the environment, whose outcome is the
 * reward: the text counterpart of VA-pi's pixel reconstruction reward.
 */
import { type Environment, type Rollout, RunError } from '@policy-lab/core';
import * as tf from '@tensorflow/tfjs-core';
import type { PolicyModel } from '../model/policy.js';
import type { PolicyTokenizer } from '../tokenizer/policy-tokenizer.js';
import { finish, firstPrompt, type RolloutOptions, type RolloutRequest, startRunning } from './rollouts.js';

/** The reference action's tokens: the expert's single action, its stop token, cut to the action limit. */
export function referenceTokens(env: Environment, task: unknown, tokenizer: PolicyTokenizer, maxNewTokens: number): number[] {
  const actions = env.demonstrate?.(task);
  if (!actions || actions.length !== 1)
    throw new RunError(
      `teacher forcing needs one expert action per task; environment '${env.name}' gave ${actions ? actions.length : 'no demonstration'}`,
    );
  return [...tokenizer.encode(actions[0] as string), tokenizer.specials.eos].slice(0, maxNewTokens);
}

/**
 * The sequence metric of the ELBO's reconstruction term on text: over turns drawn under teacher
 * forcing, the mean share of reference positions whose drawn token is the reference's (1 when the
 * drawn action reproduces y*; a uniform policy over V tokens gives 1/V in expectation).
 */
export function referenceTokenMatch(
  turns: readonly { actionTokens: readonly number[]; forcedTokens?: readonly number[] }[],
): number | undefined {
  const shares = turns.flatMap(({ actionTokens, forcedTokens }) =>
    forcedTokens?.length ? [forcedTokens.filter((token, j) => actionTokens[j] === token).length / forcedTokens.length] : [],
  );
  return shares.length ? shares.reduce((a, b) => a + b, 0) / shares.length : undefined;
}

/**
 * Draws `count` tokens from each row of log-probabilities (natural log, any normalisation) at
 * temperature `temperature`; returns per draw the token and its log-probability under the
 * tempered, renormalised distribution (the behaviour log-prob of the importance ratio).
 */
export function drawPositions(
  rows: readonly Float32Array[],
  count: number,
  temperature: number,
  draw: (weights: Float64Array) => number,
): { tokens: number[][]; logprobs: number[][] } {
  const tokens: number[][] = Array.from({ length: count }, () => []);
  const logprobs: number[][] = Array.from({ length: count }, () => []);
  for (const row of rows) {
    let max = Number.NEGATIVE_INFINITY;
    for (const x of row) max = Math.max(max, x / temperature);
    const weights = Float64Array.from(row, (x) => Math.exp(x / temperature - max));
    let total = 0;
    for (const w of weights) total += w;
    const logTotal = Math.log(total);
    for (let i = 0; i < count; i++) {
      const token = draw(weights);
      (tokens[i] as number[]).push(token);
      (logprobs[i] as number[]).push(Math.log(weights[token] as number) - logTotal);
    }
  }
  return { tokens, logprobs };
}

/** Groups of teacher-forced rollouts, one teacher-forced pass per task. */
export async function teacherForcedRollouts(
  policy: PolicyModel,
  tokenizer: PolicyTokenizer,
  env: Environment,
  requests: readonly RolloutRequest[],
  options: RolloutOptions,
): Promise<Rollout[][]> {
  if (env.maxTurns !== 1)
    throw new RunError(`teacher forcing plays single-turn environments; '${env.name}' allows ${env.maxTurns} turns`);
  const limit = policy.config.contextLength - options.maxNewTokens;
  const groups: Rollout[][] = [];
  for (const request of requests) {
    const running = Array.from({ length: request.count }, (_, i) => startRunning(env, request, i, options.rng, false, tokenizer));
    const first = running[0];
    if (!first) {
      groups.push([]);
      continue;
    }
    const shownText = (observation: string) => (request.instruction ? `${request.instruction} ${observation}` : observation);
    const observation = shownText(first.episode.observation());
    const prompt = firstPrompt(observation, limit, tokenizer);
    const reference = referenceTokens(env, request.task, tokenizer, options.maxNewTokens);
    const rows = distributionsAfter(policy, prompt, reference);
    const rng = options.rng.split(`teacher-forced/${request.groupId}`);
    const drawn = drawPositions(rows, request.count, options.temperature, (weights) => rng.categorical(weights));
    groups.push(
      running.map((r, i) => {
        const actionTokens = drawn.tokens[i] as number[];
        const stop = actionTokens.indexOf(tokenizer.specials.eos);
        const text = tokenizer.decode(stop < 0 ? actionTokens : actionTokens.slice(0, stop));
        const result = r.episode.step(text);
        r.turns.push({
          observation,
          action: text,
          promptTokens: prompt,
          actionTokens,
          logprobs: drawn.logprobs[i] as number[],
          reward: result.reward,
          valid: result.valid,
          ...(result.stateKey !== undefined ? { stateKey: result.stateKey } : {}),
          truncated: stop < 0,
          forcedTokens: reference,
        });
        r.done = true;
        return finish(env, r);
      }),
    );
  }
  return groups;
}

/** Per reference position j, the policy's log-probabilities of every next token given the prompt and reference[<j]. */
function distributionsAfter(policy: PolicyModel, prompt: readonly number[], reference: readonly number[]): Float32Array[] {
  const sequence = [...prompt, ...reference];
  const T = sequence.length - 1;
  return tf.tidy(() => {
    const inputs = tf.tensor2d([sequence.slice(0, T)], [1, T], 'int32');
    const targets = tf.tensor2d([sequence.slice(1)], [1, T], 'int32');
    const { distributions } = policy.score(inputs, targets, { distributions: true });
    if (!distributions) throw new RunError('the policy returned no teacher-forced distributions');
    const V = distributions.shape[2] as number;
    const values = distributions.dataSync() as Float32Array;
    // Position t predicts sequence[t + 1]: the reference starts at t = prompt.length - 1.
    return reference.map((_, j) => values.slice((prompt.length - 1 + j) * V, (prompt.length + j) * V));
  });
}
