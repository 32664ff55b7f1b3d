/**
 * Beam search over steps (turns) scored by a verifier, as PAV searches with its process
 * advantage verifier (Setlur et al., arXiv 2410.08146). Per task: from the kept partial
 * episodes, each proposes its `expand` most likely distinct next actions (the policy's
 * token-level beam search; 1 is the greedy action), every candidate is played in its own copy of
 * the episode (a snapshot restored, else the earlier actions replayed), scored by the verifier as
 * Q(s, a) (the turn's observation and the action), and the `width` best by
 * Q + alpha (Q - Q of its parent step) are kept; finished episodes keep competing with their last
 * score. The group is the kept episodes at the end (at least `count` are kept when possible).
 * Charged: one episode per kept episode, and every candidate's tokens and environment step once.
 */
import { type BudgetConsumption, type Environment, type Episode, type Rollout, UsageError } from '@policy-lab/core';
import type { PolicyModel } from '../model/policy.js';
import type { PolicyTokenizer } from '../tokenizer/policy-tokenizer.js';
import { distinct, finish, promptFor, type RolloutOptions, type RolloutRequest, type Running, startRunning } from './rollouts.js';

interface Beam {
  running: Running;
  /** The verifier's Q of its last step (its start: undefined). */
  q: number | undefined;
  score: number;
}

/** A copy of a partial episode: its environment restored from a snapshot, else replayed action by action. */
function copyEpisode(env: Environment, parent: Running, options: RolloutOptions): Episode {
  const episode = env.start(parent.request.task, options.rng.split(parent.envKey));
  if (parent.turns.length === 0) return episode;
  const state = parent.episode.snapshot?.();
  if (state !== undefined && episode.restore) {
    episode.restore(state);
    return episode;
  }
  for (const turn of parent.turns) episode.step(turn.action);
  return episode;
}

export async function stepBeamRollouts(
  policy: PolicyModel,
  tokenizer: PolicyTokenizer,
  env: Environment,
  requests: readonly RolloutRequest[],
  options: RolloutOptions,
): Promise<{ groups: Rollout[][]; drawn: Rollout[]; extra: Partial<BudgetConsumption> }> {
  const sampler = options.sampler;
  const name = sampler?.verifier ?? 'pav-verifier';
  const verifier = options.rewardModels?.[name];
  if (!verifier)
    throw new UsageError(
      `sampler '${sampler?.name ?? 'step-beam'}' scores steps with the reward model '${name}', which this run does not have (it has: ${Object.keys(options.rewardModels ?? {}).join(', ') || 'none'}); add it with --set rewardModels=${name}`,
    );
  const expand = Math.max(1, sampler?.expand ?? 1);
  const alpha = sampler?.alpha ?? 0;
  const limit = policy.config.contextLength - options.maxNewTokens;
  const groups: Rollout[][] = [];
  let extraTokens = 0;
  let extraSteps = 0;
  for (const request of requests) {
    const width = Math.max(sampler?.width ?? 1, request.count);
    let beams: Beam[] = [{ running: startRunning(env, request, 0, options.rng, false, tokenizer), q: undefined, score: 0 }];
    let made = 1;
    for (let turn = 0; turn < env.maxTurns && beams.some((b) => !b.running.done); turn++) {
      const children: Beam[] = [];
      const proposals: {
        parent: Beam;
        prompt: number[];
        observation: string;
        tokens: number[];
        logprobs: number[];
        truncated: boolean;
      }[] = [];
      for (const parent of beams) {
        if (parent.running.done) continue;
        const r = parent.running;
        const observation =
          r.turns.length === 0 && request.instruction
            ? `${request.instruction} ${r.episode.observation()}`
            : r.episode.observation();
        const prompt = promptFor(r.history, tokenizer.encode(observation), limit, tokenizer);
        const found = await policy.beamSearch(prompt, {
          width: expand,
          count: expand,
          maxNewTokens: options.maxNewTokens,
          stopTokens: [tokenizer.specials.eos],
        });
        found.tokens.forEach((tokens, k) =>
          proposals.push({
            parent,
            prompt,
            observation,
            tokens,
            logprobs: found.logprobs[k] as number[],
            truncated: found.truncated[k] as boolean,
          }),
        );
      }
      const texts = proposals.map((p) => ({
        context: p.observation,
        text: tokenizer.decode(p.tokens.filter((t) => t !== tokenizer.specials.eos)),
      }));
      const qs = await verifier.score(texts);
      proposals.forEach((p, k) => {
        const parent = p.parent.running;
        const episode = copyEpisode(env, parent, options);
        const action = (texts[k] as { text: string }).text;
        const result = episode.step(action);
        const turns = [
          ...parent.turns,
          {
            observation: p.observation,
            action,
            promptTokens: p.prompt,
            actionTokens: p.tokens,
            logprobs: p.logprobs,
            reward: result.reward,
            valid: result.valid,
            ...(result.stateKey !== undefined ? { stateKey: result.stateKey } : {}),
            truncated: p.truncated,
          },
        ];
        const q = qs[k] as number;
        const progress = p.parent.q === undefined ? 0 : q - p.parent.q;
        children.push({
          running: {
            request,
            index: made++,
            episode,
            history: [...p.prompt, ...p.tokens],
            turns,
            done: result.done || turns.length >= env.maxTurns,
            envKey: parent.envKey,
          },
          q,
          score: q + alpha * progress,
        });
      });
      // Finished episodes compete with their last score; ties keep the earlier (more likely) candidate.
      const pool = [...beams.filter((b) => b.running.done), ...children];
      const kept = pool
        .map((b, k) => ({ b, k }))
        .sort((x, y) => y.b.score - x.b.score || x.k - y.k)
        .slice(0, width)
        .map(({ b }) => b);
      // Every candidate was generated and played once: charged once, kept or not.
      for (const child of children) {
        extraTokens += child.running.turns[child.running.turns.length - 1]?.actionTokens.length ?? 0;
        extraSteps += 1;
      }
      beams = kept;
    }
    groups.push(distinct(beams.map((b, i) => finish(env, { ...b.running, index: i }))));
  }
  // Kept episodes share their ancestors' turns, so the charge counts each candidate once (not `drawn`'s turns).
  return {
    groups,
    drawn: [],
    extra: { episodes: groups.reduce((a, g) => a + g.length, 0), generatedTokens: extraTokens, envSteps: extraSteps },
  };
}
