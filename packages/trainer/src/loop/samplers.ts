/**
 * Groups of rollouts drawn the sampler's way. Plain sampling (no sampler, or strategy 'sample'
 * with or without a logits hook) is today's behaviour: G independent episodes per task. Beam
 * search gives each context its best distinct actions. Tree search draws `roots` episodes per
 * task, then restarts each further one from a node of an earlier one. Under beam and tree search
 * a group is its distinct rollouts (duplicates removed, so a group may be smaller than asked),
 * unless all are identical: then it keeps them all, since a group of one has no contrast;
 * teacher forcing draws every action token given the reference output before it (VA-pi);
 * every rollout drawn is returned apart so that it is charged.
 */
import type { BudgetConsumption, Environment, Rng, Rollout } from '@policy-lab/core';
import type { PolicyModel } from '../model/policy.js';
import { serialRollouts } from '../samplers/serial-exits.js';
import type { PolicyTokenizer } from '../tokenizer/policy-tokenizer.js';
import { mctsRollouts } from './mcts.js';
import {
  collectRollouts,
  distinct,
  finish,
  type RolloutOptions,
  type RolloutRequest,
  type Running,
  runEpisodes,
  startRunning,
} from './rollouts.js';
import { stepBeamRollouts } from './step-beam.js';
import { teacherForcedRollouts } from './teacher-forced.js';

export interface SampledGroups {
  /** The groups the estimator sees. */
  groups: Rollout[][];
  /** Every rollout drawn, kept or not: what the budget is charged for. */
  drawn: Rollout[];
  /** Work beyond the drawn rollouts (a step-level search's discarded candidates), charged too. */
  extra?: Partial<BudgetConsumption>;
}

export async function sampleGroups(
  policy: PolicyModel,
  tokenizer: PolicyTokenizer,
  env: Environment,
  requests: readonly RolloutRequest[],
  options: RolloutOptions,
  scalar: (rollout: Rollout) => number,
): Promise<SampledGroups> {
  const strategy = options.sampler?.strategy ?? 'sample';
  if (strategy === 'step-beam') return stepBeamRollouts(policy, tokenizer, env, requests, options);
  if (strategy === 'mcts') return mctsRollouts(policy, tokenizer, env, requests, options);
  if (strategy === 'tree') return treeRollouts(policy, tokenizer, env, requests, options, scalar);
  if (strategy === 'serial') return serialRollouts(policy, tokenizer, env, requests, options);
  if (strategy === 'teacher-forced' && !options.greedy) {
    const forced = await teacherForcedRollouts(policy, tokenizer, env, requests, options);
    return { groups: forced, drawn: forced.flat() };
  }
  const groups = await collectRollouts(policy, tokenizer, env, requests, options);
  return { groups: strategy === 'beam' ? groups.map(distinctUnlessAlike) : groups, drawn: groups.flat() };
}

/**
 * Tree search over partial episodes: `roots` episodes per task from the start, then rounds in
 * which every group short of its size grows by one branch. A branch copies a parent rollout up
 * to a node (turn t, token j): the environment is restored to its snapshot before turn t (turn 0
 * restarts the task; later turns need Episode.snapshot/restore), the first j tokens of the
 * parent's action are kept with their recorded log-probabilities, and the rest is sampled.
 */
async function treeRollouts(
  policy: PolicyModel,
  tokenizer: PolicyTokenizer,
  env: Environment,
  requests: readonly RolloutRequest[],
  options: RolloutOptions,
  scalar: (rollout: Rollout) => number,
): Promise<SampledGroups> {
  const sampler = options.sampler;
  const groups: Running[][] = requests.map((request) =>
    Array.from({ length: Math.min(request.count, Math.max(1, sampler?.roots ?? 1)) }, (_, i) =>
      startRunning(env, request, i, options.rng, true, tokenizer),
    ),
  );
  await runEpisodes(policy, tokenizer, env, groups.flat(), options, '');
  for (let round = 1; ; round++) {
    const growing = groups.filter((g, k) => g.length < (requests[k] as RolloutRequest).count);
    if (growing.length === 0) break;
    const branches = growing.map((group) => {
      const rng = options.rng.split(`branch/${(group[0] as Running).request.groupId}/${round}`);
      return branchFrom(env, group, rng, options.rng, sampler?.branchFrom ?? 'best', scalar, tokenizer.specials.bos);
    });
    await runEpisodes(policy, tokenizer, env, branches, options, `b${round}/`);
    growing.forEach((group, k) => group.push(branches[k] as Running));
  }
  const finished = groups.map((group) => group.map((r) => finish(env, r)));
  return { groups: finished.map(distinctUnlessAlike), drawn: finished.flat() };
}

/**
 * A group's distinct rollouts; when every rollout is the same, all of them. A group-relative
 * estimator needs at least two (GRPO, RLOO), and identical rollouts earn it zero advantage, as
 * they would from plain sampling, where a confident policy draws the same answer G times.
 */
function distinctUnlessAlike(group: readonly Rollout[]): Rollout[] {
  const kept = distinct(group);
  return kept.length === 1 ? [...group] : kept;
}

/** A new episode restarted from a node of a rollout of the group. */
function branchFrom(
  env: Environment,
  group: readonly Running[],
  rng: Rng,
  runRng: Rng,
  rule: 'best' | 'uniform',
  scalar: (rollout: Rollout) => number,
  bos: number,
): Running {
  const scores = group.map((r) => scalar(finish(env, r)));
  const parent = (
    rule === 'uniform' ? group[rng.int(0, group.length - 1)] : group[scores.indexOf(Math.max(...scores))]
  ) as Running;
  // Nodes: (turn, tokens kept); a later turn is a node only when its snapshot can be restored.
  const nodes: [number, number][] = [];
  parent.turns.forEach((turn, t) => {
    if (t > 0 && (parent.snapshots?.[t] === undefined || !parent.episode.restore)) return;
    for (let j = 0; j < turn.actionTokens.length; j++) nodes.push([t, j]);
  });
  const [t, j] = nodes[rng.int(0, nodes.length - 1)] as [number, number];
  const episode = env.start(parent.request.task, runRng.split(parent.envKey));
  if (t > 0) episode.restore?.(parent.snapshots?.[t]);
  const previous = parent.turns[t - 1];
  const cut = parent.turns[t] as Rollout['turns'][number];
  return {
    request: parent.request,
    index: group.length,
    episode,
    history: previous ? [...previous.promptTokens, ...previous.actionTokens] : [bos],
    turns: parent.turns.slice(0, t),
    done: false,
    forced: { tokens: cut.actionTokens.slice(0, j), logprobs: cut.logprobs.slice(0, j) },
    snapshots: (parent.snapshots ?? []).slice(0, t),
    envKey: parent.envKey,
  };
}
