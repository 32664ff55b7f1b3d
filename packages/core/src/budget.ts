import type { BudgetConsumption, BudgetLimit } from './contracts.js';
import { UsageError } from './errors.js';

export const BUDGET_UNITS = ['episodes', 'tokens', 'seconds'] as const;

export function emptyConsumption(): BudgetConsumption {
  return { episodes: 0, envSteps: 0, generatedTokens: 0, trainedTokens: 0, seconds: 0 };
}

/**
 * Parses the CLI form `episodes=N | tokens=N | seconds=N` (tokens = generated tokens).
 * Several may be given comma-separated; the run stops at the first one reached.
 */
export function parseBudget(text: string): BudgetLimit {
  const limit: BudgetLimit = {};
  for (const part of text.split(',')) {
    const match = /^\s*([a-zA-Z]+)\s*=\s*(.+?)\s*$/.exec(part);
    if (!match) {
      throw new UsageError(
        `bad budget '${part}': expected unit=value with unit one of ${BUDGET_UNITS.join(', ')} (e.g. episodes=512)`,
      );
    }
    const [, unit, raw] = match as unknown as [string, string, string];
    const value = Number(raw);
    if (!(BUDGET_UNITS as readonly string[]).includes(unit)) {
      throw new UsageError(`bad budget unit '${unit}' in '${part}': accepted units are ${BUDGET_UNITS.join(', ')}`);
    }
    const integer = unit !== 'seconds';
    if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
      throw new UsageError(`bad budget value '${raw}' for ${unit}: expected a positive ${integer ? 'integer' : 'number'}`);
    }
    if (unit === 'episodes') limit.episodes = value;
    else if (unit === 'tokens') limit.generatedTokens = value;
    else limit.seconds = value;
  }
  return limit;
}

export function formatBudget(limit: BudgetLimit): string {
  const parts: string[] = [];
  if (limit.episodes !== undefined) parts.push(`episodes=${limit.episodes}`);
  if (limit.generatedTokens !== undefined) parts.push(`tokens=${limit.generatedTokens}`);
  if (limit.seconds !== undefined) parts.push(`seconds=${limit.seconds}`);
  return parts.join(',');
}

/**
 * Counts what a run consumed and decides whether the next step fits.
 * Rules (DESIGN.md "Equal budgets"): everything generated is charged, discarded or not;
 * a run stops before a step that could exceed the limit. Seconds are wall clock and
 * never deterministic; they are charged by the caller from its own clock.
 */
export class BudgetMeter {
  private used: BudgetConsumption;

  constructor(
    readonly limit: BudgetLimit,
    consumed: BudgetConsumption = emptyConsumption(),
  ) {
    if (limit.episodes === undefined && limit.generatedTokens === undefined && limit.seconds === undefined) {
      throw new UsageError('a budget needs at least one of episodes, tokens, seconds');
    }
    this.used = { ...consumed };
  }

  get consumed(): BudgetConsumption {
    return { ...this.used };
  }

  charge(cost: Partial<BudgetConsumption>): void {
    for (const key of Object.keys(cost) as (keyof BudgetConsumption)[]) {
      const value = cost[key] ?? 0;
      if (!Number.isFinite(value) || value < 0) throw new RangeError(`cannot charge ${key}=${value}`);
      this.used[key] += value;
    }
  }

  /**
   * Whether a step with this worst-case cost stays within every limit. Callers pass
   * upper bounds (e.g. every episode generating its maximum tokens) so a step never overshoots.
   */
  canAfford(worstCase: Partial<BudgetConsumption>): boolean {
    const { episodes, generatedTokens, seconds } = this.limit;
    if (episodes !== undefined && this.used.episodes + (worstCase.episodes ?? 0) > episodes) return false;
    if (generatedTokens !== undefined && this.used.generatedTokens + (worstCase.generatedTokens ?? 0) > generatedTokens) {
      return false;
    }
    if (seconds !== undefined && this.used.seconds + (worstCase.seconds ?? 0) > seconds) return false;
    return true;
  }

  /** Fraction of the tightest limit used, in [0, 1], for progress bars. */
  progress(): number {
    const fractions: number[] = [];
    if (this.limit.episodes) fractions.push(this.used.episodes / this.limit.episodes);
    if (this.limit.generatedTokens) fractions.push(this.used.generatedTokens / this.limit.generatedTokens);
    if (this.limit.seconds) fractions.push(this.used.seconds / this.limit.seconds);
    return Math.min(1, Math.max(0, ...fractions));
  }
}
