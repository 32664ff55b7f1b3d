import { type AdvantageEstimator, defineEstimator, type Rollout, resolveOptions } from '@policy-lab/core';
import { type QPath, uniformQ } from '../estimators/rover-q.js';
import { mean, zScores } from '../group-math.js';
import { checkGroupSize, ones } from '../groups.js';
import { scalarOf } from './shared.js';

export interface RoverOptions {
  /** 'mean': r - mean(r) (the paper); 'z-score': GRPO's (r - mean) / (std + eps) (the released math script). */
  center?: 'mean' | 'z-score';
  std?: 'sample' | 'population';
  eps?: number;
  /** 'uniform-q': per-token Q targets bootstrapped from the group's regressed uniform-policy Q; 'reward': r~ alone. */
  target?: 'uniform-q' | 'reward';
  /** |V| of the uniform policy's mean; 0: the policy's vocabulary (the trainer's), else the distinct tokens seen. */
  vocabulary?: number;
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
  target: {
    type: 'enum',
    values: ['uniform-q', 'reward'],
    default: 'uniform-q',
    doc: "'uniform-q': each token's target r~ + mean_a Q(s', a) from the uniform-policy Q regressed on the group's rollouts; 'reward': r~ on every token (the target at theta = theta_old with no state shared)",
  },
  vocabulary: {
    type: 'integer',
    default: 0,
    doc: "|V| of the mean over next tokens; 0 = the policy's vocabulary (given by the trainer), or the distinct tokens of the group outside it",
  },
} as const;

/** A rollout's action tokens as a token path: the state key of each is its turn's prompt and the action so far. */
function pathOf(rollout: Rollout, reward: number): QPath {
  const steps = rollout.turns.flatMap((turn) => {
    const prompt = turn.promptTokens.join(',');
    return turn.actionTokens.map((action, j) => ({ state: `${prompt}|${turn.actionTokens.slice(0, j).join(',')}`, action }));
  });
  return { steps, reward };
}

/** Splits a path's per-token values back into its turns. */
function perTurn(rollout: Rollout, values: readonly number[]): number[][] {
  let at = 0;
  return rollout.turns.map((turn) => {
    const out = values.slice(at, at + turn.actionTokens.length);
    at += turn.actionTokens.length;
    return out;
  });
}

/**
 * ROVER's estimator: the regression targets of random-policy valuation. Each action token's
 * target is r~ (the group-centred reward) plus the mean over the vocabulary of the uniform
 * policy's Q at the next state, Q regressed from the group's rollouts (estimators/rover-q.ts);
 * the `rover` loss regresses rho (log pi_theta - log pi_old) onto these targets, which makes the
 * policy pi_old exp(Q / rho), the softmax over Q-values the paper samples from.
 */
export function rover(options: RoverOptions = {}): AdvantageEstimator {
  const resolved = resolveOptions<Required<RoverOptions>>('rover', OPTIONS, options as Record<string, unknown>);
  if (resolved.eps < 0) throw new RangeError(`rover: option 'eps' must be >= 0, got ${resolved.eps}`);
  if (resolved.vocabulary < 0) throw new RangeError(`rover: option 'vocabulary' must be >= 0, got ${resolved.vocabulary}`);
  return defineEstimator({
    name: 'rover',
    summary:
      "ROVER: per-token Q targets of random-policy valuation, r~ plus the vocabulary mean of the uniform policy's Q at the next state, regressed from the group's rollouts",
    paper: {
      title: 'Random Policy Valuation is Enough for LLM Reasoning with Verifiable Rewards',
      arxiv: '2509.24981',
      year: 2025,
    },
    options: OPTIONS,
    resolved,
    needsModel: false,
    unverified: [
      "Adaptation: adapted. ROVER's Q is the policy's own log-ratio rho (log pi_theta - log pi_old), whose vocabulary mean at the next state the loss reads from the network during the update; here that mean comes from a table of the uniform policy's Q regressed on the group's rollouts (states shared by several rollouts of the group carry their siblings' values; tokens no rollout took count 0, the intrinsic Q before the update). The `rover` loss then regresses rho (log pi_theta - log pi_old) onto the targets, as the paper's.",
      "the paper centres by the mean; the released math script uses adv_estimator=grpo (z-score); default 'mean' follows the paper",
    ],
    math:
      "$\\hat Q(s_t, a_t) = \\tilde r_i + \\tfrac{1}{|V|}\\sum_{a} Q(s_{t+1}, a)$ (0 after the last token), $Q$ the uniform policy's, regressed on the group's samples; $\\tilde r_i = " +
      (resolved.center === 'mean'
        ? 'r_i - \\operatorname{mean}(r)$'
        : `(r_i - \\operatorname{mean}(r)) / (\\operatorname{std}_{${resolved.std}}(r) + ${resolved.eps})$`),
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
      if (resolved.target === 'reward') return { rollout, turns, weights: ones(groups) };
      let bootstrapped = 0;
      let tokens = 0;
      const perToken = groups.map((group, g) => {
        const paths = group.map((r, i) => pathOf(r, rollout[g]?.[i] as number));
        const seen = new Set(paths.flatMap((p) => p.steps.map((s) => s.action))).size;
        const actions = resolved.vocabulary || ctx.services?.vocabulary?.length || Math.max(1, seen);
        const fitted = uniformQ(paths, actions);
        for (const row of fitted.bootstraps)
          for (const b of row) {
            tokens += 1;
            if (b !== 0) bootstrapped += 1;
          }
        return group.map((r, i) => perTurn(r, fitted.targets[i] as number[]));
      });
      return {
        rollout,
        turns,
        tokens: perToken,
        weights: ones(groups),
        diagnostics: { bootstrappedTokens: tokens ? bootstrapped / tokens : 0 },
      };
    },
  });
}
