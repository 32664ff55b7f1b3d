/**
 * Optimal Token Baseline and its tool-integrated variant, verl
 * `adv_estimator=optimal_token_baseline` / `tir_optimal_token_baseline`.
 *
 * Each token position of a group gets its own baseline: the group's returns there, weighted by
 * the cumulative score-function energy W of each trajectory up to that position. A.7 indexes
 * positions absolutely (observation tokens between turns occupy positions, masked out); A.8
 * indexes the k-th valid (action) token of each trajectory, so observations are skipped.
 *
 * Our contract trains one row per turn with one advantage, so the per-token advantages are
 * averaged over each turn's action tokens; `optimalTokenBaselineTokens` gives the token values.
 */
import {
  type AdvantageEstimator,
  type Advantages,
  defineEstimator,
  type EstimatorContext,
  type Rollout,
  resolveOptions,
  UsageError,
} from '@policy-lab/core';
import { checkGroupSize, ones, scalarOf } from '../groups.js';
import { verlReference } from '../reference.js';

export type Positions = 'absolute' | 'compact';

/** One trajectory as verl sees it: a response mask, returns-to-go and per-token weights w. */
export interface TokenTrajectory {
  mask: readonly number[];
  /** Return-to-go at each position. */
  returns: readonly number[];
  /** Per-token energy w = 1 - 2 pi + sum pi^2 (already multiplied by any IS weight squared). */
  w: readonly number[];
}

export interface TokenBaselineSettings {
  positions: Positions;
  zeroTail: boolean;
  eps: number;
}

/**
 * Per-token advantages (Ret - B) * m of one group, and the baselines. A singleton group (or, in
 * compact positions, a group with one non-empty trajectory) gets baseline 0, as verl.
 */
export function tokenBaselineAdvantages(
  group: readonly TokenTrajectory[],
  settings: TokenBaselineSettings,
): { advantages: number[][]; baselines: number[][] } {
  const cumulative = group.map((trajectory) => {
    let sum = 0;
    return trajectory.w.map((w, t) => {
      sum += w * (trajectory.mask[t] ?? 0);
      return sum;
    });
  });
  const lengths = group.map((trajectory) => trajectory.mask.reduce((a, b) => a + b, 0));
  if (settings.positions === 'absolute') {
    const width = Math.max(0, ...group.map((trajectory) => trajectory.mask.length));
    const baseline = new Array<number>(width).fill(0);
    if (group.length > 1) {
      for (let t = 0; t < width; t++) {
        let numerator = 0;
        let denominator = 0;
        group.forEach((trajectory, j) => {
          const m = trajectory.mask[t] ?? 0;
          const weight = (cumulative[j]?.[t] ?? 0) * m;
          numerator += (trajectory.returns[t] ?? 0) * weight;
          denominator += weight;
        });
        baseline[t] = safeRatio(numerator, denominator + settings.eps);
      }
    }
    const baselines = group.map((trajectory) => trajectory.mask.map((_, t) => baseline[t] as number));
    if (group.length > 1 && settings.zeroTail) zeroTail(baselines, lengths);
    const advantages = group.map((trajectory, i) =>
      trajectory.mask.map((m, t) => (m === 0 ? 0 : ((trajectory.returns[t] ?? 0) - (baselines[i]?.[t] ?? 0)) * m)),
    );
    return { advantages, baselines };
  }

  // Compact: the k-th valid token of each trajectory; empty trajectories stay out of the group.
  const valid = group.map((trajectory) => trajectory.mask.flatMap((m, t) => (m !== 0 ? [t] : [])));
  const members = group.flatMap((_, i) => ((lengths[i] as number) > 0 ? [i] : []));
  const width = Math.max(0, ...members.map((i) => (valid[i] as number[]).length));
  const compactBaseline = new Array<number>(width).fill(0);
  if (members.length > 1) {
    for (let k = 0; k < width; k++) {
      let numerator = 0;
      let denominator = 0;
      for (const j of members) {
        const t = valid[j]?.[k];
        if (t === undefined) continue;
        const weight = cumulative[j]?.[t] ?? 0;
        numerator += (group[j]?.returns[t] ?? 0) * weight;
        denominator += weight;
      }
      compactBaseline[k] = safeRatio(numerator, denominator + settings.eps);
    }
  }
  const compact = group.map((_, i) => (valid[i] as number[]).map((_, k) => compactBaseline[k] as number));
  if (members.length > 1 && settings.zeroTail) {
    const memberBaselines = members.map((i) => compact[i] as number[]);
    zeroTail(
      memberBaselines,
      members.map((i) => lengths[i] as number),
    );
  }
  const baselines = group.map((trajectory) => trajectory.mask.map(() => 0));
  const advantages = group.map((trajectory) => trajectory.mask.map(() => 0));
  group.forEach((trajectory, i) => {
    (valid[i] as number[]).forEach((t, k) => {
      const b = compact[i]?.[k] ?? 0;
      (baselines[i] as number[])[t] = b;
      (advantages[i] as number[])[t] = ((trajectory.returns[t] ?? 0) - b) * (trajectory.mask[t] ?? 0);
    });
  });
  return { advantages, baselines };
}

/** With eps = 0 and no energy at a position (every pi = 1) there is nothing to weigh: baseline 0. */
const safeRatio = (numerator: number, denominator: number): number => (denominator > 0 ? numerator / denominator : 0);

/**
 * verl's `handle_zero_tail`: when exactly one trajectory is the longest and strictly longer than
 * the second longest (L2), its baseline is 0 from position L2 on (nobody else is there to compare).
 */
function zeroTail(baselines: number[][], lengths: readonly number[]): void {
  if (lengths.length < 2) return;
  const sorted = [...lengths].sort((a, b) => a - b);
  const longest = sorted[sorted.length - 1] as number;
  const second = sorted[sorted.length - 2] as number;
  const holders = lengths.flatMap((length, i) => (length === longest ? [i] : []));
  if (holders.length !== 1 || longest <= second) return;
  const row = baselines[holders[0] as number] as number[];
  for (let t = second; t < row.length; t++) row[t] = 0;
}

export interface OptimalTokenBaselineOptions {
  /** Drop the baseline on the unique longest trajectory's unmatched tail (verl: true). */
  zeroTail?: boolean;
  /** Added to the baseline's denominator (verl: 1e-8). */
  eps?: number;
  /** Where sum_v pi(v)^2 comes from: 'proxy' (pi^2 of the sampled token) or 'meta' (rollout.meta.sumPiSquared). */
  sumPiSquared?: 'proxy' | 'meta';
}

const OPTIONS = {
  zeroTail: {
    type: 'boolean',
    default: true,
    doc: "verl `handle_zero_tail`: the unique longest trajectory's tail beyond the second longest gets baseline 0",
  },
  eps: { type: 'number', default: 1e-8, doc: "added to the baseline's denominator (verl: 1e-8)" },
  sumPiSquared: {
    type: 'enum',
    values: ['proxy', 'meta'],
    default: 'proxy',
    doc: "'proxy': w = (1 - pi)^2 from the sampled token's probability; 'meta': the exact sum over the vocabulary from rollout.meta.sumPiSquared (one number per action token per turn)",
  },
} as const;

type Resolved = Required<OptimalTokenBaselineOptions>;

/** The token layout of one rollout: the trajectory, and where each turn's action tokens sit. */
interface Layout {
  trajectory: TokenTrajectory;
  /** Positions of each turn's action tokens. */
  turnPositions: number[][];
}

/**
 * Lays a rollout out as verl's response: each turn's action tokens (mask 1) after the observation
 * tokens the environment appended (mask 0). The observation length of turn k is inferred from the
 * context growth |prompt_k| - |prompt_{k-1}| - |action_{k-1}| when the context grows by
 * appending, else 0. The outcome reward sits on the last action token.
 */
function layout(name: string, rollout: Rollout, reward: number, settings: Resolved, where: string): Layout {
  const meta = rollout.meta?.sumPiSquared;
  if (settings.sumPiSquared === 'meta' && !Array.isArray(meta))
    throw new UsageError(
      `${name}: ${where} has no meta.sumPiSquared (one array of sum pi^2 per turn); run with sumPiSquared=proxy or record it`,
    );
  const mask: number[] = [];
  const w: number[] = [];
  const turnPositions: number[][] = [];
  rollout.turns.forEach((turn, k) => {
    const previous = rollout.turns[k - 1];
    if (previous) {
      const grown = turn.promptTokens.length - previous.promptTokens.length - previous.actionTokens.length;
      const appends = grown > 0 && startsWith(turn.promptTokens, [...previous.promptTokens, ...previous.actionTokens]);
      for (let s = 0; s < (appends ? grown : 0); s++) {
        mask.push(0);
        w.push(0);
      }
    }
    if (turn.logprobs.length !== turn.actionTokens.length)
      throw new UsageError(
        `${name}: ${where}, turn ${k} has ${turn.actionTokens.length} action token(s) but ${turn.logprobs.length} logprob(s)`,
      );
    const squares = settings.sumPiSquared === 'meta' ? (meta as unknown[])[k] : undefined;
    if (settings.sumPiSquared === 'meta' && (!Array.isArray(squares) || squares.length !== turn.actionTokens.length))
      throw new UsageError(
        `${name}: ${where}, turn ${k}: meta.sumPiSquared needs ${turn.actionTokens.length} number(s), got ${Array.isArray(squares) ? squares.length : JSON.stringify(squares)}`,
      );
    const positions: number[] = [];
    turn.logprobs.forEach((logprob, s) => {
      if (!Number.isFinite(logprob) || logprob > 1e-6)
        throw new UsageError(`${name}: ${where}, turn ${k}, token ${s}: logprob must be finite and <= 0, got ${logprob}`);
      const pi = Math.min(1, Math.exp(logprob));
      let energy = (1 - pi) * (1 - pi);
      if (squares) {
        const sum = (squares as unknown[])[s];
        if (typeof sum !== 'number' || !Number.isFinite(sum) || sum < 0 || sum > 1 + 1e-9)
          throw new UsageError(`${name}: ${where}, turn ${k}, token ${s}: sumPiSquared must be in [0, 1], got ${sum}`);
        energy = Math.max(0, 1 - 2 * pi + sum);
      }
      positions.push(mask.length);
      mask.push(1);
      w.push(energy);
    });
    turnPositions.push(positions);
  });
  const last = mask.lastIndexOf(1);
  const returns = mask.map((_, t) => (t <= last ? reward : 0));
  return { trajectory: { mask, returns, w }, turnPositions };
}

function startsWith(values: readonly number[], prefix: readonly number[]): boolean {
  if (prefix.length > values.length) return false;
  for (let i = 0; i < prefix.length; i++) if (values[i] !== prefix[i]) return false;
  return true;
}

/** Per-token advantages of every rollout (groups in input order), for a token-level trainer. */
export function optimalTokenBaselineTokens(
  name: string,
  groups: readonly (readonly Rollout[])[],
  ctx: EstimatorContext,
  settings: Resolved & { positions: Positions },
): { layouts: Layout[][]; advantages: number[][][] } {
  const layouts = groups.map((group, g) => {
    checkGroupSize(name, group, g, 1);
    return group.map((rollout, i) =>
      layout(name, rollout, scalarOf(name, rollout, ctx, g, i), settings, `group ${g}, rollout ${i} (${rollout.id})`),
    );
  });
  const advantages = layouts.map(
    (group) =>
      tokenBaselineAdvantages(
        group.map((l) => l.trajectory),
        settings,
      ).advantages,
  );
  return { layouts, advantages };
}

const PAPER_NOTE = 'verl `core_algos.py` (no paper is cited by verl for this estimator)';

function build(positions: Positions, options: OptimalTokenBaselineOptions): AdvantageEstimator {
  const name = positions === 'absolute' ? 'optimal-token-baseline' : 'tir-optimal-token-baseline';
  const o = resolveOptions<Resolved>(name, OPTIONS, options as Record<string, unknown>);
  if (o.eps < 0) throw new RangeError(`${name}: option 'eps' must be >= 0, got ${o.eps}`);
  const settings = { ...o, positions };
  return defineEstimator({
    name,
    summary:
      positions === 'absolute'
        ? 'Optimal token baseline: a per-position group baseline weighted by each trajectory’s cumulative score-function energy'
        : 'Optimal token baseline over the k-th action token of each trajectory, skipping tool and observation tokens',
    matches: `verl \`adv_estimator=${positions === 'absolute' ? 'optimal_token_baseline' : 'tir_optimal_token_baseline'}\` (token advantages with sumPiSquared=meta)`,
    references: [
      positions === 'absolute'
        ? verlReference('compute_optimal_token_baseline_advantage', 'verl-optimal-token-baseline', 'sumPiSquared=meta')
        : verlReference(
            'compute_multi_turn_optimal_token_baseline_advantage',
            'verl-tir-optimal-token-baseline',
            'sumPiSquared=meta',
          ),
    ],
    options: OPTIONS,
    resolved: o,
    math:
      "$w_{i,t} = 1 - 2\\pi_{i,t} + \\sum_v \\pi_{i,t}(v)^2$, $W_{i,t} = \\sum_{t' \\le t} w_{i,t'} m_{i,t'}$, " +
      `$B_${positions === 'absolute' ? 't' : 'k'} = \\dfrac{\\sum_j \\mathrm{Ret}_{j} W_{j} m_{j}}{\\sum_j W_{j} m_{j} + ${o.eps}}$ ` +
      `at ${positions === 'absolute' ? 'absolute position t' : 'the k-th valid token'}, $A_{i,t} = (\\mathrm{Ret}_{i,t} - B)\\,m_{i,t}$, ` +
      "averaged over each turn's action tokens; a singleton group has $B = 0$",
    unverified: [
      `Source: ${PAPER_NOTE}, not a paper.`,
      "Our rows carry one advantage per turn: the token advantages are averaged over each turn's action tokens, which equals verl's token-level gradient only when the advantage is constant along the turn.",
      'sumPiSquared=proxy (default) uses w = (1 - pi)^2, i.e. sum_v pi(v)^2 ~ pi^2 + c (1 - pi)^2 for a constant c; the baseline is invariant to the factor (1 + c), and the true w lies within a factor [1, 2] of the proxy per token. The exact value needs the full distribution (verl `calculate_sum_pi_squared`), which rollouts do not record.',
      'Rollout importance-sampling weights (verl `rollout_is_weights`) are not applied: our rollouts are on-policy.',
      'The outcome reward sits on the last action token (returns-to-go are R before it); per-turn rewards are not used.',
      ...(positions === 'absolute'
        ? [
            'Observation tokens between turns are counted from the growth of the prompt when each turn’s context extends the previous one; otherwise turns abut and this estimator equals the TIR one.',
          ]
        : []),
    ],
    configure: (next) => build(positions, { ...o, ...next }),
    compute(groups, ctx): Advantages {
      const { layouts, advantages } = optimalTokenBaselineTokens(name, groups, ctx, settings);
      const turns = layouts.map((group, g) =>
        group.map((l, i) => l.turnPositions.map((positionsOfTurn) => meanAt(advantages[g]?.[i] ?? [], positionsOfTurn))),
      );
      const rollout = layouts.map((group, g) => group.map((l, i) => meanAt(advantages[g]?.[i] ?? [], l.turnPositions.flat())));
      const returns = layouts.map((group) =>
        group.map((l) => l.turnPositions.map((p, k) => l.trajectory.returns[p[0] ?? firstAfter(l.turnPositions, k)] ?? 0)),
      );
      const empty = layouts.flat().filter((l) => !l.trajectory.mask.includes(1)).length;
      return { rollout, turns, returns, weights: ones(groups), diagnostics: { emptyRollouts: empty } };
    },
  });
}

function meanAt(values: readonly number[], positions: readonly number[]): number {
  if (positions.length === 0) return 0;
  let sum = 0;
  for (const p of positions) sum += values[p] ?? 0;
  return sum / positions.length;
}

/** The first action position at or after turn k (a turn without tokens takes the return there). */
function firstAfter(turnPositions: readonly (readonly number[])[], k: number): number {
  for (let j = k; j < turnPositions.length; j++) {
    const p = turnPositions[j]?.[0];
    if (p !== undefined) return p;
  }
  return Number.MAX_SAFE_INTEGER;
}

/** verl `optimal_token_baseline`: per absolute position baselines. */
export function optimalTokenBaseline(options: OptimalTokenBaselineOptions = {}): AdvantageEstimator {
  return build('absolute', options);
}

/** verl `tir_optimal_token_baseline`: per k-th action token baselines (tool tokens skipped). */
export function tirOptimalTokenBaseline(options: OptimalTokenBaselineOptions = {}): AdvantageEstimator {
  return build('compact', options);
}
