import { type AdvantageEstimator, defineEstimator, resolveOptions } from '@policy-lab/core';
import { zScores } from '../group-math.js';
import { checkGroupSize, ones } from '../groups.js';
import { contextText, requireServices, scalarOf, scoreAll } from './shared.js';

export interface OprlOptions {
  /** Weight of the step-level advantage: A = A_E + alpha A_S. */
  alpha?: number;
  /** Scale of the implicit step reward beta * log-ratio. */
  beta?: number;
  std?: 'sample' | 'population';
  eps?: number;
  /** Where the step rewards are normalised: over the group's steps or over every step of the batch. */
  stepScope?: 'group' | 'batch';
}

const OPTIONS = {
  alpha: { type: 'number', default: 1, doc: 'weight of the step advantage, A = A_E + alpha * A_S (proposal: 1)' },
  beta: { type: 'number', default: 0.05, doc: 'scale of the implicit step reward beta * log(pi_prm / pi_base)' },
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
 * OPRL / iStar: the episode advantage (group z-score of the outcome) plus alpha
 * times a step advantage, the z-scored implicit step reward beta * log(pi_prm(a_t|c_t) / pi_base(a_t|c_t))
 * summed over each action's tokens. Adaptation: the trainer holds one policy and a frozen
 * reference, not a separately trained PRM, so the step reward is the policy's own implicit reward
 * against the reference (pi_prm = current, pi_base = reference).
 */
export function oprl(options: OprlOptions = {}): AdvantageEstimator {
  const resolved = resolveOptions<Required<OprlOptions>>('oprl', OPTIONS, options as Record<string, unknown>);
  if (resolved.eps < 0) throw new RangeError(`oprl: option 'eps' must be >= 0, got ${resolved.eps}`);
  if (!Number.isFinite(resolved.beta) || resolved.beta <= 0)
    throw new RangeError(`oprl: option 'beta' must be > 0, got ${resolved.beta}`);
  return defineEstimator({
    name: 'oprl',
    summary:
      'OPRL/iStar: group-normalised outcome advantage plus alpha times z-scored implicit step rewards beta log(pi/pi_base)',
    paper: PAPER,
    options: OPTIONS,
    resolved,
    needsModel: true,
    unverified: [
      "the paper's implicit PRM is a second LM trained online by trajectory DPO against pi_old; it is not built: the step reward is beta log(pi_current / pi_reference) of the policy itself (at estimation time pi_current = pi_old, so the paper's ratio would be 0 without a separate PRM)",
      'alpha (default 1) and the normalisation scope of A_S (default: the group) are our proposals',
      "without a reference model in the run the trainer scores 'reference' with the policy: the step rewards are 0 and OPRL reduces to GRPO",
    ],
    math: `$r_t = ${resolved.beta} \\sum_{j \\in a_t} \\log\\frac{\\pi_\\theta(a_{t,j} \\mid \\cdot)}{\\pi_{ref}(a_{t,j} \\mid \\cdot)}$; $A_{i,t} = \\operatorname{z}_{group}(R)_i + ${resolved.alpha}\\, \\operatorname{z}_{${resolved.stepScope}}(r)_{i,t}$ (std ${resolved.std}, $\\epsilon = ${resolved.eps}$)`,
    configure: (next) => oprl({ ...resolved, ...next }),
    async compute(groups, ctx) {
      const services = requireServices('oprl', ctx);
      const episode = groups.map((group, g) => {
        checkGroupSize('oprl', group, g);
        return zScores(
          group.map((r, i) => scalarOf('oprl', r, ctx, g, i)),
          resolved.std,
          resolved.eps,
        );
      });
      const requests = groups.flatMap((group) =>
        group.flatMap((r) => r.turns.map((turn, t) => ({ context: `${contextText(r, t)}\n`, continuation: turn.action }))),
      );
      const [current, reference] = await Promise.all([
        scoreAll('oprl', services, requests, 'current'),
        scoreAll('oprl', services, requests, 'reference'),
      ]);
      let offset = 0;
      const stepRewards = groups.map((group) =>
        group.map((r) =>
          r.turns.map(() => {
            const k = offset++;
            const value = resolved.beta * (sum(current[k] as number[]) - sum(reference[k] as number[]));
            if (!Number.isFinite(value))
              throw new RangeError(`oprl: rollout ${r.id}: the step reward is not finite (${value}); check the scores`);
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
