/**
 * Dense implicit-reward advantages (Rafailov et al., "From r to Q*: Your Language Model is
 * Secretly a Q-Function", arXiv 2404.12358). In the token-level MDP a DPO-trained policy pi_dpo
 * with reference pi_ref has per-token implicit rewards r_t = beta log pi_dpo(y_t|s_t) /
 * pi_ref(y_t|s_t) = Q*(s_t, y_t) - V*(s_t); summed over an answer they telescope to its
 * sequence implicit reward (less V*(s_0), a per-prompt constant). Here a finished DPO run
 * (`--set teacher=<run folder>`) gives those per-token rewards to a second RL stage: each
 * rollout's turn gets the sum of its tokens' rewards, the return from a turn on is the
 * environment's outcome reward plus `coef` x the implicit rewards from that turn to the end,
 * and the advantage is that return against the group's whole-episode returns (GRPO's
 * normalisation). The reference is the frozen starting policy (the DPO run's own reference when
 * both start from the same SFT warm start).
 */
import { type AdvantageEstimator, defineEstimator, resolveOptions, UsageError } from '@policy-lab/core';
import { mean, std } from '../group-math.js';
import { ones, scalarRewards } from '../groups.js';
import { contextText, requireServices } from '../model/shared.js';

export interface DpoImplicitDenseOptions {
  beta?: number;
  coef?: number;
  eps?: number;
}

const OPTIONS = {
  beta: { type: 'number', default: 0.1, doc: "the DPO run's beta: r_t = beta log(pi_dpo / pi_ref) per token" },
  coef: { type: 'number', default: 1, doc: 'weight of the implicit rewards beside the outcome reward (0: GRPO)' },
  eps: { type: 'number', default: 1e-4, doc: 'added to the group std before dividing' },
} as const;

/** Per-turn implicit rewards: beta x the sum over the turn's tokens of (log pi_dpo - log pi_ref). */
export function turnImplicitRewards(dpo: readonly number[], reference: readonly number[], beta: number): number {
  if (dpo.length !== reference.length)
    throw new UsageError(`dpo-implicit-dense: ${dpo.length} teacher log-probs against ${reference.length} reference log-probs`);
  let sum = 0;
  for (let k = 0; k < dpo.length; k++) sum += beta * ((dpo[k] as number) - (reference[k] as number));
  return sum;
}

/**
 * Per rollout, per turn: outcome + coef x (implicit rewards from that turn on), normalised by the
 * mean and std of the group's whole-episode returns (turn 0).
 */
export function denseAdvantages(
  outcomes: readonly number[],
  implicit: readonly (readonly number[])[],
  coef: number,
  eps: number,
): number[][] {
  const returns = implicit.map((turns, i) => {
    const out = new Array<number>(turns.length).fill(0);
    let toGo = 0;
    for (let t = turns.length - 1; t >= 0; t--) {
      toGo += turns[t] as number;
      out[t] = (outcomes[i] as number) + coef * toGo;
    }
    return out.length ? out : [outcomes[i] as number];
  });
  const whole = returns.map((r) => r[0] as number);
  const m = mean(whole);
  const s = std(whole, 'sample');
  return returns.map((r) => r.map((v) => (s === 0 ? 0 : (v - m) / (s + eps))));
}

export function dpoImplicitDense(options: DpoImplicitDenseOptions = {}): AdvantageEstimator {
  const resolved = resolveOptions<Required<DpoImplicitDenseOptions>>(
    'dpo-implicit-dense',
    OPTIONS,
    options as Record<string, unknown>,
  );
  if (!(resolved.beta > 0)) throw new UsageError(`dpo-implicit-dense: beta must be > 0, got ${resolved.beta}`);
  if (!(resolved.coef >= 0)) throw new UsageError(`dpo-implicit-dense: coef must be >= 0, got ${resolved.coef}`);
  return defineEstimator({
    name: 'dpo-implicit-dense',
    summary:
      "dense implicit rewards from a DPO run (--set teacher=<run folder>): each turn's beta log(pi_dpo/pi_ref) summed over its tokens, added to the outcome reward from that turn on, group-normalised",
    paper: { title: 'From r to Q*: Your Language Model is Secretly a Q-Function', arxiv: '2404.12358', year: 2024 },
    options: OPTIONS,
    resolved,
    needsModel: true,
    needsTeacher: true,
    math: "$\\rho_{i,t} = \\beta \\sum_{k \\in \\text{turn } t} \\log \\tfrac{\\pi_{dpo}(y_k \\mid s_k)}{\\pi_{ref}(y_k \\mid s_k)}$, $G_{i,t} = R_i + c \\sum_{t' \\ge t} \\rho_{i,t'}$, $A_{i,t} = \\dfrac{G_{i,t} - \\operatorname{mean}_j G_{j,0}}{\\operatorname{std}_j G_{j,0} + \\epsilon}$",
    unverified: [
      "adaptation: adapted. The paper derives the per-token implicit reward and shows its credit assignment; using a DPO checkpoint's implicit rewards as dense rewards of a second RL stage is its suggested use, not an experiment of the paper: the return-to-go and GRPO's group normalisation are this estimator's choices.",
      "The DPO policy is a finished run named with --set teacher; its reference is this run's frozen starting policy, which is the DPO run's own reference only when both share the SFT warm start (same environment, seed and SFT settings).",
      'Texts are scored as the model services read them (earlier observations and actions, then the observation, one per line), not with the separator tokens of the rollout itself.',
    ],
    configure: (next) => dpoImplicitDense({ ...resolved, ...(next as DpoImplicitDenseOptions) }),
    async compute(groups, ctx) {
      const services = requireServices('dpo-implicit-dense', ctx);
      const outcomes = scalarRewards('dpo-implicit-dense', groups, ctx);
      const requests = groups.flatMap((group) =>
        group.flatMap((rollout) =>
          rollout.turns.map((turn, t) => ({ context: contextText(rollout, t), continuation: turn.action })),
        ),
      );
      const dpo = requests.length ? await services.score(requests, 'teacher') : [];
      const reference = requests.length ? await services.score(requests, 'reference') : [];
      let next = 0;
      const implicit = groups.map((group) =>
        group.map((rollout) =>
          rollout.turns.map(() => {
            const k = next++;
            return turnImplicitRewards(dpo[k] ?? [], reference[k] ?? [], resolved.beta);
          }),
        ),
      );
      const turns = groups.map((_, g) =>
        denseAdvantages(outcomes[g] as number[], implicit[g] as number[][], resolved.coef, resolved.eps),
      );
      const all = implicit.flat(2);
      return {
        rollout: turns.map((group) => group.map((r) => r[0] as number)),
        turns,
        weights: ones(groups),
        diagnostics: { implicitRewardMean: all.length ? mean(all) : 0 },
      };
    },
  });
}
