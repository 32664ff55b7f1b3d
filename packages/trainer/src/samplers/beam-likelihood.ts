/**
 * Likelihood beam search as a decoder of a DPO-trained policy (Rafailov et al., "From r to Q*:
 * Your Language Model is Secretly a Q-Function", arXiv 2404.12358). In the token-level MDP the
 * KL-regularised optimum satisfies beta log pi*(a|s)/pi_ref(a|s) = Q*(s, a) - V*(s), so the
 * sum of beta log pi over an answer is its implicit reward plus beta log pi_ref of the answer
 * (less V*(s_0), a per-prompt constant): searching for the most likely answers of the DPO
 * policy searches, up to that reference term, for the answers of highest implicit reward. The
 * paper reports beam search improving over greedy decoding of a DPO policy at small widths.
 *
 * The search is the trainer's beam strategy (scores: summed policy log-probabilities; width 1 is
 * greedy decoding). This sampler decodes evaluation: training rollouts stay the policy's plain
 * samples (the pairs a preference loss learns from), and evaluation's sampled success is the
 * mean over each test task's best `evalSamples` distinct beams.
 */
import { defineSampler, resolveOptions, type Sampler, UsageError } from '@policy-lab/core';

const OPTIONS = {
  width: { type: 'integer', default: 4, doc: 'hypotheses kept per context (raised to the number of answers asked when smaller)' },
} as const;

export function beamLikelihood(options: { width?: number } = {}): Sampler {
  const resolved = resolveOptions<{ width: number }>('beam-likelihood', OPTIONS, options);
  if (!(Number.isInteger(resolved.width) && resolved.width >= 1))
    throw new UsageError(`beam-likelihood: width must be an integer >= 1, got ${resolved.width}`);
  return defineSampler({
    name: 'beam-likelihood',
    summary:
      'likelihood beam search on the policy (From r to Q*: on a DPO policy, a search over the implicit reward); decodes evaluation, training rollouts stay plain samples',
    paper: { title: 'From r to Q*: Your Language Model is Secretly a Q-Function', arxiv: '2404.12358', year: 2024 },
    options: OPTIONS,
    resolved,
    strategy: 'beam',
    width: resolved.width,
    behaviour: 'policy',
    decodes: 'evaluation',
    math: '$\\sum_t \\log \\pi_\\theta(y_t \\mid s_t) = \\tfrac{1}{\\beta} \\sum_t r_t + \\sum_t \\log \\pi_{ref}(y_t \\mid s_t)$, $r_t = \\beta \\log \\tfrac{\\pi_\\theta}{\\pi_{ref}}(y_t \\mid s_t) = Q^*(s_t, y_t) - V^*(s_t)$; beam search keeps the best $\\max(w, G)$ prefixes by the left side; width 1 is greedy decoding',
    unverified: [
      "adaptation: direct. The paper's search is beam search on the DPO policy's likelihood; its scores include the reference's log-likelihood beside the implicit reward (the equivalence is up to that term), as here.",
      "Evaluation's sampled success is the mean over each test task's best evalSamples distinct beams (the beam of width max(width, evalSamples)); pass@k is over those beams; greedy success stays greedy decoding (beam width 1).",
    ],
    configure: (next) => beamLikelihood({ ...resolved, ...(next as { width?: number }) }),
  });
}
