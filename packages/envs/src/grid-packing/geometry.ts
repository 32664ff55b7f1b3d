/**
 * Point packing on a grid: k points on the free cells of a w x h grid, as far apart as they can
 * be; the objective is the smallest squared distance between two of them. It is the discrete
 * version of packing equal spheres in a hypercube (the first problem family of FlowBoost,
 * arXiv 2601.18005: maximise the common radius, i.e. the minimum pairwise distance of the centres).
 * Everything here is exact integer arithmetic.
 */
import type { Rng } from '@policy-lab/core';

/** A cell as (column, row), 0-based; written `a1` (column letter, row number). */
export type Cell = readonly [number, number];

export interface Grid {
  width: number;
  height: number;
  /** How many points to place. */
  points: number;
  /** Cells no point may take, written `b2`. */
  blocked: readonly string[];
}

export const COLUMNS = 'abcdefg';
/** The largest side the cell names can write (columns a-g, rows 1-7). */
export const MAX_SIDE = COLUMNS.length;

export const cellName = ([x, y]: Cell): string => `${COLUMNS[x]}${y + 1}`;

export function parseCell(text: string): Cell | undefined {
  if (text.length !== 2) return undefined;
  const x = COLUMNS.indexOf(text[0] as string);
  const y = Number(text[1]) - 1;
  return x >= 0 && Number.isInteger(y) && y >= 0 && y < MAX_SIDE ? [x, y] : undefined;
}

export const distance2 = (a: Cell, b: Cell): number => (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2;

/** The smallest squared distance between two of the cells (Infinity for fewer than two). */
export function minDistance2(cells: readonly Cell[]): number {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < cells.length; i++)
    for (let j = i + 1; j < cells.length; j++) best = Math.min(best, distance2(cells[i] as Cell, cells[j] as Cell));
  return best;
}

/** How many pairs sit at the smallest distance (fewer is better at an equal minimum: a tie-breaker for local search). */
function pairsAtMinimum(cells: readonly Cell[], minimum: number): number {
  let count = 0;
  for (let i = 0; i < cells.length; i++)
    for (let j = i + 1; j < cells.length; j++) if (distance2(cells[i] as Cell, cells[j] as Cell) === minimum) count++;
  return count;
}

/** The free cells of the grid in column-major order (a1, a2, ..., b1, ...). */
export function freeCells(grid: Grid): Cell[] {
  const blocked = new Set(grid.blocked);
  const out: Cell[] = [];
  for (let x = 0; x < grid.width; x++) for (let y = 0; y < grid.height; y++) if (!blocked.has(cellName([x, y]))) out.push([x, y]);
  return out;
}

const key = (c: Cell) => c[0] * MAX_SIDE + c[1];

/**
 * The placement an answer writes: exactly `points` distinct free cells separated by single
 * spaces; undefined for anything else (never throws, whatever the text).
 */
export function parsePlacement(grid: Grid, text: string): Cell[] | undefined {
  if (text.length > 3 * grid.points) return undefined;
  const parts = text.split(' ');
  if (parts.length !== grid.points) return undefined;
  const blocked = new Set(grid.blocked);
  const seen = new Set<number>();
  const cells: Cell[] = [];
  for (const part of parts) {
    const cell = parseCell(part);
    if (!cell || cell[0] >= grid.width || cell[1] >= grid.height || blocked.has(part) || seen.has(key(cell))) return undefined;
    seen.add(key(cell));
    cells.push(cell);
  }
  return cells;
}

/** The canonical text of a placement: its cells sorted column-major. */
export function formatPlacement(cells: readonly Cell[]): string {
  return [...cells]
    .sort((a, b) => key(a) - key(b))
    .map(cellName)
    .join(' ');
}

/** Some `points` free cells with every pair at squared distance >= `minimum`, or undefined (depth-first, column-major order). */
function placeAtLeast(free: readonly Cell[], points: number, minimum: number): Cell[] | undefined {
  const chosen: Cell[] = [];
  const search = (from: number): boolean => {
    if (chosen.length === points) return true;
    for (let i = from; i <= free.length - (points - chosen.length); i++) {
      const cell = free[i] as Cell;
      if (chosen.every((c) => distance2(c, cell) >= minimum)) {
        chosen.push(cell);
        if (search(i + 1)) return true;
        chosen.pop();
      }
    }
    return false;
  };
  return search(0) ? chosen : undefined;
}

/**
 * The exact optimum: the largest minimum squared distance any placement reaches, and the first
 * placement (column-major) that reaches it. Feasibility is monotone in the threshold, so a binary
 * search over the squared distances the grid has finds it.
 */
export function solvePacking(grid: Grid): { optimum: number; cells: Cell[] } | undefined {
  const free = freeCells(grid);
  if (grid.points < 2 || free.length < grid.points) return undefined;
  const values = new Set<number>();
  for (let dx = 0; dx < grid.width; dx++) for (let dy = 0; dy < grid.height; dy++) if (dx + dy > 0) values.add(dx * dx + dy * dy);
  const sorted = [...values].sort((a, b) => a - b);
  let low = 0; // sorted[0] = 1 is always feasible: any distinct cells are at least 1 apart
  let high = sorted.length - 1;
  let best = placeAtLeast(free, grid.points, sorted[0] as number) as Cell[];
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    const found = placeAtLeast(free, grid.points, sorted[mid] as number);
    if (found) {
      low = mid;
      best = found;
    } else high = mid - 1;
  }
  return { optimum: minDistance2(best), cells: best };
}

/** What local search returns: the best placement it saw and how many placements it scored. */
export interface Refined {
  cells: Cell[];
  score: number;
  evaluations: number;
}

/**
 * Stochastic local search from a placement (FlowBoost's "stochastic relaxation with
 * perturbations", here over grid cells): each evaluation moves one point to another free cell
 * (a neighbour within 2 steps, or any free cell one time in four) and keeps the move when the
 * objective (the minimum squared distance, then fewer pairs at that minimum) does not get worse,
 * so it walks plateaus; after `patience` rejected moves in a row one random move is taken
 * anyway (the perturbation that leaves a local optimum). A start that is not a valid placement is first projected onto one: its
 * readable, free, distinct cells are kept and the rest drawn at random. The placement returned
 * is never worse than a valid start.
 */
export function refinePlacement(grid: Grid, start: readonly Cell[], rng: Rng, evaluations: number, patience = 30): Refined {
  const free = freeCells(grid);
  const freeKeys = new Set(free.map(key));
  const cells: Cell[] = [];
  const used = new Set<number>();
  for (const cell of start)
    if (cells.length < grid.points && freeKeys.has(key(cell)) && !used.has(key(cell))) {
      cells.push(cell);
      used.add(key(cell));
    }
  while (cells.length < grid.points) {
    const open = free.filter((c) => !used.has(key(c)));
    const cell = open[rng.int(0, open.length - 1)] as Cell;
    cells.push(cell);
    used.add(key(cell));
  }
  const objective = (placement: readonly Cell[]): [number, number] => {
    const minimum = minDistance2(placement);
    return [minimum, -pairsAtMinimum(placement, minimum)];
  };
  let current = objective(cells);
  let best = { cells: [...cells], score: current[0] };
  let stalled = 0;
  for (let n = 0; n < evaluations; n++) {
    const i = rng.int(0, cells.length - 1);
    const from = cells[i] as Cell;
    // The perturbation: after `patience` rejected moves in a row, one move is taken whatever it costs.
    const kick = stalled >= patience;
    const far = kick || rng.next() < 0.25;
    const options = free.filter(
      (c) => !used.has(key(c)) && (far || Math.max(Math.abs(c[0] - from[0]), Math.abs(c[1] - from[1])) <= 2),
    );
    if (options.length === 0) continue;
    const to = options[rng.int(0, options.length - 1)] as Cell;
    cells[i] = to;
    const next = objective(cells);
    if (kick || next[0] > current[0] || (next[0] === current[0] && next[1] >= current[1])) {
      if (kick || next[0] > current[0]) stalled = 0;
      used.delete(key(from));
      used.add(key(to));
      current = next;
      if (current[0] > best.score) best = { cells: [...cells], score: current[0] };
    } else {
      cells[i] = from;
      stalled++;
    }
  }
  return { cells: best.cells, score: best.score, evaluations };
}

/**
 * The characters that may come next in a valid answer after `prefix` (the feasibility mask of
 * constrained decoding), and whether the answer may stop there. Only prefixes of valid answers
 * have a continuation: a column of the grid, then a row whose cell is free and not yet taken,
 * then a space while points remain; the stop once all are placed.
 */
export function nextAllowed(grid: Grid, prefix: string): { chars: string[]; stop: boolean } {
  const none = { chars: [], stop: false };
  const parts = prefix.split(' ');
  const done = parts.slice(0, -1);
  const last = parts.at(-1) as string;
  const taken = new Set<string>();
  const blocked = new Set(grid.blocked);
  for (const part of done) {
    const cell = parseCell(part);
    if (!cell || cell[0] >= grid.width || cell[1] >= grid.height || blocked.has(part) || taken.has(part)) return none;
    taken.add(part);
  }
  if (done.length >= grid.points) return none;
  const columnFree = (x: number) =>
    Array.from({ length: grid.height }, (_, y) => cellName([x, y])).some((c) => !blocked.has(c) && !taken.has(c));
  if (last.length === 0) return { chars: [...COLUMNS.slice(0, grid.width)].filter((_, x) => columnFree(x)), stop: false };
  const x = COLUMNS.indexOf(last[0] as string);
  if (x < 0 || x >= grid.width) return none;
  if (last.length === 1) {
    const rows = Array.from({ length: grid.height }, (_, y) => y).filter((y) => {
      const c = cellName([x, y]);
      return !blocked.has(c) && !taken.has(c);
    });
    return { chars: rows.map((y) => String(y + 1)), stop: false };
  }
  const cell = parseCell(last);
  if (last.length !== 2 || !cell || cell[1] >= grid.height || blocked.has(last) || taken.has(last)) return none;
  const placed = done.length + 1;
  return placed === grid.points ? { chars: [], stop: true } : { chars: [' '], stop: false };
}
