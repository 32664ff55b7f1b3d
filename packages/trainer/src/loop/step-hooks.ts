/**
 * Step hooks: each plugin's onStepStart runs before the step's context is built (so a
 * coefficient or temperature it sets applies to that step), onStepEnd after the step's metrics.
 * A hook's randomness is split from the run's seed by step and hook name.
 */
import { type HookContext, Rng, type Rollout, type StepHook, type TrainConfig } from '@policy-lab/core';
import type { RunState } from './checkpoint.js';

/** The step's coefficients a hook may set; `temperature` samples the step's training rollouts. */
export interface HookCoefficients {
  divergenceCoef: number;
  entropyCoef: number;
  temperature: number;
}

/** What the trainer lends hooks beyond their coefficients: a probe set and plain sampling of it (charged). */
export interface HookServices {
  drawTasks(count: number, rng: Rng): readonly unknown[];
  sample(tasks: readonly unknown[], options: { count: number; temperature: number; rng: Rng }): Promise<Rollout[][]>;
  /** Numbers for the step's metrics. */
  log(key: string, value: number): void;
}

export function stepHooks(
  hooks: readonly StepHook[],
  state: RunState,
  coefficients: HookCoefficients,
  config: TrainConfig,
  reference: { reset(): Promise<void> },
  progress: () => number = () => 0,
  services?: HookServices,
) {
  return {
    async run(phase: 'onStepStart' | 'onStepEnd', metrics?: Readonly<Record<string, number>>): Promise<void> {
      for (const hook of hooks) {
        const call = hook[phase];
        if (!call) continue;
        const before = { ...coefficients };
        const rng = Rng.seeded(config.seed).split(`hook/${hook.name}/${phase}/${state.step}`);
        let draws = 0;
        const ctx: HookContext = {
          step: state.step,
          config,
          rng,
          ...(metrics ? { metrics } : {}),
          coefficients,
          resetReference: () => reference.reset(),
          progress: progress(),
          ...(services
            ? {
                drawTasks: (count: number) => services.drawTasks(count, rng.split(`tasks/${draws++}`)),
                sample: (tasks: readonly unknown[], options: { count: number; temperature: number }) =>
                  services.sample(tasks, { ...options, rng: rng.split(`sample/${draws++}`) }),
                log: (key: string, value: number) => services.log(`hook.${hook.name}.${key}`, value),
              }
            : {}),
        };
        await call.call(hook, ctx);
        // A coefficient a hook set is kept for the rest of the run (and in checkpoints).
        if (coefficients.divergenceCoef !== before.divergenceCoef) state.divergenceCoef = coefficients.divergenceCoef;
        if (coefficients.entropyCoef !== before.entropyCoef) state.hookEntropyCoef = coefficients.entropyCoef;
        if (coefficients.temperature !== before.temperature) {
          if (!(coefficients.temperature > 0 && Number.isFinite(coefficients.temperature)))
            throw new RangeError(
              `hook '${hook.name}' set the temperature to ${coefficients.temperature}; it must be a finite number > 0`,
            );
          state.hookTemperature = coefficients.temperature;
        }
      }
    },
  };
}
