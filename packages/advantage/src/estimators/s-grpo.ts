/**
 * S-GRPO (serial-group decaying reward): a group is one reasoning path and its
 * early exits, earliest first. A correct exit earns 1 / 2^(N_right - 1), N_right counting the
 * correct exits up to it; the advantage is the reward minus the serial group's mean. The
 * `serial-exits` sampler builds such groups and records each exit's position in
 * `meta.serialExit`; the exits are ordered by it. Groups without it are read in index order.
 */
import { type AdvantageEstimator, defineEstimator, type Rollout, resolveOptions } from '@policy-lab/core';
import { mean, std } from '../group-math.js';
import { checkGroupSize, ones } from '../groups.js';

export interface SGrpoOptions {
  decay?: 'n-right' | 'index';
  scale?: 'none' | 'std';
  eps?: number;
}

const OPTIONS = {
  decay: {
    type: 'enum',
    values: ['n-right', 'index'],
    default: 'n-right',
    doc: "'n-right': 1/2^(correct exits so far - 1) (our reading of the paper); 'index': 1/2^position (a third-party port)",
  },
  scale: { type: 'enum', values: ['none', 'std'], default: 'none', doc: 'divide by the serial group std + eps [unverified]' },
  eps: { type: 'number', default: 1e-4, doc: 'added to the std when scale is std' },
} as const;

/** Decaying rewards of a serial group, exits in order. */
export function decayingRewards(correct: readonly boolean[], decay: 'n-right' | 'index'): number[] {
  let right = 0;
  return correct.map((ok, position) => {
    if (!ok) return 0;
    right += 1;
    return decay === 'n-right' ? 1 / 2 ** (right - 1) : 1 / 2 ** position;
  });
}

/** Indices of a serial group's rollouts, earliest exit first; undefined when any lacks `meta.serialExit`. */
export function exitOrder(group: readonly Rollout[]): number[] | undefined {
  const at = group.map((r) => r.meta?.serialExit);
  if (!at.every((x): x is number => typeof x === 'number')) return undefined;
  return at.map((_, i) => i).sort((a, b) => (at[a] as number) - (at[b] as number) || a - b);
}

export function sGrpo(options: SGrpoOptions = {}): AdvantageEstimator {
  const o = resolveOptions<Required<SGrpoOptions>>('s-grpo', OPTIONS, options as Record<string, unknown>);
  return defineEstimator({
    name: 's-grpo',
    summary: 'S-GRPO: serial-group decaying reward, the earliest correct exit of a reasoning path earns the most',
    paper: { title: 'S-GRPO: Early Exit via Reinforcement Learning in Reasoning Models', arxiv: '2505.07686', year: 2025 },
    options: OPTIONS,
    resolved: o,
    math: '$r_j = \\mathbb 1[\\text{exit } j \\text{ correct}]\\,/\\,2^{N_{right}(j) - 1}$, $A_j = r_j - \\operatorname{mean}(r)$',
    unverified: [
      'The exact decay indexing (both readings offered) and whether the std divides (an option) are not confirmed.',
      'Serial groups come from the `serial-exits` sampler (the s-grpo method names it), exits ordered by `meta.serialExit`; a group without exit positions (another sampler, or `bench advantages`) is read in index order as the exits, earliest first. Correctness = rollout.success.',
    ],
    configure: (next) => sGrpo({ ...o, ...next }),
    compute(groups) {
      let serial = 0;
      const rollout = groups.map((group, g) => {
        const order = exitOrder(group);
        // A path too short to cut is a serial group of one: no exit to compare with, no signal.
        if (!order) checkGroupSize('s-grpo', group, g);
        else serial += 1;
        const byExit = order ?? group.map((_, i) => i);
        const decayed = decayingRewards(
          byExit.map((i) => (group[i] as (typeof group)[number]).success),
          o.decay,
        );
        const r = new Array<number>(group.length);
        byExit.forEach((i, k) => {
          r[i] = decayed[k] as number;
        });
        const m = mean(r);
        const s = o.scale === 'std' ? std(r, 'sample') : 0;
        return r.map((v) => (o.scale === 'std' ? (s === 0 ? 0 : (v - m) / (s + o.eps)) : v - m));
      });
      return { rollout, weights: ones(groups), diagnostics: { serialGroups: groups.length ? serial / groups.length : 0 } };
    },
  });
}
