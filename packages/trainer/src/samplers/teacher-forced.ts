/**
 * The teacher-forced sampler (VA-pi, arXiv 2512.19680): each action token is drawn given the
 * prompt and the expert's reference action before that position, from one teacher-forced pass
 * per task (loop/teacher-forced.ts runs it). Training reads the same contexts, so the
 * importance ratio compares like with like; evaluation still decodes freely.
 */
import { defineSampler, type Sampler } from '@policy-lab/core';

export const VA_PI_PAPER = {
  title: 'VA-π: Variational Policy Alignment for Pixel-Aware Autoregressive Generation',
  arxiv: '2512.19680',
  year: 2025,
} as const;

export function teacherForced(): Sampler {
  return defineSampler({
    name: 'teacher-forced',
    summary:
      "teacher-forced sampling: every action token drawn given the prompt and the expert's reference action before it (single-turn environments with an expert)",
    paper: VA_PI_PAPER,
    strategy: 'teacher-forced',
    behaviour: 'proposal',
    matches: 'Lil-Shake/VA-Pi train_c2i_grpo.py: tf_logits then sample_one_sequence_from_tf (no top-k/top-p, temperature 1)',
    math: '$y^{(i)}_j \\sim \\pi_\\theta(\\cdot \\mid x, y^*_{<j})^{1/\\tau}$ independently for $i = 1..G$, $j = 1..|y^*|$; the action text is the detokenised $y^{(i)}$ up to its first stop token',
    unverified: [
      "adaptation: adapted. The reference output is the environment's expert action (demonstrate), not a ground-truth image's tokens.",
      "VA-pi's optional noisy teacher-forcing inputs (uniform token replacement of y* with some probability) are not built: the policy always reads the clean reference.",
      'Multi-turn environments are refused: the expert trajectory stops being the state the policy is in after its first differing action.',
    ],
  });
}
