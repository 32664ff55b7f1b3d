import { type AdvantageEstimator, defineEstimator, resolveOptions } from '@policy-lab/core';
import { lowerMedian, medianPivot, zScores } from '../group-math.js';
import { scalarRewards } from '../groups.js';

export interface McGrpoOptions {
  /** 'mad' divides by the median absolute deviation + madEps (the released code); 'none' only centres; 'std' divides by the sample std + madEps. */
  scale?: 'mad' | 'none' | 'std';
  madEps?: number;
  /** GSM trainer only: multiply non-zero advantages by (G+1) / #non-zero. */
  rescaleNonZero?: boolean;
}

const OPTIONS = {
  scale: {
    type: 'enum',
    values: ['mad', 'none', 'std'],
    default: 'mad',
    doc: "'mad' (released code), 'none' (median centring only, the paper's core), 'std'",
  },
  madEps: { type: 'number', default: 1e-3, doc: 'added to the MAD (or std) before dividing (released code: 1e-3)' },
  rescaleNonZero: {
    type: 'boolean',
    default: false,
    doc: 'multiply non-zero advantages by (G+1)/#non-zero (GSM trainer only, not in the paper)',
  },
} as const;

const PAPER = {
  title: 'MC-GRPO: Median-Centered Group Relative Policy Optimization for Small-Rollout Reinforcement Learning',
  arxiv: '2601.22582',
  year: 2026,
};

/** The diagnostic MC-GRPO returns each step: the fraction of groups whose MAD is 0 (trainer metric `estimator.madZeroGroupFraction`). */
export const MAD_ZERO_GROUP_FRACTION = 'madZeroGroupFraction';

/** Above this fraction, most groups are divided by madEps alone under scale=mad. */
export const MAD_ZERO_WARNING_FRACTION = 0.5;

/**
 * One warning line when more than half of the groups had MAD = 0, else undefined. Reads the
 * diagnostic under its own name or under the trainer's `estimator.` prefix (the compare
 * report's per-method means).
 */
export function madZeroWarning(method: string, diagnostics: Readonly<Record<string, number>>): string | undefined {
  const fraction = diagnostics[`estimator.${MAD_ZERO_GROUP_FRACTION}`] ?? diagnostics[MAD_ZERO_GROUP_FRACTION];
  if (fraction === undefined || !(fraction > MAD_ZERO_WARNING_FRACTION)) return undefined;
  return (
    `warning: ${method}: the MAD was 0 in ${(100 * fraction).toFixed(0)}% of groups (more than ${100 * MAD_ZERO_WARNING_FRACTION}%); ` +
    'with scale=mad those advantages are (r - median) / madEps, +-1000 for binary rewards at madEps=1e-3, which swamps the KL and entropy terms ' +
    '(--set estimatorOptions.scale=none centres only)'
  );
}

/**
 * MC-GRPO: G+1 rollouts, the group median as baseline; the pivot (the rollout that is the
 * median) gets weight 0, so G rollouts are trained as in G-rollout GRPO.
 */
export function mcGrpo(options: McGrpoOptions = {}): AdvantageEstimator {
  const resolved = resolveOptions<Required<McGrpoOptions>>('mc-grpo', OPTIONS, options as Record<string, unknown>);
  if (resolved.madEps < 0) throw new RangeError(`mc-grpo: option 'madEps' must be >= 0, got ${resolved.madEps}`);
  return defineEstimator({
    name: 'mc-grpo',
    summary: 'Median-centred GRPO: G+1 rollouts, median baseline, the median rollout excluded from the loss',
    paper: PAPER,
    options: OPTIONS,
    resolved,
    unverified: [
      'the MAD scaling and the non-zero rescale come from the released code (README), not the abstract',
      'with binary rewards and odd G+1 the MAD is always 0, so scale=mad divides by madEps (advantages of about +-1000)',
    ],
    math: `$A_i = \\dfrac{r_i - \\operatorname{median}(r)}{${resolved.scale === 'none' ? '1' : resolved.scale === 'mad' ? `\\operatorname{MAD}(r) + ${resolved.madEps}` : `\\operatorname{std}(r) + ${resolved.madEps}`}}$ over $G+1$ rollouts; the pivot (position $\\lfloor G/2 \\rfloor$ of a stable sort) has weight 0`,
    configure: (next) => mcGrpo({ ...resolved, ...next }),
    diagnosticsDoc: {
      [MAD_ZERO_GROUP_FRACTION]: `fraction of the step's groups whose MAD is 0 (scale=mad; 0 otherwise); above ${MAD_ZERO_WARNING_FRACTION}, madZeroWarning() gives the warning line`,
    },
    rolloutsPerGroup: (g) => g + 1,
    compute(groups, ctx) {
      const rewards = scalarRewards('mc-grpo', groups, ctx, 3);
      const rollout: number[][] = [];
      const weights: number[][] = [];
      let madZeroGroups = 0;
      for (const r of rewards) {
        const pivot = medianPivot(r);
        const deviations = r.map((v) => v - pivot.value);
        let divisor = 1;
        if (resolved.scale === 'mad') {
          const mad = lowerMedian(deviations.map(Math.abs));
          if (mad === 0) madZeroGroups += 1;
          divisor = mad + resolved.madEps;
        } else if (resolved.scale === 'std') {
          const spread = stdSample(r);
          divisor = spread > 0 ? spread + resolved.madEps : 1;
        }
        let advantages = deviations.map((d) => (divisor === 0 ? 0 : d / divisor));
        if (resolved.rescaleNonZero) {
          const nonZero = advantages.filter((a) => Math.abs(a) > 1e-6).length;
          if (nonZero > 0) advantages = advantages.map((a) => (Math.abs(a) > 1e-6 ? (a * r.length) / nonZero : a));
        }
        advantages[pivot.index] = 0;
        rollout.push(advantages);
        weights.push(r.map((_, i) => (i === pivot.index ? 0 : 1)));
      }
      return { rollout, weights, diagnostics: { [MAD_ZERO_GROUP_FRACTION]: madZeroGroups / Math.max(1, rewards.length) } };
    },
  });
}

function stdSample(values: readonly number[]): number {
  const m = values.reduce((a, b) => a + b, 0) / values.length;
  return Math.sqrt(values.reduce((a, v) => a + (v - m) * (v - m), 0) / (values.length - 1));
}

/**
 * The fair control for MC-GRPO: the same G+1 rollouts, GRPO's mean/std
 * advantages, and the rollout with the smallest |reward| excluded, so G are trained.
 */
export function grpoPlusOne(options: { std?: 'sample' | 'population'; eps?: number } = {}): AdvantageEstimator {
  const specs = {
    std: { type: 'enum', values: ['sample', 'population'], default: 'sample', doc: 'standard deviation kind' },
    eps: { type: 'number', default: 1e-4, doc: 'added to the std' },
  } as const;
  const resolved = resolveOptions<{ std: 'sample' | 'population'; eps: number }>(
    'grpo-plus-one',
    specs,
    options as Record<string, unknown>,
  );
  return defineEstimator({
    name: 'grpo-plus-one',
    summary: "MC-GRPO's fair control: GRPO on the same G+1 rollouts, dropping the one with the smallest |reward|",
    paper: PAPER,
    options: specs,
    resolved,
    math: '$A_i = (r_i - \\operatorname{mean}(r)) / (\\operatorname{std}(r) + \\epsilon)$ over $G+1$ rollouts; weight 0 for $\\arg\\min_i |r_i|$ (first on ties)',
    configure: (next) => grpoPlusOne({ ...resolved, ...next }),
    rolloutsPerGroup: (g) => g + 1,
    compute(groups, ctx) {
      const rewards = scalarRewards('grpo-plus-one', groups, ctx, 3);
      const rollout = rewards.map((r) => zScores(r, resolved.std, resolved.eps));
      const weights = rewards.map((r) => {
        let dropped = 0;
        r.forEach((v, i) => {
          if (Math.abs(v) < Math.abs(r[dropped] as number)) dropped = i;
        });
        return r.map((_, i) => (i === dropped ? 0 : 1));
      });
      return { rollout, weights };
    },
  });
}
