/**
 * Step hooks: each plugin's onStepStart runs before the step's context is built (so a
 * coefficient it sets applies to that step), onStepEnd after the step's metrics. A hook's
 * randomness is split from the run's seed by step and hook name.
 */
import { type HookContext, Rng, type StepHook, type TrainConfig } from '@policy-lab/core';
import type { RunState } from './checkpoint.js';

export function stepHooks(
  hooks: readonly StepHook[],
  state: RunState,
  coefficients: { divergenceCoef: number; entropyCoef: number },
  config: TrainConfig,
  reference: { reset(): Promise<void> },
  progress: () => number = () => 0,
) {
  return {
    async run(phase: 'onStepStart' | 'onStepEnd', metrics?: Readonly<Record<string, number>>): Promise<void> {
      for (const hook of hooks) {
        const call = hook[phase];
        if (!call) continue;
        const before = { ...coefficients };
        const ctx: HookContext = {
          step: state.step,
          config,
          rng: Rng.seeded(config.seed).split(`hook/${hook.name}/${phase}/${state.step}`),
          ...(metrics ? { metrics } : {}),
          coefficients,
          resetReference: () => reference.reset(),
          progress: progress(),
        };
        await call.call(hook, ctx);
        // A coefficient a hook set is kept for the rest of the run (and in checkpoints).
        if (coefficients.divergenceCoef !== before.divergenceCoef) state.divergenceCoef = coefficients.divergenceCoef;
        if (coefficients.entropyCoef !== before.entropyCoef) state.hookEntropyCoef = coefficients.entropyCoef;
      }
    },
  };
}
