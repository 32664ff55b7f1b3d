import { type AdvantageEstimator, defineEstimator, type Rollout, resolveOptions, UsageError } from '@policy-lab/core';
import { mean } from '../group-math.js';
import { checkGroupSize, ones } from '../groups.js';
import { groupIdOf, requireServices, scalarOf } from './shared.js';

export interface PavOptions {
  /** Weight of the prover's advantage. */
  alpha?: number;
  /** K of the Best-of-K prover. */
  k?: number;
  /** Extra Monte Carlo rollouts per group for the value estimates (charged, not trained). */
  extra?: number;
  /** What a rollout's outcome value is: success (0/1) or the scalar reward (must lie in [0, 1]). */
  value?: 'success' | 'reward';
}

const OPTIONS = {
  alpha: {
    type: 'number',
    default: 0.5,
    doc: 'weight of the prover advantage A^mu (the paper sweeps it; 0.5 here)',
  },
  k: { type: 'integer', default: 4, doc: 'K of the Best-of-K prover, V^mu = 1 - (1 - V^pi)^K' },
  extra: {
    type: 'integer',
    default: 4,
    doc: 'extra Monte Carlo rollouts per group for the value estimates (charged to the budget, never trained)',
  },
  value: {
    type: 'enum',
    values: ['success', 'reward'],
    default: 'success',
    doc: "outcome used for the values: 'success' (0/1) or the scalar reward (must lie in [0, 1])",
  },
} as const;

/** The value of a state under Best-of-K of a policy whose success probability there is v. */
export function bestOfKValue(v: number, k: number): number {
  return 1 - (1 - v) ** k;
}

/** A^mu(s, a) = V^mu(s') - V^mu(s) for a Best-of-K prover (deterministic transitions). */
export function proverAdvantage(v: number, vNext: number, k: number): number {
  return bestOfKValue(vNext, k) - bestOfKValue(v, k);
}

/** Identifies the state before turn h: the environment's state key, else the actions taken so far. */
function stateKey(rollout: Rollout, h: number): string {
  const key = rollout.turns[h]?.stateKey;
  if (key !== undefined) return `key:${key}`;
  return `actions:${JSON.stringify(rollout.turns.slice(0, h).map((t) => t.action))}`;
}

/**
 * PAV: process rewards as progress under a prover policy mu distinct from
 * pi. Per turn h, A_{i,h} = A^pi_i + alpha A^mu(s_h, a_h), with A^pi_i = r_i - mean(r) the outcome
 * advantage and A^mu = V^mu(s_{h+1}) - V^mu(s_h) under a Best-of-K prover. V^pi(s) is the Monte
 * Carlo success rate of the rollouts (the group and `extra` more, drawn through the services)
 * that pass through s; a terminal state's value is the rollout's own outcome.
 */
export function pav(options: PavOptions = {}): AdvantageEstimator {
  const resolved = resolveOptions<Required<PavOptions>>('pav', OPTIONS, options as Record<string, unknown>);
  if (resolved.k < 1) throw new RangeError(`pav: option 'k' must be >= 1, got ${resolved.k}`);
  if (resolved.extra < 0) throw new RangeError(`pav: option 'extra' must be >= 0, got ${resolved.extra}`);
  if (!Number.isFinite(resolved.alpha) || resolved.alpha < 0)
    throw new RangeError(`pav: option 'alpha' must be a finite number >= 0, got ${resolved.alpha}`);
  return defineEstimator({
    name: 'pav',
    summary:
      'PAV: outcome advantage plus alpha times the progress of each turn under a Best-of-K prover, from Monte Carlo values',
    paper: {
      title: 'Rewarding Progress: Scaling Automated Process Verifiers for LLM Reasoning',
      arxiv: '2410.08146',
      year: 2024,
    },
    options: OPTIONS,
    resolved,
    needsModel: true,
    unverified: [
      "alpha and K are not fixed by the paper (it sweeps them); defaults 0.5 and 4 are our choice within the paper's sweep",
      'the services cannot restart an episode from a prefix: V^pi(s) is the success rate of the group and extra rollouts that reach s (by state key, else by identical action history), not of rollouts started at s; a state reached by one rollout gets that rollout outcome',
      "A^pi is the group-centred outcome (r - mean r) broadcast to every turn; the paper's exact RL advantage combination was read only in summaries",
      'Q^pi(s_h, a_h) = V^pi(s_{h+1}) assumes deterministic transitions',
    ],
    math: `$A_{i,h} = (r_i - \\bar r) + ${resolved.alpha}\\,[V^\\mu(s_{h+1}) - V^\\mu(s_h)]$, $V^\\mu = 1 - (1 - \\hat V^\\pi)^{${resolved.k}}$, $\\hat V^\\pi(s)$ = success rate of the group and ${resolved.extra} extra rollouts through $s$`,
    configure: (next) => pav({ ...resolved, ...next }),
    async compute(groups, ctx) {
      const needsExtra = resolved.alpha > 0 && resolved.extra > 0;
      const services = resolved.alpha > 0 ? requireServices('pav', ctx) : undefined;
      const rollout: number[][] = [];
      const turns: number[][][] = [];
      for (const [g, group] of groups.entries()) {
        checkGroupSize('pav', group, g);
        const rewards = group.map((r, i) => scalarOf('pav', r, ctx, g, i));
        const centre = mean(rewards);
        const outcomeAdvantages = rewards.map((r) => r - centre);
        if (resolved.alpha === 0) {
          rollout.push(outcomeAdvantages);
          turns.push(group.map((r, i) => r.turns.map(() => outcomeAdvantages[i] as number)));
          continue;
        }
        const extra = needsExtra
          ? await (services as NonNullable<typeof services>).rollouts({
              groupId: groupIdOf('pav', group, g),
              count: resolved.extra,
            })
          : [];
        if (extra.length !== (needsExtra ? resolved.extra : 0))
          throw new UsageError(`pav: asked for ${resolved.extra} extra rollouts of group ${g}, got ${extra.length}`);
        const outcome = (r: Rollout, i: number, where: string) => {
          if (resolved.value === 'success') return r.success ? 1 : 0;
          const v = scalarOf('pav', r, ctx, g, i);
          if (!(v >= 0 && v <= 1))
            throw new UsageError(
              `pav: ${where} (${r.id}) has reward ${v} outside [0, 1]; use value 'success' or rescale the reward`,
            );
          return v;
        };
        const outcomes = group.map((r, i) => outcome(r, i, `group ${g}, rollout ${i}`));
        const extraOutcomes = extra.map((r, i) => outcome(r, i, `group ${g}, extra rollout ${i}`));
        // Monte Carlo values: every state a rollout passes through (before each of its turns)
        const totals = new Map<string, { sum: number; count: number }>();
        [...group, ...extra].forEach((r, i) => {
          const o = (i < group.length ? outcomes[i] : extraOutcomes[i - group.length]) as number;
          const seen = new Set<string>();
          for (let h = 0; h < Math.max(1, r.turns.length); h++) seen.add(stateKey(r, h));
          for (const key of seen) {
            const entry = totals.get(key) ?? { sum: 0, count: 0 };
            entry.sum += o;
            entry.count += 1;
            totals.set(key, entry);
          }
        });
        const stateValue = (key: string) => {
          const entry = totals.get(key) as { sum: number; count: number };
          return entry.sum / entry.count;
        };
        const proverOf = (v: number) => bestOfKValue(v, resolved.k);
        rollout.push(
          group.map(
            (r, i) =>
              (outcomeAdvantages[i] as number) +
              resolved.alpha * (proverOf(outcomes[i] as number) - proverOf(stateValue(stateKey(r, 0)))),
          ),
        );
        turns.push(
          group.map((r, i) =>
            r.turns.map((_, h) => {
              const here = stateValue(stateKey(r, h));
              const next = h + 1 < r.turns.length ? stateValue(stateKey(r, h + 1)) : (outcomes[i] as number);
              return (outcomeAdvantages[i] as number) + resolved.alpha * proverAdvantage(here, next, resolved.k);
            }),
          ),
        );
      }
      return { rollout, turns, weights: ones(groups) };
    },
  });
}
