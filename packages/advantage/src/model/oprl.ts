import { type AdvantageEstimator, defineEstimator, resolveOptions, stepTexts, UsageError } from '@policy-lab/core';
import { zScores } from '../group-math.js';
import { checkGroupSize, ones } from '../groups.js';
import { scalarOf } from './shared.js';

export interface OprlOptions {
  /** Weight of the step-level advantage: A = A_E + alpha A_S. */
  alpha?: number;
  /** The run's implicit PRM (a reward model with the implicit-prm objective) that scores the steps. */
  prm?: string;
  std?: 'sample' | 'population';
  eps?: number;
  /** Where the step rewards are normalised: over the group's steps or over every step of the batch. */
  stepScope?: 'group' | 'batch';
}

const OPTIONS = {
  alpha: { type: 'number', default: 1, doc: 'weight of the step advantage, A = A_E + alpha * A_S (proposal: 1)' },
  prm: {
    type: 'string',
    default: 'implicit-prm',
    doc: "the run's implicit PRM (reward model) whose step rewards beta log(pi_prm / pi_old) are read",
  },
  std: { type: 'enum', values: ['sample', 'population'], default: 'sample', doc: 'std of both z-scores' },
  eps: { type: 'number', default: 1e-4, doc: 'added to the std of both z-scores' },
  stepScope: {
    type: 'enum',
    values: ['group', 'batch'],
    default: 'group',
    doc: "normalisation scope of the step rewards: the group's steps (proposal) or every step of the batch",
  },
} as const;

const PAPER = {
  title: 'Online Process Reward Learning (v2; v1: Agentic RL with Implicit Step Rewards, iStar)',
  arxiv: '2509.19199',
  year: 2025,
};

/**
 * OPRL / iStar: the episode advantage (group z-score of the outcome) plus alpha times a step
 * advantage, the z-scored implicit step reward r_t = beta * log(pi_prm(a_t|c_t) / pi_old(a_t|c_t))
 * summed over each action's tokens. The implicit PRM is a second model the trainer owns (the
 * `implicit-prm` reward model), trained by trajectory DPO on the step's groups before this
 * estimator runs; its scoring is charged to the budget by the trainer.
 */
export function oprl(options: OprlOptions = {}): AdvantageEstimator {
  const resolved = resolveOptions<Required<OprlOptions>>('oprl', OPTIONS, options as Record<string, unknown>);
  if (resolved.eps < 0) throw new RangeError(`oprl: option 'eps' must be >= 0, got ${resolved.eps}`);
  return defineEstimator({
    name: 'oprl',
    summary:
      'OPRL/iStar: group-normalised outcome advantage plus alpha times z-scored step rewards of an implicit PRM trained by trajectory DPO',
    paper: PAPER,
    options: OPTIONS,
    resolved,
    needsModel: true,
    unverified: [
      'alpha (default 1) and the normalisation scope of A_S (default: the group) are our proposals',
      "the step rewards come from the run's reward model named by `prm` (the oprl Method adds `implicit-prm`); its own page lists its unverified parts",
    ],
    math: `$r_t = \\beta \\sum_{j \\in a_t} \\log\\frac{\\pi_{prm}(a_{t,j} \\mid \\cdot)}{\\pi_{\\theta_{old}}(a_{t,j} \\mid \\cdot)}$ (reward model \`${resolved.prm}\`); $A_{i,t} = \\operatorname{z}_{group}(R)_i + ${resolved.alpha}\\, \\operatorname{z}_{${resolved.stepScope}}(r)_{i,t}$ (std ${resolved.std}, $\\epsilon = ${resolved.eps}$)`,
    configure: (next) => oprl({ ...resolved, ...next }),
    async compute(groups, ctx) {
      const prm = ctx.rewardModels?.[resolved.prm];
      if (!prm)
        throw new UsageError(
          `oprl needs the implicit PRM '${resolved.prm}' among the run's reward models (it has: ${Object.keys(ctx.rewardModels ?? {}).join(', ') || 'none'}); use the oprl Method or --set rewardModels=${resolved.prm}`,
        );
      const episode = groups.map((group, g) => {
        checkGroupSize('oprl', group, g);
        return zScores(
          group.map((r, i) => scalarOf('oprl', r, ctx, g, i)),
          resolved.std,
          resolved.eps,
        );
      });
      const scores = await prm.score(groups.flatMap((group) => group.flatMap((r) => stepTexts(r))));
      let offset = 0;
      const stepRewards = groups.map((group) =>
        group.map((r) =>
          r.turns.map(() => {
            const value = scores[offset++] as number;
            if (!Number.isFinite(value))
              throw new RangeError(`oprl: rollout ${r.id}: the step reward is not finite (${value}); check the PRM`);
            return value;
          }),
        ),
      );
      const normalised =
        resolved.stepScope === 'batch'
          ? unflatten(zScores(stepRewards.flat(2), resolved.std, resolved.eps), stepRewards)
          : stepRewards.map((group) => unflatten(zScores(group.flat(), resolved.std, resolved.eps), [group])[0] as number[][]);
      const turns = groups.map((group, g) =>
        group.map((r, i) => {
          const base = episode[g]?.[i] as number;
          return r.turns.map((_, t) => base + resolved.alpha * (normalised[g]?.[i]?.[t] as number));
        }),
      );
      const flat = stepRewards.flat(2);
      return {
        rollout: episode,
        turns,
        weights: ones(groups),
        diagnostics: { stepRewardMean: flat.length ? sum(flat) / flat.length : 0 },
      };
    },
  });
}

function sum(values: readonly number[]): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}

/** Puts a flat list back into the [group][rollout][turn] shape of `shape`. */
function unflatten(flat: readonly number[], shape: readonly (readonly (readonly number[])[])[]): number[][][] {
  let offset = 0;
  return shape.map((group) => group.map((row) => row.map(() => flat[offset++] as number)));
}
