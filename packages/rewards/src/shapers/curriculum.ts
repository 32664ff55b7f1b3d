/**
 * Curriculum by pass rate: each group's rewards are scaled by how close the group's pass rate
 * is to a target difficulty, w(p) = exp(-(p - target)^2 / (2 width^2)), so the updates focus on
 * tasks the policy solves sometimes. Stateless (the current group's rate), hence deterministic
 * and resumable.
 */
import { defineShaper, type RewardShaper, resolveOptions } from '@policy-lab/core';
import { byGroup, reshaped } from './common.js';

export interface CurriculumOptions {
  target?: number;
  width?: number;
}

const OPTIONS = {
  target: { type: 'number', default: 0.5, doc: 'the pass rate that gets full weight' },
  width: { type: 'number', default: 0.25, doc: 'how fast the weight falls away from the target' },
} as const;

export function curriculumWeight(passRate: number, target: number, width: number): number {
  return Math.exp(-((passRate - target) ** 2) / (2 * width * width));
}

export function curriculum(options: CurriculumOptions = {}): RewardShaper {
  const o = resolveOptions<Required<CurriculumOptions>>('curriculum', OPTIONS, options as Record<string, unknown>);
  if (!(o.width > 0)) throw new RangeError(`curriculum: option 'width' must be > 0, got ${o.width}`);
  return defineShaper({
    name: 'curriculum',
    summary: "Curriculum by pass rate: scales each group's rewards by how close its pass rate is to a target difficulty",
    options: OPTIONS,
    resolved: o,
    math: "$r_i \\leftarrow w(p_g)\\, r_i$, $w(p) = e^{-(p - p^*)^2 / 2\\sigma^2}$, $p_g$ = the group's success rate",
    unverified: [
      'Our instantiation of "curriculum by pass rate"; VSPO-style prompt replacement is the trainer\'s dynamic sampling.',
    ],
    configure: (next) => curriculum({ ...o, ...next }),
    shape(rollouts) {
      const out = [...rollouts];
      for (const members of byGroup(rollouts)) {
        const rate = members.filter((k) => rollouts[k]?.success).length / members.length;
        const w = curriculumWeight(rate, o.target, o.width);
        for (const k of members) {
          const r = rollouts[k] as (typeof rollouts)[number];
          out[k] = reshaped(r, Object.fromEntries(Object.entries(r.reward).map(([name, v]) => [name, v * w])));
        }
      }
      return out;
    },
  });
}
