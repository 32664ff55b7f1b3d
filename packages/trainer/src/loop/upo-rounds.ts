/**
 * UPO's self-evolution rounds (Wang et al., arXiv 2409.11212): iterative preference optimisation
 * in R rounds (the released scripts run three iteration stages), each anchored at the policy the
 * previous round ended with. A round here is an equal share of the run's budget; when a step
 * crosses a round boundary the reference becomes the current policy, so the next round's DPO
 * measures its implicit rewards against the last round's policy.
 */
import { defineHook, resolveOptions, type StepHook } from '@policy-lab/core';

const OPTIONS = {
  rounds: { type: 'integer', default: 3, doc: "self-evolution rounds, each an equal share of the budget (UPO's scripts: 3)" },
} as const;

export interface UpoRoundsOptions {
  rounds?: number;
}

/** The round a budget fraction falls in, 0-based, the last round closed at 1. */
export function roundOf(progress: number, rounds: number): number {
  return Math.min(rounds - 1, Math.floor(progress * rounds + 1e-9));
}

export function upoRounds(options: UpoRoundsOptions = {}): StepHook {
  const resolved = resolveOptions<Required<UpoRoundsOptions>>('upo-rounds', OPTIONS, options as Record<string, unknown>);
  if (!(Number.isInteger(resolved.rounds) && resolved.rounds >= 1))
    throw new RangeError(`upo-rounds: rounds must be an integer >= 1, got ${resolved.rounds}`);
  // The round at the step's start: a step that ends in a later round closes the earlier one.
  let roundAtStart = 0;
  return defineHook({
    name: 'upo-rounds',
    summary: "UPO's self-evolution rounds: the reference becomes the current policy at each of R equal shares of the budget",
    paper: {
      title: 'Self-Evolutionary Large Language Models through Uncertainty-Enhanced Preference Optimization',
      arxiv: '2409.11212',
      year: 2024,
    },
    unverified: [
      'adaptation: adapted. UPO generates a whole round of pairs with the round-start policy, then trains DPO on them; here every step samples with the current policy (online, as the dpo Method), and a round boundary moves the reference to the current policy.',
    ],
    options: OPTIONS,
    resolved,
    needs: { reference: true },
    math: '$\\pi_{ref} \\leftarrow \\pi_\\theta$ after the step at which the budget fraction crosses $k/R$, $k = 1..R-1$',
    onStepStart(ctx) {
      roundAtStart = roundOf(ctx.progress ?? 0, resolved.rounds);
    },
    async onStepEnd(ctx) {
      if (roundOf(ctx.progress ?? 0, resolved.rounds) > roundAtStart) await ctx.resetReference();
    },
    configure: (next) => upoRounds({ ...resolved, ...next }),
  });
}
