/** Coefficients that move during a run: learning rate, TRL's entropy bonus, PPO's adaptive KL. */
import type { TrainConfig } from '@policy-lab/core';

/** TRL's adaptive entropy coefficient and the last measured entropy (null = none yet). */
export interface EntropyState {
  coef: number;
  last: number | null;
}

/** Learning rate after linear warm-up; cosine decays to 0 over the budget's progress. */
export function scheduledRate(config: TrainConfig, step: number, progress: number): number {
  const warm = config.warmupSteps > 0 ? Math.min(1, step / config.warmupSteps) : 1;
  const decay = config.schedule === 'cosine' ? 0.5 * (1 + Math.cos(Math.PI * Math.min(1, progress))) : 1;
  return config.learningRate * warm * decay;
}

/** TRL's adaptive entropy coefficient: the bonus applies only while the last measured entropy is at or below the target. */
export function appliedEntropyCoef(config: TrainConfig, entropy: EntropyState): number {
  if (config.entropyTarget === undefined) return config.entropyCoef;
  return entropy.last !== null && entropy.last <= config.entropyTarget ? entropy.coef : 0;
}

/** One controller update after a step that measured `measured` nats: c moves by delta towards the target, clipped. */
export function adaptEntropyCoef(
  entropy: EntropyState,
  measured: number | undefined,
  config: Pick<TrainConfig, 'entropyTarget' | 'entropyCoefMin' | 'entropyCoefMax' | 'entropyCoefDelta'>,
): EntropyState {
  if (config.entropyTarget === undefined || measured === undefined || !Number.isFinite(measured)) return entropy;
  const delta = config.entropyCoefDelta ?? 0.005;
  const coef =
    measured <= config.entropyTarget
      ? Math.min(entropy.coef + delta, config.entropyCoefMax ?? 1)
      : Math.max(entropy.coef - delta, config.entropyCoefMin ?? 0);
  return { coef, last: measured };
}

/** PPO's adaptive rule: x1.5 when the divergence is above 1.5 x target, /1.5 when below target / 1.5. */
export function adaptCoefficient(coef: number, measured: number | undefined, target: number | undefined): number {
  if (target === undefined || target <= 0 || measured === undefined || !Number.isFinite(measured)) return coef;
  if (measured > 1.5 * target) return coef * 1.5;
  if (measured < target / 1.5) return coef / 1.5;
  return coef;
}
