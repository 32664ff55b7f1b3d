/**
 * The Policy Cliff probe (Xu et al. 2025, "The Policy Cliff: A Theoretical Analysis of
 * Reward-Policy Maps in Large Language Models", arXiv 2507.20150). When several actions are
 * optimal, the map from reward to optimal policy is discontinuous: a tiny reward change can
 * flip the learned behaviour. Entropy regularisation makes the map Lipschitz with a constant of
 * order 1 / tau (two actions: softmax(r / tau) moves by at most |delta(r1 - r2)| / (4 tau) in
 * total variation). The probe trains paired runs, the
 * same seed and everything else, under a reward and a slightly perturbed reward, and measures how
 * far the final behaviour moved, with and without an entropy bonus.
 */
import type { Environment } from '@policy-lab/core';

export const PERTURBATIONS = ['tie', 'scale'] as const;
export type Perturbation = (typeof PERTURBATIONS)[number];

/** The behaviour signature the tie-breaking bonus rewards: an arbitrary bit of the action text (a bit of its FNV-1a hash). */
export function styleBit(action: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < action.length; i++) h = Math.imul(h ^ action.charCodeAt(i), 0x01000193) >>> 0;
  // The low bit of FNV-1a is only the parity of the odd character codes; a middle bit mixes every character.
  return (h >>> 15) & 1;
}

/**
 * The environment with one more reward component, `style`: the style bit of the episode's first
 * action. Its weight is 0 by default (the reward is unchanged); `weights.style = epsilon` is a
 * tie-breaking bonus between otherwise equal answers. Its mean in an evaluation is the share of
 * answers in style 1, the behaviour the probe compares.
 */
export function withStyle<Task>(env: Environment<Task>, name = `styled-${env.name}`): Environment<Task> {
  const { configure } = env;
  return {
    ...env,
    name,
    summary: `${env.name} with a zero-weight style component (the policy-cliff probe's tie-breaker)`,
    rewardComponents: [...env.rewardComponents, { name: 'style', weight: 0 }],
    ...(configure ? { configure: (next: Readonly<Record<string, unknown>>) => withStyle(configure(next), name) } : {}),
    start(task, rng) {
      const episode = env.start(task, rng);
      let first: string | undefined;
      return {
        observation: () => episode.observation(),
        step(action) {
          const result = episode.step(action);
          const style = first === undefined ? styleBit(action) : 0;
          first ??= action;
          return { ...result, reward: { ...result.reward, style } };
        },
        outcome() {
          const outcome = episode.outcome();
          return { ...outcome, reward: { ...outcome.reward, style: first === undefined ? 0 : styleBit(first) } };
        },
      };
    },
  };
}

/** The weights of the perturbed run: every component scaled by 1 + epsilon, or the style bonus set to epsilon. */
export function perturbedWeights(
  components: readonly { name: string; weight: number }[],
  perturbation: Perturbation,
  epsilon: number,
  given: Readonly<Record<string, number>> = {},
): Record<string, number> {
  const weights = Object.fromEntries(components.map((c) => [c.name, given[c.name] ?? c.weight]));
  if (perturbation === 'tie') return { ...weights, style: (weights.style ?? 0) + epsilon };
  return Object.fromEntries(Object.entries(weights).map(([name, w]) => [name, w * (1 + epsilon)]));
}

export interface PairDistance {
  /** |success' - success|: the headline moved. */
  successShift: number;
  /** Mean over test tasks of |p'_i - p_i|: each task's success distribution, in total variation. */
  taskDistance: number;
  /** |style' - style|: the style distribution of the answers, in total variation. */
  styleShift: number;
}

export function pairDistance(
  base: { success: number; perTask: readonly number[]; style: number },
  perturbed: { success: number; perTask: readonly number[]; style: number },
): PairDistance {
  if (base.perTask.length !== perturbed.perTask.length)
    throw new RangeError(`policy-cliff: ${base.perTask.length} and ${perturbed.perTask.length} test tasks differ`);
  const n = Math.max(1, base.perTask.length);
  const taskDistance = base.perTask.reduce((sum, p, k) => sum + Math.abs(p - (perturbed.perTask[k] as number)), 0) / n;
  return {
    successShift: Math.abs(perturbed.success - base.success),
    taskDistance,
    styleShift: Math.abs(perturbed.style - base.style),
  };
}

/**
 * The entropy-regularised optimum softmax(r / tau) of a one-step problem (tau = 0: the argmax,
 * ties split evenly): the closed form behind the probe, and its test.
 */
export function regularisedPolicy(rewards: readonly number[], tau: number): number[] {
  const best = Math.max(...rewards);
  if (tau === 0) {
    const ties = rewards.filter((r) => r === best).length;
    return rewards.map((r) => (r === best ? 1 / ties : 0));
  }
  const weights = rewards.map((r) => Math.exp((r - best) / tau));
  const total = weights.reduce((a, b) => a + b, 0);
  return weights.map((w) => w / total);
}

export function totalVariation(p: readonly number[], q: readonly number[]): number {
  return p.reduce((sum, x, k) => sum + Math.abs(x - (q[k] ?? 0)), 0) / 2;
}
