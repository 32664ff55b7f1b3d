/**
 * GARDO (He et al. 2025, arXiv 2512.24138), the estimator's two parts:
 * - the diversity-aware advantage: above-mean rollouts are amplified by how far they are from
 *   their nearest neighbour in the group, relative to the group's mean distance (text stand-in for
 *   the image embeddings: character trigram counts of the actions, cosine distance);
 * - the gate of the KL penalty (gardo-gate.ts): per rollout, a divergence weight that is 0 unless
 *   the rollout's reward is uncertain, which the trainer applies to the divergence penalty.
 * The third part, the periodic reference reset, is the `reference-reset` step hook.
 */
import {
  type AdvantageEstimator,
  defineEstimator,
  type EstimatorContext,
  type Rollout,
  resolveOptions,
  UsageError,
} from '@policy-lab/core';
import { mean, std } from '../group-math.js';
import { ones, scalarRewards } from '../groups.js';
import { gate, riskCompensator, uncertainties } from './gardo-gate.js';

export interface GardoOptions {
  mode?: 'gardo' | 'grpo';
  /** Reward components ranked as the auxiliary rewards ([]: every component of the reward vector). */
  auxiliaries?: string[];
  /** Initial share of gated samples (GARDO: 0.1), then adapted within [kappaMin, kappaMax]. */
  kappa?: number;
  kappaMin?: number;
  kappaMax?: number;
  /** How the gated rollouts' divergence weights are scaled. */
  normalize?: 'gated' | 'all';
  /** How tied rewards are ranked. */
  ties?: 'random' | 'mean';
}

const OPTIONS = {
  mode: {
    type: 'enum',
    values: ['gardo', 'grpo'],
    default: 'gardo',
    doc: "'gardo': centred rewards, no std division; 'grpo': divided by the group std + 1e-4 first",
  },
  auxiliaries: {
    type: 'array',
    default: [],
    doc: 'reward components (environment components or learned reward models) ranked as the auxiliary rewards of the uncertainty; [] = every component of the reward vector',
  },
  kappa: { type: 'number', default: 0.1, doc: 'initial share of the non-negative uncertainties that is gated (GARDO code: 0.1)' },
  kappaMin: { type: 'number', default: 0.02, doc: 'lower bound of the adapted share (GARDO code: 0.02)' },
  kappaMax: { type: 'number', default: 0.2, doc: 'upper bound of the adapted share (GARDO code: 0.2)' },
  normalize: {
    type: 'enum',
    values: ['gated', 'all'],
    default: 'gated',
    doc: "'gated': gated rollouts weigh 1/(gated share), so the penalty is the KL's mean over the gated samples as in GARDO's code; 'all': weight 1, the penalty's mean over all samples",
  },
  ties: {
    type: 'enum',
    values: ['random', 'mean'],
    default: 'random',
    doc: "tied rewards: 'random' ranks them in one seeded random order per step (the released code's sort order breaks ties); 'mean' gives them their mean rank, so a tied class is gated whole or not at all",
  },
} as const;

/** GARDO's RiskCompensator constants (released code): kappa moves 10% per step against a 20-step window. */
const KAPPA_RATE = 0.1;
const KAPPA_WINDOW = 20;

function trigrams(rollout: Rollout): Map<string, number> {
  const text = Array.from(` ${rollout.turns.map((t) => t.action).join('\n')} `);
  const counts = new Map<string, number>();
  for (let i = 0; i + 3 <= text.length; i++) {
    const key = text.slice(i, i + 3).join('');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

export function cosineDistance(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (const [k, v] of a) {
    na += v * v;
    dot += v * (b.get(k) ?? 0);
  }
  for (const v of b.values()) nb += v * v;
  if (na === 0 || nb === 0) return na === nb ? 0 : 1;
  return 1 - dot / Math.sqrt(na * nb);
}

/** m_i = d_i / mean(d) for rollouts at or above the group's mean reward, else 1. */
export function diversityMultipliers(distances: readonly number[], rewards: readonly number[]): number[] {
  const m = mean(rewards);
  const meanDistance = mean(distances);
  return rewards.map((r, i) => (r - m >= 0 && meanDistance > 0 ? (distances[i] as number) / meanDistance : 1));
}

/** Every rollout's reward on each auxiliary component, or a usage error naming a missing one. */
function auxiliaryRewards(rollouts: readonly Rollout[], names: readonly string[]): number[][] {
  const present = Object.keys(rollouts[0]?.reward ?? {});
  const chosen = names.length ? names : present;
  return chosen.map((name) =>
    rollouts.map((r) => {
      const value = r.reward[name];
      if (value === undefined)
        throw new UsageError(`gardo: auxiliary reward '${name}' is not a reward component; accepted: ${present.join(', ')}`);
      return value;
    }),
  );
}

export function gardo(options: GardoOptions = {}): AdvantageEstimator {
  const o = resolveOptions<Required<GardoOptions>>('gardo', OPTIONS, options as Record<string, unknown>);
  if (!(o.kappaMin > 0 && o.kappaMin <= o.kappa && o.kappa <= o.kappaMax && o.kappaMax <= 1))
    throw new RangeError(
      `gardo: options must satisfy 0 < kappaMin <= kappa <= kappaMax <= 1, got kappaMin ${o.kappaMin}, kappa ${o.kappa}, kappaMax ${o.kappaMax}`,
    );
  if (!o.auxiliaries.every((a) => typeof a === 'string'))
    throw new RangeError(`gardo: option 'auxiliaries' must list reward component names, got ${JSON.stringify(o.auxiliaries)}`);
  const kappa = riskCompensator({ initial: o.kappa, min: o.kappaMin, max: o.kappaMax, rate: KAPPA_RATE, window: KAPPA_WINDOW });
  let lastStep = -1;
  /** Each rollout's divergence weight: ranks over the whole step's batch, as GARDO ranks its gathered batch. */
  const gatedWeights = (groups: readonly (readonly Rollout[])[], ctx: EstimatorContext) => {
    if (ctx.step !== undefined) {
      if (ctx.step < lastStep) kappa.reset(); // a new run through the same instance
      lastStep = ctx.step;
    }
    const all = groups.flat();
    const tieRng = ctx.rng.split('gardo/ties');
    const tieOrder = o.ties === 'random' ? all.map(() => tieRng.next()) : undefined;
    const u = uncertainties(
      all.map((r) => ctx.scalar(r.reward)),
      auxiliaryRewards(all, o.auxiliaries),
      tieOrder,
    );
    const nonNegative = u.filter((x) => x >= 0);
    const share = kappa.update(nonNegative);
    const gated = gate(u, share);
    const count = gated.reduce((a, b) => a + b, 0);
    const scale = o.normalize === 'gated' && count > 0 ? all.length / count : 1;
    let k = 0;
    const weights = groups.map((group) => group.map(() => (gated[k++] as number) * scale));
    return {
      weights,
      diagnostics: {
        gatedFraction: all.length ? count / all.length : 0,
        kappa: share,
        meanUncertainty: nonNegative.length ? mean(nonNegative) : 0,
      },
    };
  };
  return defineEstimator({
    name: 'gardo',
    summary:
      'GARDO: above-mean rollouts amplified by their distance to the nearest other rollout of the group (diversity); the KL penalty only on rollouts whose reward is uncertain',
    paper: { title: 'GARDO: Reinforcing Diffusion Models without Reward Hacking', arxiv: '2512.24138', year: 2025 },
    options: OPTIONS,
    resolved: o,
    math: '$d_i = \\min_{j \\ne i}(1 - \\cos(e_i, e_j))$, $m_i = d_i/\\bar d$ if $r_i \\ge \\bar r$ else 1, $A_i = (r_i - \\bar r)\\, m_i$; the divergence penalty of rollout $i$ weighted by the gate $g_i = 1[u_i > P_{1-\\kappa}(\\{u_j : u_j \\ge 0\\})]$, $u_i = \\mathrm{rank}_{proxy}(i) - \\frac1K \\sum_k \\mathrm{rank}_k(i)$ over the step (rank 1 = best)',
    unverified: [
      'Embeddings are character-trigram counts of the actions (a text stand-in for DINOv3 image features).',
      "The auxiliary rewards: GARDO ranks its proxy reward against other image reward models (Aesthetic, ImageReward); here they are the run's other reward signals, each reward component (environment components and learned reward models' scores) ranked alone against the weighted scalar reward.",
      'The sign of u follows the released code (u > 0 when the proxy ranks a sample below the auxiliaries); the paper text was not checked.',
      "Ties (frequent with verifier rewards) are broken in a seeded random order by default, where the released code's sort order breaks them; `ties: 'mean'` is our alternative, under which a verifier's tied classes are usually all ungated.",
      "kappa's adaptation state is not saved in checkpoints: a resumed run restarts it at its initial value.",
    ],
    configure: (next) => gardo({ ...o, ...next }),
    compute(groups, ctx) {
      const rewards = scalarRewards('gardo', groups, ctx);
      const rollout = rewards.map((r, g) => {
        const embeddings = (groups[g] ?? []).map(trigrams);
        const distances = embeddings.map((e, i) =>
          Math.min(...embeddings.map((f, j) => (i === j ? Number.POSITIVE_INFINITY : cosineDistance(e, f)))),
        );
        const multipliers = diversityMultipliers(distances, r);
        const m = mean(r);
        const s = std(r, 'sample');
        return r.map((v, i) => {
          const centred = o.mode === 'grpo' ? (s === 0 ? 0 : (v - m) / (s + 1e-4)) : v - m;
          return centred * (multipliers[i] as number);
        });
      });
      const gated = gatedWeights(groups, ctx);
      return { rollout, weights: ones(groups), divergenceWeights: gated.weights, diagnostics: gated.diagnostics };
    },
  });
}
