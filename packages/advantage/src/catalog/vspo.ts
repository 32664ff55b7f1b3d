/**
 * VSPO (arXiv 2512.07478): GRPO, but groups without learning value are replaced.
 * A group is kept when its rewards differ and its task's value V(p) = p (1 - p) (1 - p) (an
 * uncertainty term times a difficulty term, p the task's recent success rate) reaches
 * `minValue`. The trainer charges the discarded rollouts and draws other tasks, as for DAPO.
 */
import { type AdvantageEstimator, defineEstimator, type EstimatorContext, type Rollout, resolveOptions } from '@policy-lab/core';
import { mean, zScores } from '../group-math.js';
import { ones, scalarRewards } from '../groups.js';

export interface VspoOptions {
  std?: 'sample' | 'population';
  eps?: number;
  /** Groups whose task value is below this are replaced. */
  minValue?: number;
  /** How many recent groups of a task estimate its success rate (the current one included). */
  window?: number;
}

const OPTIONS = {
  std: {
    type: 'enum',
    values: ['sample', 'population'],
    default: 'sample',
    doc: "standard deviation of GRPO's z-score: 'sample' (Bessel) or 'population'",
  },
  eps: { type: 'number', default: 1e-4, doc: 'added to the group std (TRL: 1e-4)' },
  minValue: {
    type: 'number',
    default: 0.01,
    doc: 'keep a group only when its task value p(1-p)^2 is at least this (max 4/27 at p = 1/3) [unverified]',
  },
  window: { type: 'integer', default: 4, doc: "recent groups of a task that estimate its success rate p (this step's included)" },
} as const;

/** Our proposal: uncertainty p(1-p) times difficulty (1-p). */
export function taskValue(successRate: number): number {
  return successRate * (1 - successRate) * (1 - successRate);
}

export function vspo(options: VspoOptions = {}): AdvantageEstimator {
  const o = resolveOptions<Required<VspoOptions>>('vspo', OPTIONS, options as Record<string, unknown>);
  if (o.eps < 0) throw new RangeError(`vspo: option 'eps' must be >= 0, got ${o.eps}`);
  if (o.window < 1) throw new RangeError(`vspo: option 'window' must be >= 1, got ${o.window}`);
  if (o.minValue < 0) throw new RangeError(`vspo: option 'minValue' must be >= 0, got ${o.minValue}`);
  // Success rates of each task's recent groups, oldest first; reset when the step counter goes back (a new run).
  const history = new Map<string, number[]>();
  let lastStep = -1;
  const observe = (ctx: EstimatorContext) => {
    if (ctx.step !== undefined) {
      if (ctx.step < lastStep) history.clear();
      lastStep = ctx.step;
    }
  };
  const successRate = (group: readonly Rollout[]) => mean(group.map((r) => (r.success ? 1 : 0)));
  const estimate = (group: readonly Rollout[]) => {
    const recent = [...(history.get(group[0]?.taskId ?? '') ?? []), successRate(group)].slice(-o.window);
    return mean(recent);
  };
  return defineEstimator({
    name: 'vspo',
    summary: 'VSPO: GRPO whose zero-signal and low task-value groups are replaced by other tasks (charged)',
    paper: {
      title: 'Enhancing Agentic RL with Progressive Reward Shaping and Value-based Sampling Policy Optimization',
      arxiv: '2512.07478',
      year: 2025,
    },
    options: OPTIONS,
    resolved: o,
    math: `$A_i$ = GRPO's z-score; a group is kept iff $\\operatorname{std}(r) > 0$ and $\\hat p(1-\\hat p)^2 \\ge ${o.minValue}$, $\\hat p$ = mean success of the task's last ${o.window} groups`,
    unverified: [
      "The task-value metric: the paper's exact form is not available; we use our own proposal p(1-p)(1-p) (uncertainty times difficulty) with p the task's recent success rate, and minValue 0.01 is our default.",
      'Replacement tasks are drawn by the trainer at random, not chosen by task value (the sampler has no priority hook).',
      "The value-smoothing clipping of gradient updates is not implemented (its form is unknown); use a policy loss's clipping.",
    ],
    configure: (next) => vspo({ ...o, ...next }),
    keepGroup(group, ctx) {
      observe(ctx);
      const rewards = group.map((r) => ctx.scalar(r.reward));
      if (!rewards.some((r) => r !== rewards[0])) return false;
      return taskValue(estimate(group)) >= o.minValue;
    },
    compute(groups, ctx) {
      observe(ctx);
      const rewards = scalarRewards('vspo', groups, ctx);
      const rollout = rewards.map((r) => zScores(r, o.std, o.eps));
      const values = groups.map((group) => taskValue(estimate(group)));
      for (const group of groups) {
        const task = group[0]?.taskId ?? '';
        history.set(task, [...(history.get(task) ?? []), successRate(group)].slice(-o.window));
      }
      return { rollout, weights: ones(groups), diagnostics: { meanTaskValue: values.length ? mean(values) : 0 } };
    },
  });
}
