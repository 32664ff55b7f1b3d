/**
 * The learning side of "Scaling of Search and Learning: A Roadmap to Reproduce o1 from
 * Reinforcement Learning Perspective" (Zeng et al., arXiv 2412.14135) as one estimator: policy
 * gradient on a search's traces with an outcome reward and a process reward. The outcome part is
 * GRPO's z-score of the environment's reward over a task's traces; the process part is reward
 * shaping by a process value model, each step's tokens getting alpha (V(s_k) - V(s_{k-1})) (the
 * potential's change across the step, V(s_0) = 0), so the process rewards of a trace telescope to
 * alpha V of its last step. The search (the `rest-mcts` sampler) records each trace's steps and
 * the value model's V at each; other samplers give no steps and are refused.
 */
import { type AdvantageEstimator, defineEstimator, resolveOptions, UsageError } from '@policy-lab/core';
import { zScores } from '../group-math.js';

export interface O1RecipeOptions {
  processWeight?: number;
}

const OPTIONS = {
  processWeight: {
    type: 'number',
    default: 1,
    doc: "weight alpha of the process reward V(s_k) - V(s_{k-1}) added to each step's tokens (0: outcome only, GRPO over the traces)",
  },
} as const;

interface TraceStep {
  end: number;
  value: number;
}

/** Per token of one action: the outcome advantage plus alpha times its step's change of V. */
export function stepAdvantages(outcome: number, steps: readonly TraceStep[], tokens: number, alpha: number): number[] {
  const out = new Array<number>(tokens).fill(outcome);
  let start = 0;
  let previous = 0;
  for (const step of steps) {
    const end = Math.min(step.end, tokens);
    for (let t = start; t < end; t++) out[t] = outcome + alpha * (step.value - previous);
    previous = step.value;
    start = end;
  }
  return out;
}

export function o1Recipe(options: O1RecipeOptions = {}): AdvantageEstimator {
  const o = resolveOptions<Required<O1RecipeOptions>>('o1-recipe', OPTIONS, options as Record<string, unknown>);
  if (!Number.isFinite(o.processWeight))
    throw new RangeError(`o1-recipe: processWeight must be a finite number, got ${o.processWeight}`);
  return defineEstimator({
    name: 'o1-recipe',
    summary:
      "the o1 roadmap's learning from search: per-token advantages of a search's traces, GRPO's outcome z-score plus alpha x the process value model's change across each step",
    paper: {
      title: 'Scaling of Search and Learning: A Roadmap to Reproduce o1 from Reinforcement Learning Perspective',
      arxiv: '2412.14135',
      year: 2024,
    },
    options: OPTIONS,
    resolved: o,
    math: '$A_{i,t} = \\frac{r_i - \\bar r}{\\sigma_r} + \\alpha\\,(V_\\phi(s_{k(t)}) - V_\\phi(s_{k(t)-1}))$, $V_\\phi(s_0) = 0$, $t$ in step $k(t)$',
    unverified: [
      "adaptation: adapted. The roadmap surveys its four parts without one prescribed algorithm; the combination here (GRPO's outcome normalisation, potential-based shaping by the process value model with gamma 1, PPO-clip on the search's traces) is our instance of its reward-shaping and policy-gradient options.",
    ],
    configure: (next) => o1Recipe({ ...o, ...next }),
    compute(groups, ctx) {
      const rollout = groups.map((group) =>
        zScores(
          group.map((r) => ctx.scalar(r.reward)),
          'sample',
          1e-4,
        ),
      );
      let processSum = 0;
      let processAbs = 0;
      let stepCount = 0;
      const tokens = groups.map((group, g) =>
        group.map((r, i) => {
          const steps = (r.meta?.restMcts as { steps?: TraceStep[] } | undefined)?.steps;
          if (!steps)
            throw new UsageError(
              "estimator 'o1-recipe' reads each trace's steps and process values from a tree search: run it with --set sampler=rest-mcts (and --set rewardModels=restmcts-value)",
            );
          let previous = 0;
          for (const step of steps) {
            processSum += step.value - previous;
            processAbs += Math.abs(step.value - previous);
            previous = step.value;
            stepCount += 1;
          }
          const outcome = rollout[g]?.[i] as number;
          return r.turns.map((turn, t) =>
            t === 0
              ? stepAdvantages(outcome, steps, turn.actionTokens.length, o.processWeight)
              : turn.actionTokens.map(() => outcome),
          );
        }),
      );
      return {
        rollout,
        tokens,
        weights: groups.map((group) => group.map(() => 1)),
        diagnostics: {
          processRewardMean: processSum / Math.max(1, stepCount),
          processRewardAbsMean: processAbs / Math.max(1, stepCount),
          stepsPerTrace: stepCount / Math.max(1, groups.flat().length),
        },
      };
    },
  });
}
