/**
 * Episodes restarted at a prefix of a sampled rollout (PAV's Monte Carlo values of step prefixes,
 * Setlur et al., arXiv 2410.08146): a fresh episode of the rollout's task replays its first
 * `turns` actions (every replayed observation must equal the recorded one), then the policy
 * decodes `count` continuations from there. Only the continuation is new work: the charge counts
 * the episodes, the new turns and the new tokens.
 */
import { type BudgetConsumption, type Environment, type Rng, type Rollout, RunError } from '@policy-lab/core';
import type { PolicyModel } from '../model/policy.js';
import type { PolicyTokenizer } from '../tokenizer/policy-tokenizer.js';
import { finish, type RolloutRequest, type Running, runEpisodes } from './rollouts.js';

export interface PrefixRequest {
  rollout: Rollout;
  turns: number;
  count: number;
  greedy?: boolean;
}

/** The rng key a sampled rollout's episode was started with (stages/sample.ts: round tag '' or '/r<k>'). */
export function episodeRng(stepRng: Rng, rollout: Rollout): Rng {
  const round = /^s\d+r(\d+)g/.exec(rollout.groupId)?.[1];
  const index = rollout.id.slice(rollout.id.lastIndexOf('/') + 1);
  return stepRng.split(`rollout${round === undefined ? '' : `/r${round}`}`).split(`env/${rollout.groupId}/${index}`);
}

export async function prefixRollouts(
  policy: PolicyModel,
  tokenizer: PolicyTokenizer,
  env: Environment,
  request: RolloutRequest,
  prefix: PrefixRequest,
  options: { maxNewTokens: number; temperature: number; rng: Rng; envRng: Rng },
  charge: (use: Partial<BudgetConsumption>) => void,
): Promise<Rollout[]> {
  const { rollout, turns: t, count } = prefix;
  if (!(Number.isInteger(t) && t >= 1 && t < rollout.turns.length))
    throw new RunError(
      `prefix rollouts of ${rollout.id}: turns must be an integer in 1..${rollout.turns.length - 1} (a prefix short of the end), got ${t}`,
    );
  if (!(Number.isInteger(count) && count >= 0))
    throw new RunError(`prefix rollouts: count must be an integer >= 0, got ${count}`);
  const kept = rollout.turns.slice(0, t);
  const previous = kept[t - 1] as Rollout['turns'][number];
  const running: Running[] = Array.from({ length: count }, (_, i) => {
    const episode = env.start(request.task, options.envRng);
    kept.forEach((turn, h) => {
      const seen = episode.observation();
      // The first observation may carry the task stream's instruction ahead of it.
      if (!(h === 0 ? turn.observation.endsWith(seen) : turn.observation === seen))
        throw new RunError(
          `prefix rollouts of ${rollout.id}: replaying turn ${h} shows '${seen}', the rollout recorded '${turn.observation}' (the environment is not deterministic given its task and rng)`,
        );
      if (episode.step(turn.action).done)
        throw new RunError(`prefix rollouts of ${rollout.id}: the episode ended while replaying turn ${h} of ${t}`);
    });
    return {
      request: { ...request, groupId: `${rollout.id}@${t}`, count },
      index: i,
      episode,
      history: previous ? [...previous.promptTokens, ...previous.actionTokens] : [tokenizer.specials.bos],
      turns: [...kept],
      done: false,
      envKey: `prefix/${rollout.id}/${t}`,
    };
  });
  await runEpisodes(policy, tokenizer, env, running, { ...options, greedy: prefix.greedy ?? false }, '');
  const out = running.map((r) => finish(env, r));
  let steps = 0;
  let tokens = 0;
  for (const r of out)
    for (const turn of r.turns.slice(t)) {
      steps++;
      tokens += turn.actionTokens.length;
    }
  charge({ episodes: out.length, envSteps: steps, generatedTokens: tokens });
  return out;
}
