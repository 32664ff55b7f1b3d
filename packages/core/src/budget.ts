import type { BudgetConsumption, BudgetLimit } from './contracts.js';
import { UsageError } from './errors.js';

export const BUDGET_UNITS = ['episodes', 'tokens', 'seconds', 'auxScoredTokens', 'auxTrainedTokens'] as const;

export function emptyConsumption(): BudgetConsumption {
  return { episodes: 0, envSteps: 0, generatedTokens: 0, trainedTokens: 0, seconds: 0, auxScoredTokens: 0, auxTrainedTokens: 0 };
}

/** The limits a meter checks, by consumption counter. */
const LIMITED: readonly (keyof BudgetLimit & keyof BudgetConsumption)[] = [
  'episodes',
  'generatedTokens',
  'seconds',
  'auxScoredTokens',
  'auxTrainedTokens',
];

/**
 * Parses the CLI form `episodes=N | tokens=N | seconds=N | auxScoredTokens=N | auxTrainedTokens=N`
 * (tokens = generated tokens; the aux counters are the work of models other than the policy).
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
    if (unit === 'tokens') limit.generatedTokens = value;
    else limit[unit as 'episodes' | 'seconds' | 'auxScoredTokens' | 'auxTrainedTokens'] = value;
  }
  return limit;
}

export function formatBudget(limit: BudgetLimit): string {
  const parts: string[] = [];
  if (limit.episodes !== undefined) parts.push(`episodes=${limit.episodes}`);
  if (limit.generatedTokens !== undefined) parts.push(`tokens=${limit.generatedTokens}`);
  if (limit.seconds !== undefined) parts.push(`seconds=${limit.seconds}`);
  if (limit.auxScoredTokens !== undefined) parts.push(`auxScoredTokens=${limit.auxScoredTokens}`);
  if (limit.auxTrainedTokens !== undefined) parts.push(`auxTrainedTokens=${limit.auxTrainedTokens}`);
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
    consumed: Partial<BudgetConsumption> = {},
  ) {
    if (limit.episodes === undefined && limit.generatedTokens === undefined && limit.seconds === undefined) {
      throw new UsageError('a budget needs at least one of episodes, tokens, seconds');
    }
    // Counters a checkpoint of an older version did not have start at 0.
    this.used = { ...emptyConsumption(), ...consumed };
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
    for (const key of LIMITED) {
      const limit = this.limit[key];
      if (limit !== undefined && this.used[key] + (worstCase[key] ?? 0) > limit) return false;
    }
    return true;
  }

  /** Fraction of the tightest limit used, in [0, 1], for progress bars. */
  progress(): number {
    const fractions = LIMITED.filter((key) => this.limit[key]).map((key) => this.used[key] / (this.limit[key] as number));
    return Math.min(1, Math.max(0, ...fractions));
  }
}
