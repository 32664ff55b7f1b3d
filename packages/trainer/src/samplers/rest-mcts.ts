/**
 * ReST-MCTS* (Zhang et al., "ReST-MCTS*: LLM Self-Training via Process Reward Guided Tree
 * Search", arXiv 2406.03816; defaults from the released code, THUDM/ReST-MCTS): the `rest-mcts`
 * sampler runs MCTS* over the steps of an action guided by a process value model (the trainer's
 * search: loop/mcts.ts), and the `rest-mcts` estimator keeps the traces the paper self-trains the
 * policy on: finished traces whose answer the oracle accepts and whose value reaches a threshold.
 */
import {
  type AdvantageEstimator,
  defineEstimator,
  defineSampler,
  type MctsSettings,
  resolveOptions,
  type Sampler,
  UsageError,
} from '@policy-lab/core';

export const REST_MCTS_PAPER = {
  title: 'ReST-MCTS*: LLM Self-Training via Process Reward Guided Tree Search',
  arxiv: '2406.03816',
  year: 2024,
} as const;

const OPTIONS = {
  valueModel: { type: 'string', default: 'restmcts-value', doc: "the run's reward model that values partial actions" },
  simulations: { type: 'integer', default: 12, doc: 'search iterations per task (the code: iteration_limit)' },
  branch: { type: 'integer', default: 3, doc: 'next steps sampled when a node is expanded (the code: branch 3)' },
  exploration: { type: 'number', default: 0.4, doc: "UCT's exploration constant (the evaluation entry point's 0.4)" },
  unvisitedBonus: { type: 'number', default: 0.8, doc: "added to a never visited child's value (the code: inf 0.8)" },
  rollForwardSteps: { type: 'integer', default: 2, doc: 'greedy roll-forward steps from the best new child (0: none)' },
  rollBranch: { type: 'integer', default: 1, doc: 'samples per roll-forward step, the best by value taken (the code: 1)' },
  alpha: { type: 'number', default: 0.5, doc: "weight of the roll-forward's best value in the rolled node's value" },
  delimiters: { type: 'string', default: ' +-*/', doc: 'characters that end a step (kept in the step)' },
  maxStepTokens: { type: 'integer', default: 8, doc: 'longest step in tokens' },
} as const;

export function restMcts(options: Partial<MctsSettings> = {}): Sampler {
  const resolved = resolveOptions<MctsSettings>('rest-mcts', OPTIONS, options as Record<string, unknown>);
  for (const key of ['simulations', 'branch', 'rollBranch', 'maxStepTokens'] as const)
    if (!(Number.isInteger(resolved[key]) && resolved[key] >= 1))
      throw new RangeError(`rest-mcts: ${key} must be an integer >= 1, got ${resolved[key]}`);
  if (!(Number.isInteger(resolved.rollForwardSteps) && resolved.rollForwardSteps >= 0))
    throw new RangeError(`rest-mcts: rollForwardSteps must be an integer >= 0, got ${resolved.rollForwardSteps}`);
  if (!(resolved.alpha >= 0 && resolved.alpha <= 1))
    throw new RangeError(`rest-mcts: alpha must be in [0, 1], got ${resolved.alpha}`);
  if (!(resolved.exploration >= 0 && Number.isFinite(resolved.exploration)))
    throw new RangeError(`rest-mcts: exploration must be a finite number >= 0, got ${resolved.exploration}`);
  if (!Number.isFinite(resolved.unvisitedBonus))
    throw new RangeError(`rest-mcts: unvisitedBonus must be a finite number, got ${resolved.unvisitedBonus}`);
  return defineSampler({
    name: 'rest-mcts',
    summary:
      'MCTS* over the steps of an action guided by a process value model; the group is the finished traces of highest value, the whole tree gives value targets',
    paper: REST_MCTS_PAPER,
    options: OPTIONS,
    resolved,
    strategy: 'mcts',
    mcts: resolved,
    behaviour: 'proposal',
    math: 'select by $V + c\\sqrt{2 \\ln N_p / N}$ (unvisited: $V$ + bonus); expand $b$ sampled steps valued by $V_\\phi$; roll forward: $V \\leftarrow (1-\\alpha) V + \\alpha \\max V_{\\text{roll}}$; back up the visit-weighted mean',
    unverified: [
      "adaptation: direct in mechanism, adapted in scale. A step is a segment of the single action ending at a delimiter (default: a space or an operator), the stop token, or 8 tokens; the paper's steps are lines of a solution written by a 6B-8B model. Multi-turn environments are refused (exit 2).",
      "The search's sizes are smaller than the code's (12 iterations per task where the code allows 100); branch 3, roll-forward greedy with 1 sample per step, exploration 0.4, unvisited bonus 0.8 and alpha 0.5 follow the released code's evaluation defaults (the task class's own defaults differ: exploration 0.7, inf 1.0, roll_forward_steps 3); we use roll_forward_steps 2 from the evaluation entry point.",
      "The code ends the search at a node whose value passes end_gate 0.9 and asks the model whether a solution is finished (reflection); here a trace ends at the policy's stop token, and the search runs all its iterations or until no open leaf is left. Open leaves of highest value are finished by plain sampling when fewer traces than the group size were found (charged).",
      "The traces are scored by the environment (the oracle final answer); every finished trace is charged as an episode, every generated token (expansions, roll-forwards, completions) once, and the value model's calls as auxScoredTokens.",
    ],
    configure: (next) => restMcts({ ...resolved, ...next }),
  });
}

interface SearchMeta {
  value: number;
  target?: number;
  traces: number;
}

/**
 * The traces ReST-MCTS* self-trains the policy on (released code: the correct traces whose value
 * passes `value_threshold` 0.2): weight 1 and advantage 1 (with the reinforce loss, supervised
 * fine-tuning on them); every other trace weight 0.
 */
export function restMctsEstimator(options: { threshold?: number } = {}): AdvantageEstimator {
  const ESTIMATOR_OPTIONS = {
    threshold: { type: 'number', default: 0.2, doc: "a correct trace is kept when the search's value of it is at least this" },
  } as const;
  const resolved = resolveOptions<{ threshold: number }>('rest-mcts', ESTIMATOR_OPTIONS, options);
  return defineEstimator({
    name: 'rest-mcts',
    summary:
      "ReST-MCTS*'s trace selection: the search's correct traces whose value reaches a threshold, trained as supervised targets",
    paper: REST_MCTS_PAPER,
    options: ESTIMATOR_OPTIONS,
    resolved,
    math: '$w_i = A_i = [\\text{correct}_i \\wedge V(\\text{trace}_i) \\ge \\tau]$, $\\tau = 0.2$',
    configure: (next) => restMctsEstimator({ ...resolved, ...next }),
    compute(groups) {
      let kept = 0;
      let traces = 0;
      let correct = 0;
      let valueSum = 0;
      let count = 0;
      const rollout = groups.map((group) =>
        group.map((r) => {
          const meta = r.meta?.restMcts as SearchMeta | undefined;
          if (!meta)
            throw new UsageError(
              "estimator 'rest-mcts' keeps the traces of a tree search by their value: run it with --set sampler=rest-mcts (and --set rewardModels=restmcts-value)",
            );
          count += 1;
          valueSum += meta.value;
          if (r.success) correct += 1;
          const keep = r.success && meta.value >= resolved.threshold;
          if (keep) kept += 1;
          return keep ? 1 : 0;
        }),
      );
      for (const group of groups) traces += (group[0]?.meta?.restMcts as SearchMeta | undefined)?.traces ?? 0;
      return {
        rollout,
        weights: rollout.map((g) => [...g]),
        diagnostics: {
          keptTraces: kept,
          correctFraction: correct / Math.max(1, count),
          searchValueMean: valueSum / Math.max(1, count),
          tracesPerTree: traces / Math.max(1, groups.length),
        },
      };
    },
  });
}
