/**
 * VeRPO's dense reward ([unverified] instantiation): per group, each unit test's
 * weight grows with its difficulty (1 - its pass rate in the group); the dense reward is the
 * weighted share of passed tests, added to the outcome as `verpo`.
 */
import { defineShaper, type RewardShaper, resolveOptions } from '@policy-lab/core';
import { byGroup, reshaped, TEST_PREFIX_OPTION, testComponents } from './common.js';

export interface VerpoOptions {
  testPrefix?: string;
  lambda?: number;
}

const OPTIONS = {
  testPrefix: TEST_PREFIX_OPTION,
  lambda: { type: 'number', default: 0.5, doc: 'weight of the dense term next to the outcome (our proposal: 0.5)' },
} as const;

/** w_j = (1 - rho_j) / sum_k (1 - rho_k), uniform when every test always passes. */
export function difficultyWeights(passes: readonly (readonly number[])[]): number[] {
  const tests = passes[0]?.length ?? 0;
  const rates = Array.from({ length: tests }, (_, j) => passes.reduce((s, p) => s + (p[j] as number), 0) / passes.length);
  const hard = rates.map((r) => 1 - r);
  const total = hard.reduce((a, b) => a + b, 0);
  return total > 0 ? hard.map((h) => h / total) : rates.map(() => 1 / Math.max(1, tests));
}

export function verpo(options: VerpoOptions = {}): RewardShaper {
  const o = resolveOptions<Required<VerpoOptions>>('verpo', OPTIONS, options as Record<string, unknown>);
  return defineShaper({
    name: 'verpo',
    summary: "VeRPO's dense reward: partial test passes weighted by each test's difficulty in the group, added to the outcome",
    paper: { title: 'VeRPO: Verifiable Dense Reward Policy Optimization for Code Generation', arxiv: '2601.03525', year: 2026 },
    options: OPTIONS,
    resolved: o,
    requires: { components: [`${o.testPrefix}*`] },
    adds: [{ name: 'verpo', weight: o.lambda }],
    math: '$\\rho_j = \\frac1G\\sum_i \\text{pass}_{ij}$, $w_j = \\frac{1-\\rho_j}{\\sum_k (1-\\rho_k)}$, $r_{verpo,i} = \\sum_j w_j\\,\\text{pass}_{ij}$ (weight $\\lambda$)',
    unverified: ["The weight formula and lambda are our proposal; the paper's exact formula was not reachable."],
    configure: (next) => verpo({ ...o, ...next }),
    shape(rollouts) {
      const out = [...rollouts];
      for (const members of byGroup(rollouts)) {
        const first = rollouts[members[0] as number];
        const tests = testComponents(first?.reward ?? {}, o.testPrefix);
        if (tests.length === 0)
          throw new RangeError(
            `verpo: rollout ${first?.id} has no per-test components '${o.testPrefix}1..N' (has: ${Object.keys(first?.reward ?? {}).join(', ')})`,
          );
        const passes = members.map((k) => tests.map((t) => ((rollouts[k]?.reward[t] ?? 0) >= 1 ? 1 : 0)));
        const w = difficultyWeights(passes);
        members.forEach((k, i) => {
          const dense = (passes[i] as number[]).reduce((s, p, j) => s + p * (w[j] as number), 0);
          const r = rollouts[k] as (typeof rollouts)[number];
          out[k] = reshaped(r, { ...r.reward, verpo: dense });
        });
      }
      return out;
    },
  });
}
