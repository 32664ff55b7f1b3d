/**
 * PPO with generalised advantage estimation, at the granularity of turns: the
 * critic's value of each turn's starting state, the turn rewards, and
 * A_t = delta_t + gamma lambda A_{t+1} with delta_t = r_t + gamma V_{t+1} - V_t (V = 0 after the
 * last turn). Returns A_t + V_t are the critic's regression targets.
 */
import { type AdvantageEstimator, defineEstimator, resolveOptions, UsageError } from '@policy-lab/core';
import { checkGroupSize, scalarOf } from '../groups.js';
import { verlReference } from '../reference.js';
import { tokenWhiten } from './reinforce-pp.js';

export interface PpoGaeOptions {
  gamma?: number;
  lambda?: number;
  whiten?: boolean;
}

const OPTIONS = {
  gamma: { type: 'number', default: 1, doc: 'discount between turns (verl and TRL: 1.0)' },
  lambda: { type: 'number', default: 1, doc: 'GAE lambda (verl 1.0, TRL PPO 0.95)' },
  whiten: {
    type: 'boolean',
    default: true,
    doc: "whiten the batch's advantages over action tokens as verl's masked_whiten (Bessel variance, 1/sqrt(var + 1e-8))",
  },
} as const;

export function ppoGae(options: PpoGaeOptions = {}): AdvantageEstimator {
  const o = resolveOptions<Required<PpoGaeOptions>>('ppo-gae', OPTIONS, options as Record<string, unknown>);
  for (const key of ['gamma', 'lambda'] as const)
    if (!(o[key] >= 0 && o[key] <= 1)) throw new RangeError(`ppo-gae: option '${key}' must be in [0, 1], got ${o[key]}`);
  return defineEstimator({
    name: 'ppo-gae',
    summary: "PPO's advantage: GAE over turns with the critic's state values; returns train the critic",
    paper: {
      title: 'High-Dimensional Continuous Control Using Generalized Advantage Estimation',
      arxiv: '1506.02438',
      year: 2015,
    },
    matches: 'verl `adv_estimator=gae` (per turn instead of per token; see unverified)',
    references: [
      verlReference(
        'compute_gae_advantage_return',
        'verl-gae',
        'one-token turns (any gamma, lambda) or gamma = lambda = 1 with a value per turn',
      ),
    ],
    options: OPTIONS,
    resolved: o,
    needsCritic: true,
    math:
      '$\\delta_t = r_t + \\gamma V(s_{t+1}) - V(s_t)$, $A_t = \\sum_{l \\ge 0} (\\gamma\\lambda)^l \\delta_{t+l}$, returns $A_t + V(s_t)$' +
      (o.whiten
        ? "; whitened over the batch's $N$ action tokens (each turn counted per token): $A \\leftarrow (A - \\mu) / \\sqrt{\\tfrac{N}{N-1}\\sigma^2 + 10^{-8}}$"
        : ''),
    unverified: [
      "Per turn, not per token: the trainer's critic gives one value per turn (at the turn's last prompt position) and every token of a turn gets the turn's advantage; verl's token-level GAE with gamma = lambda = 1 gives the same advantage to every token of a single-turn response only when the value is constant along it.",
      "The episode's reward beyond the turn rewards (shaping, the klPenalty component) is added to the last turn's reward, so the turn rewards sum to the episode's scalar reward.",
    ],
    configure: (next) => ppoGae({ ...o, ...next }),
    compute(groups, ctx) {
      if (!ctx.values)
        throw new UsageError("ppo-gae needs the critic's values (ctx.values): it runs inside the trainer with a value head");
      const values = ctx.values;
      const turns: number[][][] = [];
      const returns: number[][][] = [];
      groups.forEach((group, g) => {
        checkGroupSize('ppo-gae', group, g, 1);
        const gTurns: number[][] = [];
        const gReturns: number[][] = [];
        group.forEach((rollout, i) => {
          const total = scalarOf('ppo-gae', rollout, ctx, g, i);
          const v = values.get(rollout.id);
          if (!v || v.length !== rollout.turns.length)
            throw new UsageError(
              `ppo-gae: group ${g}, rollout ${i} (${rollout.id}): needs one critic value per turn (${rollout.turns.length}), got ${v ? v.length : 'none'}`,
            );
          const rewards = rollout.turns.map((turn) => ctx.scalar(turn.reward));
          const last = rewards.length - 1;
          if (last >= 0) rewards[last] = (rewards[last] as number) + total - rewards.reduce((a, b) => a + b, 0);
          const advantages = rewards.map(() => 0);
          let next = 0;
          for (let t = last; t >= 0; t--) {
            const delta = (rewards[t] as number) + o.gamma * (t < last ? (v[t + 1] as number) : 0) - (v[t] as number);
            next = delta + o.gamma * o.lambda * next;
            advantages[t] = next;
          }
          gTurns.push(advantages);
          gReturns.push(advantages.map((a, t) => a + (v[t] as number)));
        });
        turns.push(gTurns);
        returns.push(gReturns);
      });
      const whitened = o.whiten ? whiten(groups, turns) : turns;
      return {
        rollout: whitened.map((g) => g.map((t) => t[0] ?? 0)),
        turns: whitened,
        returns,
        weights: groups.map((g) => g.map(() => 1)),
      };
    },
  });
}

/**
 * verl's masked_whiten over the batch's action tokens: every turn's advantage counts once per
 * action token (a turn without tokens is padding and counts 0), Bessel-corrected variance,
 * (A - mean) / sqrt(var + 1e-8).
 */
function whiten(
  groups: readonly (readonly { turns: readonly { actionTokens: readonly number[] }[] }[])[],
  turns: number[][][],
): number[][][] {
  const counts = turns.flatMap((g, gi) =>
    g.flatMap((r, ri) => r.map((_, t) => groups[gi]?.[ri]?.turns[t]?.actionTokens.length ?? 0)),
  );
  const whitened = tokenWhiten(turns.flat(2), counts);
  let offset = 0;
  return turns.map((g) => g.map((r) => r.map(() => whitened[offset++] as number)));
}
