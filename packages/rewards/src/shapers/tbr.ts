/**
 * VeriRL's trace-back rescoring (TbR), adapted to the code environment's per-test pass vectors:
 * a program earns partial credit, the share of hidden tests its final attempt passes, and that
 * credit is traced back through the episode's refinement attempts to the attempt from which each
 * finally passing test kept passing. Added as the component `tbr` (outcome: the partial credit;
 * each turn: the credit traced back to it, so the turns' credits sum to the outcome's).
 */
import { defineShaper, type RewardShaper, type RewardVector, type Rollout, resolveOptions } from '@policy-lab/core';
import { reshaped, TEST_PREFIX_OPTION, testComponents } from './common.js';

export interface TbrOptions {
  testPrefix?: string;
  lambda?: number;
}

const OPTIONS = {
  testPrefix: TEST_PREFIX_OPTION,
  lambda: {
    type: 'number',
    default: 0.5,
    doc: 'weight of the partial credit next to the outcome (ours: 0.5, as verpo; the paper gives none for our setting)',
  },
} as const;

const PAPER = {
  title: 'VeriRL: Boosting the LLM-based Verilog Code Generation via Reinforcement Learning',
  arxiv: '2508.18462',
  year: 2025,
};

/**
 * The credit each attempt earns: test j, passed by the last attempt, is credited to the first
 * attempt of its final unbroken run of passes, worth 1/N. A test passed and then broken again
 * earns nothing; a test never passed earns nothing. The credits sum to the last attempt's pass
 * share.
 */
export function traceBackCredit(passes: readonly (readonly number[])[]): number[] {
  const credit = passes.map(() => 0);
  const last = passes[passes.length - 1];
  if (!last || last.length === 0) return credit;
  const tests = last.length;
  for (let j = 0; j < tests; j++) {
    if (!((last[j] as number) >= 1)) continue;
    let from = passes.length - 1;
    while (from > 0 && ((passes[from - 1] as readonly number[])[j] as number) >= 1) from--;
    credit[from] = (credit[from] as number) + 1 / tests;
  }
  return credit;
}

export function tbrPartialCredit(options: TbrOptions = {}): RewardShaper {
  const o = resolveOptions<Required<TbrOptions>>('tbr-partial-credit', OPTIONS, options as Record<string, unknown>);
  if (!Number.isFinite(o.lambda)) throw new RangeError(`tbr-partial-credit: option 'lambda' must be finite, got ${o.lambda}`);
  return defineShaper({
    name: 'tbr-partial-credit',
    summary:
      "VeriRL's trace-back rescoring: partial credit from the per-test pass vector, traced back to the refinement attempt that earned each passing test",
    paper: PAPER,
    options: OPTIONS,
    resolved: o,
    requires: { components: [`${o.testPrefix}*`] },
    adds: [{ name: 'tbr', weight: o.lambda }],
    math: '$c_t = \\frac1N \\#\\{j : \\text{pass}_{Tj} = 1,\\ t = \\min\\{s : \\text{pass}_{s..T,j} = 1\\}\\}$, $r_{tbr} = \\sum_t c_t = \\frac1N\\sum_j \\text{pass}_{Tj}$ (weight $\\lambda$)',
    unverified: [
      "Adaptation: adapted (Verilog testbenches -> the code environment's hidden unit tests). VeriRL's TbR rescoring of noisy LLM-written testbenches from the reasoning path, and the reward model it trains on the rescored results, are not reproduced: our tests are exact, so the rescored reward is the trace-back partial credit itself.",
      'The trace-back rule (credit to the first attempt of the final unbroken run of passes) and lambda = 0.5 are ours.',
    ],
    configure: (next) => tbrPartialCredit({ ...o, ...next }),
    shape(rollouts) {
      return rollouts.map((r) => shapeOne(r));
    },
  });

  function shapeOne(rollout: Rollout): Rollout {
    const tests = testComponents(rollout.reward, o.testPrefix);
    if (tests.length === 0)
      throw new RangeError(
        `tbr-partial-credit: rollout ${rollout.id} has no per-test components '${o.testPrefix}1..N' (has: ${Object.keys(rollout.reward).join(', ')})`,
      );
    const passOf = (reward: RewardVector) => tests.map((t) => ((reward[t] ?? 0) >= 1 ? 1 : 0));
    // Each attempt's pass vector is its turn's; the outcome's is the last attempt's (an episode without turns: the outcome alone).
    const attempts = rollout.turns.length > 0 ? rollout.turns.map((t) => passOf(t.reward)) : [];
    const final = passOf(rollout.reward);
    const passes = attempts.length > 0 ? [...attempts.slice(0, -1), final] : [final];
    const credit = traceBackCredit(passes);
    const total = credit.reduce((a, b) => a + b, 0);
    const turnRewards = rollout.turns.map((t, k) => ({ ...t.reward, tbr: credit[k] as number }));
    return reshaped(rollout, { ...rollout.reward, tbr: total }, turnRewards.length > 0 ? turnRewards : undefined);
  }
}
