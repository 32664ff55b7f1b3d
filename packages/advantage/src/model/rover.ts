import { type AdvantageEstimator, defineEstimator, resolveOptions } from '@policy-lab/core';
import { mean, zScores } from '../group-math.js';
import { checkGroupSize, ones } from '../groups.js';
import { scalarOf } from './shared.js';

export interface RoverOptions {
  /** 'mean': r - mean(r) (the paper); 'z-score': GRPO's (r - mean) / (std + eps) (the released math script). */
  center?: 'mean' | 'z-score';
  std?: 'sample' | 'population';
  eps?: number;
}

const OPTIONS = {
  center: {
    type: 'enum',
    values: ['mean', 'z-score'],
    default: 'mean',
    doc: "reward centring: 'mean' = r - mean(r) (paper); 'z-score' = GRPO's z-score (the released script's adv_estimator=grpo)",
  },
  std: { type: 'enum', values: ['sample', 'population'], default: 'sample', doc: "std of the 'z-score' centring" },
  eps: { type: 'number', default: 1e-6, doc: "added to the std of the 'z-score' centring (verl: 1e-6)" },
} as const;

/**
 * ROVER's estimator half. ROVER regresses the intrinsic Q(s_t, a_t) =
 * rho (log pi_theta - log pi_old) onto r~ + the uniform-policy (vocabulary-mean) Q of the next
 * state. When advantages are computed, pi_theta = pi_old, so every Q term and the bootstrapped
 * vocabulary mean are 0 and the target is exactly r~, the group-centred reward on every token;
 * the bootstrap only moves during the update, inside the loss. This estimator returns r~ on every
 * turn, as the advantage and as the regression target (`returns`); it needs no model services.
 */
export function rover(options: RoverOptions = {}): AdvantageEstimator {
  const resolved = resolveOptions<Required<RoverOptions>>('rover', OPTIONS, options as Record<string, unknown>);
  if (resolved.eps < 0) throw new RangeError(`rover: option 'eps' must be >= 0, got ${resolved.eps}`);
  return defineEstimator({
    name: 'rover',
    summary: 'ROVER: the group-centred reward on every token, the Q target of random-policy valuation at theta = theta_old',
    paper: {
      title: 'Random Policy Valuation is Enough for LLM Reasoning with Verifiable Rewards',
      arxiv: '2509.24981',
      year: 2025,
    },
    options: OPTIONS,
    resolved,
    needsModel: false,
    unverified: [
      'the ROVER objective (token MSE between rho log(pi/pi_old) and sg[r~ + rho (mean_a log pi - mean_a log pi_old)(s_{t+1})]) is a loss and needs the full next-token distribution during the update; it is not in this package and the model services cannot provide vocabulary means',
      "the paper centres by the mean; the released math script uses adv_estimator=grpo (z-score); default 'mean' follows the paper",
    ],
    math:
      resolved.center === 'mean'
        ? '$\\tilde r_i = r_i - \\operatorname{mean}(r)$ on every token; target $\\hat Q_t = \\tilde r_i + \\tfrac{1}{|V|}\\sum_a Q(s_{t+1}, a)$, which is $\\tilde r_i$ at $\\theta = \\theta_{old}$'
        : `$\\tilde r_i = (r_i - \\operatorname{mean}(r)) / (\\operatorname{std}_{${resolved.std}}(r) + ${resolved.eps})$ on every token; the Q target at $\\theta = \\theta_{old}$`,
    configure: (next) => rover({ ...resolved, ...next }),
    compute(groups, ctx) {
      const rollout = groups.map((group, g) => {
        checkGroupSize('rover', group, g);
        const r = group.map((x, i) => scalarOf('rover', x, ctx, g, i));
        if (resolved.center === 'z-score') return zScores(r, resolved.std, resolved.eps);
        const m = mean(r);
        return r.map((v) => v - m);
      });
      const turns = groups.map((group, g) => group.map((r, i) => r.turns.map(() => rollout[g]?.[i] as number)));
      return { rollout, turns, returns: turns, weights: ones(groups) };
    },
  });
}
