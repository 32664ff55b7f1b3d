/**
 * Diagnostics over plain numbers, used in tests and by the bench reports to explain why
 * methods differ.
 */

/** Fraction of trained rollouts (weight > 0) whose advantage is |A| <= tol. */
export function zeroAdvantageFraction(
  advantages: readonly (readonly number[])[],
  weights?: readonly (readonly number[])[],
  tol = 1e-9,
): number {
  let zero = 0;
  let total = 0;
  advantages.forEach((group, g) =>
    group.forEach((a, i) => {
      if (weights && !((weights[g]?.[i] ?? 1) > 0)) return;
      total += 1;
      if (Math.abs(a) <= tol) zero += 1;
    }),
  );
  return total === 0 ? 0 : zero / total;
}

/**
 * Fraction of rollouts whose advantage sign disagrees with the sign of r - baseline, where
 * the baseline is an estimate of the task's expected reward from many extra rollouts (the
 * mechanism MC-GRPO claims to fix: small groups give noisy baselines). Zero signs are skipped.
 */
export function signFlips(
  advantages: readonly (readonly number[])[],
  rewards: readonly (readonly number[])[],
  baselines: readonly number[],
): number {
  let flips = 0;
  let counted = 0;
  advantages.forEach((group, g) =>
    group.forEach((a, i) => {
      const reference = (rewards[g]?.[i] as number) - (baselines[g] as number);
      if (a === 0 || reference === 0) return;
      counted += 1;
      if (Math.sign(a) !== Math.sign(reference)) flips += 1;
    }),
  );
  return counted === 0 ? 0 : flips / counted;
}

/**
 * Within each group, pairs of rollouts with different reward vectors but the same advantage
 * (GDPO's argument against summing rewards before normalising), as a fraction of the pairs
 * with different reward vectors.
 */
export function collapsedRewardVectors(
  advantages: readonly (readonly number[])[],
  rewardVectors: readonly (readonly Readonly<Record<string, number>>[])[],
  tol = 1e-9,
): number {
  let collapsed = 0;
  let distinct = 0;
  advantages.forEach((group, g) => {
    for (let i = 0; i < group.length; i++) {
      for (let j = i + 1; j < group.length; j++) {
        const a = rewardVectors[g]?.[i] ?? {};
        const b = rewardVectors[g]?.[j] ?? {};
        if (sameVector(a, b)) continue;
        distinct += 1;
        if (Math.abs((group[i] as number) - (group[j] as number)) <= tol) collapsed += 1;
      }
    }
  });
  return distinct === 0 ? 0 : collapsed / distinct;
}

function sameVector(a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) if (a[key] !== b[key]) return false;
  return true;
}

/** Non-zero advantages in groups whose unshaped rewards are all equal (signal made up by shaping or batch steps). */
export function phantomAdvantages(
  advantages: readonly (readonly number[])[],
  unshapedRewards: readonly (readonly number[])[],
  tol = 1e-9,
): number {
  let phantom = 0;
  advantages.forEach((group, g) => {
    const rewards = unshapedRewards[g] ?? [];
    if (rewards.length === 0 || !rewards.every((r) => r === rewards[0])) return;
    for (const a of group) if (Math.abs(a) > tol) phantom += 1;
  });
  return phantom;
}
