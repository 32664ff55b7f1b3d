/**
 * Reward composition: a named reward vector to one scalar with named weights. A component
 * that is not applicable (absent from the vector) follows an explicit rule, never a silent 0.
 */
import type { RewardVector } from '@policy-lab/core';

/** 'renormalise' is accepted as a short alias of 'skip-renormalise'. */
export type MissingRule = 'error' | 'zero' | 'skip-renormalise' | 'renormalise';

const MISSING_RULES: readonly MissingRule[] = ['error', 'zero', 'skip-renormalise', 'renormalise'];

export interface ComposeOptions {
  weights: Readonly<Record<string, number>>;
  /**
   * A weighted component the vector lacks: 'error' (default) names it; 'zero' counts it as 0;
   * 'skip-renormalise' leaves it out and rescales the present weights to the same total |weight|
   * (when every weighted component is missing the sum is 0).
   */
  missing?: MissingRule;
  /** Called once per weighted component, for logging. */
  onComponent?(event: { name: string; value: number | undefined; weight: number }): void;
}

export function compose(reward: RewardVector, options: ComposeOptions): number {
  const missing = options.missing ?? 'error';
  if (!MISSING_RULES.includes(missing))
    throw new RangeError(`unknown missing-component rule '${String(missing)}'; accepted: ${MISSING_RULES.join(', ')}`);
  let total = 0;
  let presentWeight = 0;
  let allWeight = 0;
  for (const [name, weight] of Object.entries(options.weights)) {
    const value = reward[name];
    options.onComponent?.({ name, value, weight });
    allWeight += Math.abs(weight);
    if (value === undefined) {
      if (missing === 'error')
        throw new RangeError(
          `reward has no component '${name}' (has: ${Object.keys(reward).join(', ') || 'none'}); weights name it`,
        );
      continue;
    }
    if (!Number.isFinite(value)) throw new RangeError(`reward component '${name}' is not finite (${value})`);
    total += weight * value;
    presentWeight += Math.abs(weight);
  }
  if ((missing === 'skip-renormalise' || missing === 'renormalise') && presentWeight > 0)
    return (total * allWeight) / presentWeight;
  return total;
}
