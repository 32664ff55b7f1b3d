/**
 * PF-PPO: policy filtration. Every rollout is generated (and charged); only
 * those whose reward is most reliable are trained, as loss weights. Per group: best only (BoN),
 * best plus one seeded random (BR), best plus worst (BW). verl's batch reweighting modes become
 * expected resampling counts. Advantages are GRPO's over the whole group.
 */
import { type AdvantageEstimator, defineEstimator, resolveOptions } from '@policy-lab/core';
import { zScores } from '../group-math.js';
import { scalarRewards } from '../groups.js';

export type PfStrategy = 'bon' | 'br' | 'bw' | 'pow' | 'max-min' | 'max-random';

export interface PfPpoOptions {
  strategy?: PfStrategy;
  power?: number;
}

const OPTIONS = {
  strategy: {
    type: 'enum',
    values: ['bon', 'br', 'bw', 'pow', 'max-min', 'max-random'],
    default: 'bw',
    doc: "per group: 'bon' best, 'br' best + a random one, 'bw' best + worst; over the batch (verl): 'pow' |r|^p, 'max-min', 'max-random'",
  },
  power: { type: 'number', default: 2, doc: "exponent of the 'pow' weights" },
} as const;

export function pfPpo(options: PfPpoOptions = {}): AdvantageEstimator {
  const o = resolveOptions<Required<PfPpoOptions>>('pf-ppo', OPTIONS, options as Record<string, unknown>);
  return defineEstimator({
    name: 'pf-ppo',
    summary: 'PF-PPO: train only on rollouts whose reward is reliable (the best and worst of a group), all of them charged',
    paper: { title: 'Policy Filtration in RLHF to Fine-Tune LLM for Code Generation', arxiv: '2409.06957', year: 2024 },

    options: OPTIONS,
    resolved: o,
    math: "weights $w_i \\in \\{0, 1\\}$ by strategy (or $N\\,s_i/\\sum s$ for verl's modes); $A_i$ = GRPO's z-score over the group",
    unverified: [
      'The paper picks the strategy by the R^2 between reward-model and true scores; here it is an option (default BW).',
      "verl's `compute_pf_ppo_reweight_data` modes (pow, max-min, max-random) resample the batch multinomially; we use the expected counts as deterministic loss weights, so no output matches verl's draw and there is no reference fixture.",
    ],
    configure: (next) => pfPpo({ ...o, ...next }),
    compute(groups, ctx) {
      const rewards = scalarRewards('pf-ppo', groups, ctx);
      const rollout = rewards.map((r) => zScores(r, 'sample', 1e-4));
      let weights: number[][];
      if (o.strategy === 'bon' || o.strategy === 'br' || o.strategy === 'bw') {
        weights = rewards.map((r, g) => {
          const best = r.indexOf(Math.max(...r));
          const worst = r.lastIndexOf(Math.min(...r));
          const w = r.map(() => 0);
          w[best] = 1;
          if (o.strategy === 'bw') w[worst] = 1;
          if (o.strategy === 'br') {
            const others = r.map((_, i) => i).filter((i) => i !== best);
            w[ctx.rng.split(`pf/${g}`).pick(others)] = 1;
          }
          return w;
        });
      } else {
        const flat = rewards.flat();
        const max = Math.max(...flat);
        const min = Math.min(...flat);
        const score = (v: number) =>
          o.strategy === 'pow'
            ? Math.abs(v) ** o.power
            : o.strategy === 'max-min'
              ? v === max || v === min
                ? 1
                : 0
              : v === max
                ? 0.4
                : 0.1;
        const total = flat.reduce((s, v) => s + score(v), 0);
        weights = rewards.map((r) => r.map((v) => (total > 0 ? (flat.length * score(v)) / total : 1)));
      }
      const kept = weights.flat().filter((w) => w > 0).length;
      return { rollout, weights, diagnostics: { keptFraction: kept / Math.max(1, weights.flat().length) } };
    },
  });
}
