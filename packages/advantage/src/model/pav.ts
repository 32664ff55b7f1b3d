/**
 * PAV (Setlur et al., "Rewarding Progress: Scaling Automated Process Verifiers for LLM
 * Reasoning", arXiv 2410.08146): the process reward of a step is its progress, the change in a
 * prover policy mu's probability of success from before the step to after it,
 * A^mu(s_h, a_h) = Q^mu(s_h, a_h) - V^mu(s_h). The prover is Best-of-K of a policy (the current one
 * or the frozen start), V^BoK = 1 - (1 - V)^K. Its values are Monte Carlo estimates from episodes
 * restarted at the rollouts' step prefixes (charged), and a process advantage verifier (a
 * pointwise reward model of the run) learns Q^mu from them; the RL advantage of step h is the
 * outcome advantage plus alpha times the verifier's predicted progress.
 */
import {
  type AdvantageEstimator,
  defineEstimator,
  type EstimatorContext,
  type RewardModelHandle,
  type Rollout,
  resolveOptions,
  type ScoredText,
  UsageError,
} from '@policy-lab/core';
import { mean } from '../group-math.js';
import { checkGroupSize, ones } from '../groups.js';
import { groupIdOf, requireServices, scalarOf } from './shared.js';

export interface PavOptions {
  /** Weight of the prover's advantage. */
  alpha?: number;
  /** K of the Best-of-K prover. */
  k?: number;
  /** Monte Carlo episodes restarted at each sampled prefix. */
  mc?: number;
  /** Step prefixes sampled per rollout for Monte Carlo values (0: every one). */
  prefixes?: number;
  /** Share of each group's rollouts whose prefixes are restarted (at least one rollout a group). */
  share?: number;
  /** Whose Best-of-K is the prover: the current policy or the frozen start (the run's reference). */
  prover?: 'current' | 'reference';
  /** Where each step's progress comes from: the trained verifier's prediction, or the Monte Carlo estimates themselves. */
  progress?: 'verifier' | 'monte-carlo';
  /** The run's reward model that serves as the verifier. */
  verifier?: string;
  /** What a rollout's outcome value is: success (0/1) or the scalar reward (must lie in [0, 1]). */
  value?: 'success' | 'reward';
}

const OPTIONS = {
  alpha: {
    type: 'number',
    default: 0.5,
    doc: 'weight of the prover advantage A^mu (the paper sweeps it; 0.5 here)',
  },
  k: { type: 'integer', default: 4, doc: 'K of the Best-of-K prover, V^mu = 1 - (1 - V)^K' },
  mc: {
    type: 'integer',
    default: 4,
    doc: 'Monte Carlo episodes restarted at each sampled step prefix (charged to the budget, never trained)',
  },
  share: {
    type: 'number',
    default: 0.25,
    doc: "share of each group's rollouts whose step prefixes are restarted, drawn uniformly (at least one a group; progress 'monte-carlo' restarts every one)",
  },
  prefixes: {
    type: 'integer',
    default: 1,
    doc: "step prefixes per rollout whose values are estimated by restarts (drawn uniformly; 0: every one; progress 'monte-carlo' uses every one)",
  },
  prover: {
    type: 'enum',
    values: ['current', 'reference'],
    default: 'current',
    doc: "the policy whose Best-of-K is the prover: the current policy, or the frozen start ('reference': the run keeps it as its reference policy)",
  },
  progress: {
    type: 'enum',
    values: ['verifier', 'monte-carlo'],
    default: 'verifier',
    doc: "each step's progress: the verifier's prediction Q_psi(s_h, a_h) - Q_psi(s_{h-1}, a_{h-1}), or the Monte Carlo V^mu(s_{h+1}) - V^mu(s_h)",
  },
  verifier: { type: 'string', default: 'pav-verifier', doc: "the run's reward model trained to predict Q^mu" },
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

/**
 * What the verifier reads for Q^mu(s_h, a_h): the state as the observation of turn h (the
 * environments PAV fits show their whole state in each observation) and the step's action.
 * Step -1 is the start state with no action yet: its target is V^mu(s_0).
 */
export function verifierText(rollout: Rollout, h: number): ScoredText {
  if (h < 0) return { context: rollout.turns[0]?.observation ?? '', text: '' };
  const turn = rollout.turns[h];
  if (!turn) throw new RangeError(`pav: rollout ${rollout.id} has no turn ${h}`);
  return { context: turn.observation, text: turn.action };
}

/** Step h's progress from the verifier's scores q[-1..T-1] (q[0] is the start state's): q[h+1] - q[h]. */
export function progressFromScores(scores: readonly number[]): number[] {
  return scores.slice(1).map((q, h) => q - (scores[h] as number));
}

/** `count` distinct integers of 1..n-1 drawn uniformly (all of them when count is 0 or covers them), ascending. */
function drawPrefixes(n: number, count: number, rng: EstimatorContext['rng']): number[] {
  const all = Array.from({ length: Math.max(0, n - 1) }, (_, i) => i + 1);
  if (count === 0 || count >= all.length) return all;
  for (let i = 0; i < count; i++) {
    const j = rng.int(i, all.length - 1);
    [all[i], all[j]] = [all[j] as number, all[i] as number];
  }
  return all.slice(0, count).sort((a, b) => a - b);
}

/** The rollouts of a group of n whose prefixes are restarted: round(share x n) of them (at least one), drawn uniformly. */
function chosenRollouts(n: number, share: number, rng: EstimatorContext['rng']): Set<number> {
  const count = Math.min(n, Math.max(1, Math.round(share * n)));
  const order = [...Array(n).keys()];
  for (let i = 0; i < count; i++) {
    const j = rng.int(i, n - 1);
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  return new Set(order.slice(0, count));
}

export function pav(options: PavOptions = {}): AdvantageEstimator {
  const resolved = resolveOptions<Required<PavOptions>>('pav', OPTIONS, options as Record<string, unknown>);
  if (resolved.k < 1) throw new RangeError(`pav: option 'k' must be >= 1, got ${resolved.k}`);
  if (resolved.mc < 1) throw new RangeError(`pav: option 'mc' must be >= 1, got ${resolved.mc}`);
  if (!(resolved.share > 0 && resolved.share <= 1))
    throw new RangeError(`pav: option 'share' must be in (0, 1], got ${resolved.share}`);
  if (resolved.prefixes < 0) throw new RangeError(`pav: option 'prefixes' must be >= 0, got ${resolved.prefixes}`);
  if (!Number.isFinite(resolved.alpha) || resolved.alpha < 0)
    throw new RangeError(`pav: option 'alpha' must be a finite number >= 0, got ${resolved.alpha}`);
  const useVerifier = resolved.progress === 'verifier';
  return defineEstimator({
    name: 'pav',
    summary:
      "PAV: outcome advantage plus alpha times each step's progress under a Best-of-K prover, learnt by a verifier from Monte Carlo restarts at step prefixes",
    paper: {
      title: 'Rewarding Progress: Scaling Automated Process Verifiers for LLM Reasoning',
      arxiv: '2410.08146',
      year: 2024,
    },
    options: OPTIONS,
    resolved,
    needsModel: true,
    // A frozen prover is the run's reference policy: keep one even without a divergence.
    needsReference: resolved.prover === 'reference',
    requires: { multiTurn: true },
    unverified: [
      'adaptation: direct (the mechanism as the paper states it, on our small policies and environments)',
      "alpha and K are not fixed by the paper (it sweeps them); defaults 0.5 and 4 are our choice within the paper's sweep",
      'a step is a turn of a multi-turn environment (the paper segments a solution into reasoning steps by lines)',
      "the verifier is trained to predict Q^mu of (state, step), progress being the difference of consecutive predictions; the paper's exact parameterisation of the PAV (Q^mu vs. A^mu as the regression target) was read only in summaries",
      "the verifier trains online on the current step's Monte Carlo targets (after scoring them), not offline on a fixed dataset of base-policy rollouts as in the paper",
      'A^pi is the group-centred scalar reward (r - mean r) broadcast to every turn',
      'Q^mu(s_h, a_h) = V^mu(s_{h+1}) assumes deterministic transitions (the restart replays the recorded actions and refuses an episode that does not reproduce)',
    ],
    math: `$A_{i,h} = (r_i - \\bar r) + ${resolved.alpha}\\,\\hat A^\\mu_{i,h}$, $\\hat A^\\mu_{i,h} = Q_\\psi(s_h, a_h) - Q_\\psi(s_{h-1}, a_{h-1})$, $Q_\\psi$ regressed on $V^\\mu(s_{h+1}) = 1 - (1 - \\hat V(s_{h+1}))^{${resolved.k}}$, $\\hat V(s)$ the success rate of ${resolved.mc} episodes restarted at $s$`,
    configure: (next) => pav({ ...resolved, ...next }),
    async compute(groups, ctx) {
      const rollout: number[][] = [];
      const turns: number[][][] = [];
      let prefixEpisodes = 0;
      let statesEstimated = 0;
      let verifierLoss = Number.NaN;
      const points: (ScoredText & { target: number })[] = [];
      const services = resolved.alpha > 0 ? requireServices('pav', ctx) : undefined;
      const verifier: RewardModelHandle | undefined =
        resolved.alpha > 0 && useVerifier ? ctx.rewardModels?.[resolved.verifier] : undefined;
      if (resolved.alpha > 0 && useVerifier && !verifier)
        throw new UsageError(
          `pav: the run has no reward model '${resolved.verifier}' to serve as the verifier (it has: ${Object.keys(ctx.rewardModels ?? {}).join(', ') || 'none'}); add it with --set rewardModels=${resolved.verifier}, or use --set estimatorOptions.progress=monte-carlo`,
        );
      if (services && !services.prefixRollouts)
        throw new UsageError(
          "pav needs the trainer's prefix rollouts (ctx.services.prefixRollouts) to restart episodes at step prefixes",
        );
      const progressOf: number[][][] = [];
      for (const [g, group] of groups.entries()) {
        checkGroupSize('pav', group, g);
        const rewards = group.map((r, i) => scalarOf('pav', r, ctx, g, i));
        const centre = mean(rewards);
        const outcomeAdvantages = rewards.map((r) => r - centre);
        if (!services) {
          rollout.push(outcomeAdvantages);
          turns.push(group.map((r, i) => r.turns.map(() => outcomeAdvantages[i] as number)));
          progressOf.push([]);
          continue;
        }
        const outcome = (r: Rollout, where: string) => {
          if (resolved.value === 'success') return r.success ? 1 : 0;
          const v = ctx.scalar(r.reward);
          if (!(v >= 0 && v <= 1))
            throw new UsageError(
              `pav: ${where} (${r.id}) has reward ${v} outside [0, 1]; use value 'success' or rescale the reward`,
            );
          return v;
        };
        const outcomes = group.map((r, i) => outcome(r, `group ${g}, rollout ${i}`));
        // V(s_0): the group's own rollouts start there under the current policy; a frozen prover restarts from the task.
        let startValue = mean(outcomes);
        if (resolved.prover === 'reference') {
          const fresh = await services.rollouts({ groupId: groupIdOf('pav', group, g), count: resolved.mc, policy: 'reference' });
          prefixEpisodes += fresh.length;
          startValue = mean(fresh.map((r, i) => outcome(r, `group ${g}, start rollout ${i}`)));
        }
        const bok = (v: number) => bestOfKValue(v, resolved.k);
        const estimated: Map<number, number>[] = [];
        const restarted = useVerifier
          ? chosenRollouts(group.length, resolved.share, ctx.rng.split(`pav/group/${groupIdOf('pav', group, g)}`))
          : new Set(group.keys());
        for (const [i, r] of group.entries()) {
          const values = new Map<number, number>([[0, startValue]]);
          const count = useVerifier ? resolved.prefixes : 0;
          const cuts = restarted.has(i) ? drawPrefixes(r.turns.length, count, ctx.rng.split(`pav/${r.id}`)) : [];
          for (const t of cuts) {
            const restarts = await (services.prefixRollouts as NonNullable<typeof services.prefixRollouts>)({
              rollout: r,
              turns: t,
              count: resolved.mc,
              policy: resolved.prover,
            });
            if (restarts.length !== resolved.mc)
              throw new UsageError(`pav: asked for ${resolved.mc} restarts of ${r.id} at step ${t}, got ${restarts.length}`);
            prefixEpisodes += restarts.length;
            statesEstimated++;
            values.set(t, mean(restarts.map((x, j) => outcome(x, `restart ${j} of ${r.id} at step ${t}`))));
          }
          estimated.push(values);
          // Regression targets for Q_psi: the start state, each estimated state, and the end (its own outcome).
          if (i === 0) points.push({ ...verifierText(r, -1), target: bok(startValue) });
          for (const [t, v] of values) if (t > 0) points.push({ ...verifierText(r, t - 1), target: bok(v) });
          points.push({ ...verifierText(r, r.turns.length - 1), target: outcomes[i] as number });
        }
        let progress: number[][];
        if (verifier) {
          // Scored before it trains on this step's targets: no step is judged by a model that learnt its own outcome.
          const texts = group.flatMap((r) => [verifierText(r, -1), ...r.turns.map((_, h) => verifierText(r, h))]);
          const scores = await verifier.score(texts);
          if (scores.length !== texts.length)
            throw new UsageError(`pav: the verifier returned ${scores.length} scores for ${texts.length} texts`);
          let next = 0;
          progress = group.map((r) => {
            const row = scores.slice(next, next + r.turns.length + 1);
            next += r.turns.length + 1;
            return progressFromScores(row);
          });
        } else {
          progress = group.map((r, i) =>
            r.turns.map((_, h) => {
              const values = estimated[i] as Map<number, number>;
              const here = bok(values.get(h) as number);
              const after = h + 1 < r.turns.length ? bok(values.get(h + 1) as number) : (outcomes[i] as number);
              return after - here;
            }),
          );
        }
        progressOf.push(progress);
        rollout.push(group.map((_, i) => (outcomeAdvantages[i] as number) + resolved.alpha * sum(progress[i] as number[])));
        turns.push(
          group.map((r, i) =>
            r.turns.map((_, h) => (outcomeAdvantages[i] as number) + resolved.alpha * (progress[i]?.[h] as number)),
          ),
        );
      }
      if (verifier && points.length) verifierLoss = (await verifier.train({ points })).loss;
      const steps = progressOf.flat(2);
      return {
        rollout,
        turns,
        weights: ones(groups),
        ...(services
          ? {
              diagnostics: {
                prefixEpisodes,
                statesEstimated,
                progressMean: steps.length ? mean(steps) : 0,
                ...(verifier ? { verifierLoss, verifierPoints: points.length } : {}),
              },
            }
          : {}),
      };
    },
  });
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
