/**
 * GARDO's diversity-aware advantage: above-mean rollouts are amplified by how
 * far they are from their nearest neighbour in the group, relative to the group's mean distance.
 * Text stand-in for the image embeddings: character trigram counts of the actions, cosine distance.
 */
import { type AdvantageEstimator, defineEstimator, type Rollout, resolveOptions } from '@policy-lab/core';
import { mean, std } from '../group-math.js';
import { ones, scalarRewards } from '../groups.js';

export interface GardoOptions {
  mode?: 'gardo' | 'grpo';
}

const OPTIONS = {
  mode: {
    type: 'enum',
    values: ['gardo', 'grpo'],
    default: 'gardo',
    doc: "'gardo': centred rewards, no std division; 'grpo': divided by the group std + 1e-4 first",
  },
} as const;

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

export function gardo(options: GardoOptions = {}): AdvantageEstimator {
  const o = resolveOptions<Required<GardoOptions>>('gardo', OPTIONS, options as Record<string, unknown>);
  return defineEstimator({
    name: 'gardo',
    summary: 'GARDO: above-mean rollouts amplified by their distance to the nearest other rollout of the group (diversity)',
    paper: { title: 'GARDO: Reinforcing Diffusion Models without Reward Hacking', arxiv: '2512.24138', year: 2025 },
    options: OPTIONS,
    resolved: o,
    math: '$d_i = \\min_{j \\ne i}(1 - \\cos(e_i, e_j))$, $m_i = d_i/\\bar d$ if $r_i \\ge \\bar r$ else 1, $A_i = (r_i - \\bar r)\\, m_i$',
    unverified: [
      'Embeddings are character-trigram counts of the actions (a text stand-in for DINOv3 image features).',
      "GARDO's gated KL and adaptive reference reset are not part of this estimator (they need a per-rollout KL gate in the trainer).",
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
      return { rollout, weights: ones(groups) };
    },
  });
}
