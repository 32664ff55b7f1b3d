/**
 * PAV's search side (Setlur et al., "Rewarding Progress: Scaling Automated Process Verifiers for
 * LLM Reasoning", arXiv 2410.08146): beam search over steps, each candidate step scored by the
 * process advantage verifier. The trainer runs the search (loop/step-beam.ts).
 */
import { defineSampler, resolveOptions, type Sampler } from '@policy-lab/core';

export interface PavBeamOptions {
  width?: number;
  expand?: number;
  verifier?: string;
  alpha?: number;
}

const OPTIONS = {
  width: { type: 'integer', default: 4, doc: 'partial episodes kept per task (raised to the group size when smaller)' },
  expand: {
    type: 'integer',
    default: 2,
    doc: 'candidate next steps each kept episode proposes: its most likely distinct actions (1: the greedy action)',
  },
  verifier: { type: 'string', default: 'pav-verifier', doc: "the run's reward model that scores a step, Q(s, a)" },
  alpha: {
    type: 'number',
    default: 1,
    doc: "weight of the step's progress Q(s, a) - Q(parent step) added to Q in the ranking",
  },
} as const;

export function pavBeam(options: PavBeamOptions = {}): Sampler {
  const resolved = resolveOptions<Required<PavBeamOptions>>('pav-beam', OPTIONS, options as Record<string, unknown>);
  if (!(resolved.width >= 1)) throw new RangeError(`pav-beam: width must be an integer >= 1, got ${resolved.width}`);
  if (!(resolved.expand >= 1)) throw new RangeError(`pav-beam: expand must be an integer >= 1, got ${resolved.expand}`);
  if (!(Number.isFinite(resolved.alpha) && resolved.alpha >= 0))
    throw new RangeError(`pav-beam: alpha must be a finite number >= 0, got ${resolved.alpha}`);
  return defineSampler({
    name: 'pav-beam',
    summary:
      'beam search over steps: each kept episode proposes its most likely next actions, a process verifier scores them, the best `width` go on',
    paper: {
      title: 'Rewarding Progress: Scaling Automated Process Verifiers for LLM Reasoning',
      arxiv: '2410.08146',
      year: 2024,
    },
    options: OPTIONS,
    resolved,
    strategy: 'step-beam',
    width: resolved.width,
    expand: resolved.expand,
    verifier: resolved.verifier,
    alpha: resolved.alpha,
    behaviour: 'policy',
    unverified: [
      "adaptation: adapted. The paper samples candidate steps at temperature from each beam; ours proposes each beam's most likely distinct actions (token-level beam search), so that the search is deterministic and width 1 with expand 1 is greedy decoding step for step",
      'the paper ranks candidates by Q^pi + alpha A^mu from separate models; we have one verifier of Q^mu, so the ranking is Q_psi + alpha (Q_psi - Q_psi of the parent step)',
      'a step is a turn of a multi-turn environment; candidates are played in copies of the episode (a snapshot restored, else the actions replayed), which assumes deterministic transitions',
    ],
    math: '$\\text{keep top-}w \\text{ of } \\{Q_\\psi(s_h, a) + \\alpha\\,[Q_\\psi(s_h, a) - Q_\\psi(s_{h-1}, a_{h-1})]\\}$ over the top-$e$ actions $a$ of each kept episode',
    configure: (next) => pavBeam({ ...resolved, ...next }),
  });
}
