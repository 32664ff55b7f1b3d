/**
 * Potential-based reward shaping (Ng, Harada, Russell 1999): F = gamma Phi(s') - Phi(s) added
 * to every turn's reward, Phi(terminal) = 0. It leaves the optimal policy unchanged, and the
 * episode's total shaping telescopes to -Phi(s_0) (gamma = 1), the same for every rollout of a
 * group: outcome-level advantages do not move; step-level ones (GiGPO, SRGPO) gain a dense signal.
 *
 * `potential` takes Phi from a table or function of the turn's stateKey; `progress-potential`
 * (Robo-Dopamine's policy-invariant shaping) estimates Phi as a progress model: the success
 * rate, within the batch, of the rollouts that visited the state.
 */
import { defineShaper, type RewardShaper, type Rollout, resolveOptions } from '@policy-lab/core';
import { reshaped } from './common.js';

export function shapingTerm(phi: number, phiNext: number, gamma: number): number {
  return gamma * phiNext - phi;
}

export type Potential = (stateKey: string | undefined, rollout: Rollout, turn: number) => number;

/** Adds F_t per turn (component `shaping`) and their sum to the episode reward. */
export function applyPotential(rollouts: readonly Rollout[], phi: Potential, gamma: number): Rollout[] {
  return rollouts.map((r) => {
    const values = r.turns.map((t, k) => phi(t.stateKey, r, k));
    const terms = r.turns.map((_, k) =>
      shapingTerm(values[k] as number, k + 1 < values.length ? (values[k + 1] as number) : 0, gamma),
    );
    return reshaped(
      r,
      { ...r.reward, shaping: terms.reduce((a, b) => a + b, 0) },
      r.turns.map((t, k) => ({ ...t.reward, shaping: terms[k] as number })),
    );
  });
}

export interface PotentialOptions {
  /** Phi per stateKey (states not listed: `fallback`), or a function of (stateKey, rollout, turn). */
  potential?: Readonly<Record<string, number>> | Potential;
  fallback?: number;
  gamma?: number;
}

const POTENTIAL_OPTIONS = {
  potential: {
    type: 'object',
    default: {},
    doc: 'Phi by stateKey (or, from code, a function of the state key, rollout and turn)',
  },
  fallback: { type: 'number', default: 0, doc: 'Phi of a state the table does not list' },
  gamma: { type: 'number', default: 1, doc: "discount in F = gamma Phi(s') - Phi(s); use the estimator's" },
} as const;

export function potential(options: PotentialOptions = {}): RewardShaper {
  const o = resolveOptions<Required<PotentialOptions>>('potential', POTENTIAL_OPTIONS, options as Record<string, unknown>);
  const phi: Potential =
    typeof o.potential === 'function'
      ? o.potential
      : (key) =>
          key !== undefined && key in (o.potential as Record<string, number>)
            ? ((o.potential as Record<string, number>)[key] as number)
            : o.fallback;
  return defineShaper({
    name: 'potential',
    summary: "Potential-based shaping F = gamma Phi(s') - Phi(s) per turn: a dense signal that keeps the optimal policy",
    paper: { title: 'Policy invariance under reward transformations: Theory and application to reward shaping', year: 1999 },
    options: POTENTIAL_OPTIONS,
    resolved: o,
    adds: [{ name: 'shaping', weight: 1 }],
    math: "$r'_t = r_t + \\gamma\\Phi(s_{t+1}) - \\Phi(s_t)$, $\\Phi(\\text{terminal}) = 0$; episode: $\\sum_t F_t = -\\Phi(s_0)$ for $\\gamma = 1$",
    configure: (next) => potential({ ...o, ...next }),
    shape: (rollouts) => applyPotential(rollouts, phi, o.gamma),
  });
}

/** Robo-Dopamine's hop between potentials: progress or regress relative to what was left. */
export function hop(phiBefore: number, phiAfter: number): number {
  if (phiAfter >= phiBefore) return phiBefore >= 1 ? 0 : (phiAfter - phiBefore) / (1 - phiBefore);
  return phiBefore <= 0 ? 0 : (phiAfter - phiBefore) / phiBefore;
}

/** The potential after a hop from `phiBefore` (the inverse of `hop`). */
export function applyHop(phiBefore: number, h: number): number {
  return h >= 0 ? phiBefore + h * (1 - phiBefore) : phiBefore + h * phiBefore;
}

export interface ProgressPotentialOptions {
  gamma?: number;
  /** Visits a state needs before its estimate is used (else Phi = 0). */
  minVisits?: number;
}

const PROGRESS_OPTIONS = {
  gamma: { type: 'number', default: 1, doc: "discount in F; use the estimator's" },
  minVisits: { type: 'integer', default: 2, doc: 'rollouts that must visit a state before its progress estimate counts' },
} as const;

export function progressPotential(options: ProgressPotentialOptions = {}): RewardShaper {
  const o = resolveOptions<Required<ProgressPotentialOptions>>(
    'progress-potential',
    PROGRESS_OPTIONS,
    options as Record<string, unknown>,
  );
  return defineShaper({
    name: 'progress-potential',
    summary: "Robo-Dopamine's policy-invariant shaping: a progress estimate used as a potential, never as the reward itself",
    paper: {
      title: 'Robo-Dopamine: General Process Reward Modeling for High-Precision Robotic Manipulation',
      arxiv: '2512.23703',
      year: 2025,
    },
    options: PROGRESS_OPTIONS,
    resolved: o,
    adds: [{ name: 'shaping', weight: 1 }],
    math: "$\\Phi(s) = \\hat P(\\text{success} \\mid s)$ over the batch's rollouts through $s$; $r'_t = r_t + \\gamma\\Phi(s_{t+1}) - \\Phi(s_t)$",
    unverified: [
      "The paper's progress model (GRM, hop-trained on multi-view video) has no text analogue here: Phi is the batch's empirical success rate from each stateKey, our stand-in.",
      'Using progress as the reward itself (the "semantic trap" the paper avoids) is not offered.',
    ],
    configure: (next) => progressPotential({ ...o, ...next }),
    shape(rollouts) {
      const visits = new Map<string, { n: number; wins: number }>();
      for (const r of rollouts) {
        for (const key of new Set(r.turns.map((t) => t.stateKey).filter((k): k is string => k !== undefined))) {
          const v = visits.get(key) ?? { n: 0, wins: 0 };
          v.n += 1;
          v.wins += r.success ? 1 : 0;
          visits.set(key, v);
        }
      }
      const phi: Potential = (key) => {
        const v = key === undefined ? undefined : visits.get(key);
        return v && v.n >= o.minVisits ? v.wins / v.n : 0;
      };
      return applyPotential(rollouts, phi, o.gamma);
    },
  });
}
