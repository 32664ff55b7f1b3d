/**
 * grid-packing: place k points on the free cells of a small grid as far apart as possible
 * (discrete sphere packing in a box, FlowBoost's first problem family scaled down to what a
 * character model writes in a dozen characters). Each task's optimum is computed exactly, so
 * the answer is scored exactly: `optimal` (1 when it reaches the optimum), `ratio` (its minimum
 * squared distance over the optimum) and `format` (a valid placement).
 */
import { type Environment, type Episode, type Rng, resolveOptions, Rng as SeededRng, UsageError } from '@policy-lab/core';
import { oneAnswerEpisode } from '../shared/one-answer.js';
import { drawSplit, isTestKey, TEST_SPLIT_SIZE } from '../shared/split.js';
import {
  type Cell,
  COLUMNS,
  cellName,
  formatPlacement,
  type Grid,
  MAX_SIDE,
  minDistance2,
  nextAllowed,
  parsePlacement,
  type Refined,
  refinePlacement,
  solvePacking,
} from './geometry.js';

export interface PackingTask extends Grid {
  /** The largest minimum squared distance a placement reaches (exact). */
  optimum: number;
  /** A placement that reaches it (the expert's answer). */
  solution: string;
}

export interface GridPackingOptions {
  minSide?: number;
  maxSide?: number;
  minPoints?: number;
  maxPoints?: number;
  maxBlocked?: number;
}

const OPTION_SPECS = {
  minSide: { type: 'integer', default: 4, doc: 'smallest grid side (width and height are drawn in minSide..maxSide)' },
  maxSide: { type: 'integer', default: 6, doc: `largest grid side (at most ${MAX_SIDE}: columns a-g, rows 1-7)` },
  minPoints: { type: 'integer', default: 3, doc: 'fewest points to place' },
  maxPoints: { type: 'integer', default: 5, doc: 'most points to place' },
  maxBlocked: { type: 'integer', default: 3, doc: 'blocked cells per task are drawn in 0..maxBlocked' },
} as const;

/** The training pool's default size: 10x the 1,000 tasks a 4,000-episode run with groups of 4 draws. */
const TRAIN_POOL = 10_000;

const taskKey = (t: Grid) => `${t.points}@${t.width}x${t.height}-${[...t.blocked].sort().join(',')}`;

function observation(t: Grid): string {
  return `pack ${t.points} in ${t.width}x${t.height}${t.blocked.length ? ` no ${t.blocked.join(' ')}` : ''}`;
}

const OBSERVATION = /pack ([0-9]) in ([0-9])x([0-9])((?: no(?: [a-g][1-7])+)?)$/;

/** The grid an observation states (what the constrained sampler reads), or undefined. */
export function gridOfObservation(text: string): Grid | undefined {
  const match = OBSERVATION.exec(text);
  if (!match) return undefined;
  const blocked = (match[4] as string).trim().split(' ').slice(1);
  return { points: Number(match[1]), width: Number(match[2]), height: Number(match[3]), blocked };
}

/**
 * A random grid of the split, solved exactly. The split is decided (by the grid's hash) before
 * solving, and solutions are cached by grid, so drawing a split solves each of its grids once.
 */
function drawTask(
  rng: Rng,
  o: Required<GridPackingOptions>,
  split: 'train' | 'test',
  solved: Map<string, PackingTask | undefined>,
): PackingTask | undefined {
  const width = rng.int(o.minSide, o.maxSide);
  const height = rng.int(o.minSide, o.maxSide);
  const points = rng.int(o.minPoints, o.maxPoints);
  const blockedCount = rng.int(0, o.maxBlocked);
  const all = Array.from({ length: width * height }, (_, i): Cell => [Math.floor(i / height), i % height]);
  const blocked = rng
    .shuffle(all)
    .slice(0, blockedCount)
    .sort((a, b) => a[0] * MAX_SIDE + a[1] - (b[0] * MAX_SIDE + b[1]))
    .map(cellName);
  const grid = { width, height, points, blocked };
  const key = taskKey(grid);
  if (isTestKey(key) !== (split === 'test')) return undefined;
  if (!solved.has(key)) {
    const solution = solvePacking(grid);
    solved.set(key, solution ? { ...grid, optimum: solution.optimum, solution: formatPlacement(solution.cells) } : undefined);
  }
  return solved.get(key);
}

export function scorePacking(task: PackingTask, answer: string): { optimal: number; ratio: number; format: number } {
  const cells = parsePlacement(task, answer);
  if (!cells) return { optimal: 0, ratio: 0, format: 0 };
  const minimum = minDistance2(cells);
  return { optimal: minimum === task.optimum ? 1 : 0, ratio: minimum / task.optimum, format: 1 };
}

/**
 * What FlowBoost's loop needs of an extremal environment beyond the Environment contract: the
 * exact objective of an answer, the task's optimum (for diagnostics only), stochastic local
 * search from an answer, and the feasibility mask of constrained decoding.
 */
export interface ExtremalStructure<Task> {
  /** The objective of an answer (larger is better), undefined when it is not a valid construction. */
  objective(task: Task, answer: string): number | undefined;
  optimum(task: Task): number;
  /** Local search from an answer (projected onto a valid construction first); `evaluations` objective calls. */
  refine(task: Task, answer: string, rng: Rng, evaluations: number): { answer: string; objective: number; evaluations: number };
  /** From an observation and the answer so far: the characters a valid answer may continue with, and whether it may stop; undefined when the observation is not this environment's. */
  nextAllowed(observation: string, prefix: string): { chars: string[]; stop: boolean } | undefined;
}

export const packingStructure: ExtremalStructure<PackingTask> = {
  objective: (task, answer) => {
    const cells = parsePlacement(task, answer);
    return cells ? minDistance2(cells) : undefined;
  },
  optimum: (task) => task.optimum,
  refine(task, answer, rng, evaluations) {
    const start = answer
      .split(' ')
      .slice(0, 2 * task.points)
      .map((part) => parsePlacement({ ...task, points: 1 }, part)?.[0])
      .filter((c): c is Cell => c !== undefined);
    const refined: Refined = refinePlacement(task, start, rng, evaluations);
    return { answer: formatPlacement(refined.cells), objective: refined.score, evaluations: refined.evaluations };
  },
  nextAllowed(text, prefix) {
    const grid = gridOfObservation(text);
    return grid ? nextAllowed(grid, prefix) : undefined;
  },
};

export function gridPacking(options: GridPackingOptions = {}): Environment<PackingTask> & {
  extremal: ExtremalStructure<PackingTask>;
} {
  const resolved = resolveOptions<Required<GridPackingOptions>>('grid-packing', OPTION_SPECS, options as Record<string, unknown>);
  const { minSide, maxSide, minPoints, maxPoints, maxBlocked } = resolved;
  if (!(minSide >= 2 && minSide <= maxSide && maxSide <= MAX_SIDE))
    throw new UsageError(`grid-packing: sides must satisfy 2 <= minSide <= maxSide <= ${MAX_SIDE}, got ${minSide}..${maxSide}`);
  if (!(minPoints >= 2 && minPoints <= maxPoints && maxPoints <= 9))
    throw new UsageError(`grid-packing: points must satisfy 2 <= minPoints <= maxPoints <= 9, got ${minPoints}..${maxPoints}`);
  if (!(maxBlocked >= 0 && maxBlocked <= minSide * minSide - maxPoints))
    throw new UsageError(
      `grid-packing: option 'maxBlocked' must be 0..${Math.max(0, minSide * minSide - maxPoints)} (the smallest grid keeps room for maxPoints), got ${maxBlocked}`,
    );
  const solved = new Map<string, PackingTask | undefined>();
  return {
    name: 'grid-packing',
    summary:
      'Place k points on the free cells of a small grid as far apart as possible (discrete sphere packing, FlowBoost); exact optimum per task; components optimal (1.0), ratio (0.5) and format (0.1)',
    paper: { title: 'Flow-based Extremal Mathematical Structure Discovery', arxiv: '2601.18005', year: 2026 },
    options: OPTION_SPECS,
    resolved,
    configure: (next) => gridPacking({ ...resolved, ...next }),
    rewardComponents: [
      { name: 'optimal', weight: 1 },
      { name: 'ratio', weight: 0.5 },
      { name: 'format', weight: 0.1 },
    ],
    maxTurns: 1,
    recommended: { dim: 64, layers: 2, heads: 4, contextLength: 48, maxNewTokens: 16, sftSteps: 500 },
    tasks(split, { seed, count = split === 'test' ? TEST_SPLIT_SIZE : TRAIN_POOL }) {
      const rng = SeededRng.seeded(seed).split(`grid-packing/${split}`);
      return drawSplit(split, count, () => drawTask(rng, resolved, split, solved), taskKey);
    },
    taskId: (task) => taskKey(task),
    demonstrate: (task) => [task.solution],
    alphabet: () => `pack in no x${COLUMNS}0123456789`,
    extremal: packingStructure,
    start: (task): Episode =>
      oneAnswerEpisode(observation(task), (answer) => scorePacking(task, answer), {
        empty: { optimal: 0, ratio: 0, format: 0 },
        success: (reward) => reward.optimal === 1,
        valid: (reward) => reward.format === 1,
        stateKey: taskKey(task),
      }),
  };
}
