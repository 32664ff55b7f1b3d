/**
 * Where a comparison's time went: each run's own clock (its result's timings), summed per
 * method and over the comparison, split into the SFT start (trained once per environment and
 * seed, then read from the cache by the other methods), rollouts (sampling, scoring, reward
 * models), updates, evaluation, and the rest (advantages, diagnostics, checkpoints, start-up).
 * Worker seconds, not wall time: with W workers the wall time is about the total over W.
 */
import type { RunRecord } from './aggregate.js';

export const COST_PHASES = ['sft', 'rollouts', 'updates', 'evaluation', 'other'] as const;
export type CostPhase = (typeof COST_PHASES)[number];

export interface CostRow {
  method: string;
  runs: number;
  /** Seconds summed over the method's runs, by phase, and their total. */
  seconds: Record<CostPhase, number> & { total: number };
}

export interface ComparisonCost {
  /** Runs whose result carried no phase timings (an earlier version's) are not counted. */
  runsTimed: number;
  byMethod: CostRow[];
  total: CostRow['seconds'];
}

function phasesOf(timings: Record<string, number>): Record<CostPhase, number> & { total: number } {
  const total = timings.totalSeconds ?? 0;
  const sft = timings.sftSeconds ?? 0;
  const rollouts = timings.rolloutSeconds ?? 0;
  const updates = timings.updateSeconds ?? 0;
  const evaluation = timings.evalSeconds ?? 0;
  return { sft, rollouts, updates, evaluation, other: Math.max(0, total - sft - rollouts - updates - evaluation), total };
}

const zero = (): CostRow['seconds'] => ({ sft: 0, rollouts: 0, updates: 0, evaluation: 0, other: 0, total: 0 });

function add(into: CostRow['seconds'], phases: CostRow['seconds']): void {
  for (const key of [...COST_PHASES, 'total'] as const) into[key] += phases[key];
}

export function comparisonCost(runs: readonly RunRecord[]): ComparisonCost {
  const timed = runs.filter((r) => r.timings?.rolloutSeconds !== undefined && r.timings.totalSeconds !== undefined);
  const byMethod = new Map<string, CostRow>();
  const total = zero();
  for (const run of timed) {
    const phases = phasesOf(run.timings as Record<string, number>);
    const row = byMethod.get(run.method) ?? { method: run.method, runs: 0, seconds: zero() };
    row.runs += 1;
    add(row.seconds, phases);
    add(total, phases);
    byMethod.set(run.method, row);
  }
  return { runsTimed: timed.length, byMethod: [...byMethod.values()], total };
}

export function costMarkdown(cost: ComparisonCost, runs: number): string[] {
  if (cost.runsTimed === 0) return [];
  const share = (x: number) => (cost.total.total > 0 ? `${Math.round((100 * x) / cost.total.total)}%` : '-');
  const cells = (s: CostRow['seconds']) => [...COST_PHASES, 'total' as const].map((k) => s[k].toFixed(0));
  return [
    '## Where the time went',
    '',
    `Worker seconds from each run's own clock${cost.runsTimed < runs ? ` (${cost.runsTimed} of ${runs} runs recorded them)` : ''}, summed; the SFT start is trained once per environment and seed and read from the cache by the other methods. With W workers the wall time is about the total over W.`,
    '',
    `| method | runs | ${COST_PHASES.join(' | ')} | total |`,
    `|---|---|${COST_PHASES.map(() => '---').join('|')}|---|`,
    ...cost.byMethod.map((row) => `| ${row.method} | ${row.runs} | ${cells(row.seconds).join(' | ')} |`),
    `| all | ${cost.runsTimed} | ${cells(cost.total).join(' | ')} |`,
    `| share | | ${[...COST_PHASES].map((k) => share(cost.total[k])).join(' | ')} | 100% |`,
  ];
}
