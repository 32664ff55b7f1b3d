/**
 * What the trainer lends step hooks: probe tasks from the training split and plain sampling of
 * them at a temperature the hook names (M-STAR's exploration monitor samples its probe set at every
 * temperature of a grid). Probe rollouts are charged like the step's own and scored by the run's
 * reward models without training them; a probe the budget cannot afford beside the next step's
 * worst case is refused (an empty list).
 */
import type { BudgetConsumption, Rng, Rollout } from '@policy-lab/core';
import { collectRollouts } from './rollouts.js';
import { scoreWithRewardModels } from './stages/reward.js';
import { chargeRollouts } from './stages/sample.js';
import type { RunContext } from './step-context.js';
import type { HookServices } from './step-hooks.js';

export function hookServices(
  run: RunContext,
  trainTasks: readonly unknown[],
  stepWorstCase: { episodes: number; generatedTokens: number },
  log: (key: string, value: number) => void,
): HookServices {
  const { env, config } = run.plugins;
  const charge = (cost: Partial<BudgetConsumption>) => run.meter.charge(cost);
  return {
    drawTasks: (count, rng) => Array.from({ length: count }, () => trainTasks[rng.int(0, trainTasks.length - 1)]),
    async sample(tasks, { count, temperature, rng }: { count: number; temperature: number; rng: Rng }) {
      if (!(temperature > 0 && Number.isFinite(temperature)))
        throw new RangeError(`a hook asked for rollouts at temperature ${temperature}; it must be a finite number > 0`);
      const episodes = tasks.length * count;
      const worst = { episodes, generatedTokens: episodes * env.maxTurns * config.maxNewTokens };
      const affordable = run.meter.canAfford({
        episodes: worst.episodes + stepWorstCase.episodes,
        generatedTokens: worst.generatedTokens + stepWorstCase.generatedTokens,
        seconds: 0,
      });
      if (!affordable || episodes === 0) return [];
      // The call's randomness is the hook's (split by step, hook and call), so ids need not be unique across calls.
      const requests = tasks.map((task, k) => ({ task, groupId: `probe/g${k}`, count }));
      const groups: Rollout[][] = await collectRollouts(run.policy, run.tokenizer, env, requests, {
        maxNewTokens: config.maxNewTokens,
        temperature,
        rng,
      });
      chargeRollouts({ charge }, groups.flat());
      return scoreWithRewardModels(run, groups);
    },
    log,
  };
}
