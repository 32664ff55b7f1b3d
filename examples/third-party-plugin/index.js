// A third-party plugin: an estimator and a Method, built with the public API of @policy-lab/core
// and loaded with `--plugin ./examples/third-party-plugin/index.js` (or installed as a
// `policy-lab-plugin-*` package, which discovery finds by itself).
import { defineEstimator, defineMethod, definePlugin } from '@policy-lab/core';

/** A_i = r_i - max_j r_j: only the best rollouts of a group get a zero advantage. */
export const topBaseline = defineEstimator({
  name: 'top-baseline',
  summary: 'Example: the best reward of the group as baseline (every other rollout is pushed down)',
  math: '$A_i = r_i - \\max_j r_j$',
  compute(groups, ctx) {
    const rollout = groups.map((group, g) => {
      if (group.length < 2) throw new RangeError(`top-baseline: group ${g} needs at least 2 rollouts`);
      const rewards = group.map((r) => ctx.scalar(r.reward));
      const best = Math.max(...rewards);
      return rewards.map((r) => r - best);
    });
    return { rollout, weights: rollout.map((g) => g.map(() => 1)) };
  },
});

export const plugin = definePlugin({
  name: 'policy-lab-plugin-example',
  estimators: [topBaseline],
  methods: [
    defineMethod({
      name: 'example-top',
      summary: 'Example method: top baseline with PPO clip',
      estimator: 'top-baseline',
      loss: 'ppo-clip',
    }),
  ],
});
