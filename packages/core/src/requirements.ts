/** Whether an environment offers what a plugin requires (its reward components, several turns). */
import type { Environment, EnvironmentRequirements } from './contracts.js';

/**
 * What `requires` asks for that the environment lacks, in words (empty: nothing). `components`
 * are the reward components available where the plugin runs: the environment's and those that
 * shapers before it add.
 */
export function missingRequirements(
  requires: EnvironmentRequirements | undefined,
  env: Pick<Environment, 'maxTurns'> & Partial<Pick<Environment, 'demonstrate'>>,
  components: readonly string[],
): string[] {
  if (!requires) return [];
  const missing: string[] = [];
  for (const wanted of requires.components ?? []) {
    const found = wanted.endsWith('*') ? components.some((c) => c.startsWith(wanted.slice(0, -1))) : components.includes(wanted);
    if (!found) missing.push(`reward component '${wanted}'`);
  }
  if (requires.multiTurn && !(env.maxTurns > 1)) missing.push('episodes of more than one turn');
  if (requires.demonstrations && !env.demonstrate) missing.push('expert demonstrations (demonstrate)');
  return missing;
}
