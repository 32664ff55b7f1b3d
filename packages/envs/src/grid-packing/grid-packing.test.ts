import { Rng } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Cell,
  formatPlacement,
  freeCells,
  minDistance2,
  nextAllowed,
  parsePlacement,
  refinePlacement,
  solvePacking,
} from './geometry.js';
import { gridOfObservation, gridPacking, scorePacking } from './grid-packing.js';

/** Every placement of `points` free cells, for a brute-force optimum on tiny grids. */
function bruteForceOptimum(grid: { width: number; height: number; points: number; blocked: string[] }): number {
  const free = freeCells(grid);
  let best = 0;
  const chosen: Cell[] = [];
  const walk = (from: number) => {
    if (chosen.length === grid.points) {
      best = Math.max(best, minDistance2(chosen));
      return;
    }
    for (let i = from; i < free.length; i++) {
      chosen.push(free[i] as Cell);
      walk(i + 1);
      chosen.pop();
    }
  };
  walk(0);
  return best;
}

describe('grid-packing geometry', () => {
  it.each([
    // Closed forms: two points take opposite corners; four points on an empty n x n grid take the corners.
    [{ width: 5, height: 3, points: 2, blocked: [] }, 4 ** 2 + 2 ** 2],
    [{ width: 6, height: 6, points: 2, blocked: [] }, 50],
    [{ width: 5, height: 5, points: 4, blocked: [] }, 16],
    [{ width: 7, height: 7, points: 4, blocked: [] }, 36],
  ])('solves %j exactly (closed form %d)', (grid, optimum) => {
    expect(solvePacking(grid)?.optimum).toBe(optimum);
  });

  it('agrees with brute force on small random grids, and its placement reaches the optimum', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 4 }),
        fc.integer({ min: 2, max: 4 }),
        fc.integer({ min: 2, max: 4 }),
        fc.array(fc.nat(15), { maxLength: 3 }),
        (width, height, points, blockedIndices) => {
          const blocked = [...new Set(blockedIndices.filter((i) => i < width * height))].map(
            (i) => `${'abcdefg'[Math.floor(i / height)]}${(i % height) + 1}`,
          );
          const grid = { width, height, points, blocked };
          const solved = solvePacking(grid);
          if (width * height - blocked.length < points) {
            expect(solved).toBeUndefined();
            return;
          }
          expect(solved?.optimum).toBe(bruteForceOptimum(grid));
          expect(minDistance2(solved?.cells ?? [])).toBe(solved?.optimum);
        },
      ),
      { numRuns: 60, seed: 3 },
    );
  });

  it('reads only exact placements: k distinct free cells in the grid, single spaces', () => {
    const grid = { width: 4, height: 4, points: 3, blocked: ['b2'] };
    expect(parsePlacement(grid, 'a1 d4 a4')).toEqual([
      [0, 0],
      [3, 3],
      [0, 3],
    ]);
    for (const bad of [
      'a1 d4',
      'a1 d4 a4 d1',
      'a1 a1 d4',
      'a1 b2 d4',
      'a1 e1 d4',
      'a1 d5 a4',
      'a1  d4 a4',
      ' a1 d4 a4',
      'A1 d4 a4',
    ])
      expect(parsePlacement(grid, bad), bad).toBeUndefined();
  });

  it('local search never returns worse than a valid start, and projects any text onto a valid placement', () => {
    const env = gridPacking();
    const tasks = env.tasks('train', { seed: 2, count: 30 });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: tasks.length - 1 }), fc.string({ maxLength: 20 }), fc.nat(), (k, text, seed) => {
        const task = tasks[k] as (typeof tasks)[number];
        const refined = env.extremal.refine(task, text, Rng.seeded(seed), 20);
        const after = env.extremal.objective(task, refined.answer);
        expect(after).toBe(refined.objective);
        expect(after).toBeLessThanOrEqual(task.optimum);
        const before = env.extremal.objective(task, text);
        if (before !== undefined) expect(after).toBeGreaterThanOrEqual(before);
      }),
      { numRuns: 80, seed: 5 },
    );
  });

  it('local search climbs: from the worst corner it reaches the optimum on a small empty grid', () => {
    const grid = { width: 5, height: 5, points: 4, blocked: [] };
    const start: Cell[] = [
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ];
    // Four points on an empty 5 x 5 grid: the corners, 16, reached from every seed tried.
    for (const seed of [1, 2, 3, 4, 5]) expect(refinePlacement(grid, start, Rng.seeded(seed), 1600).score).toBe(16);
  });

  it('the mask lets through exactly the prefixes of valid placements (fast-check over random walks)', () => {
    const grid = { width: 5, height: 4, points: 3, blocked: ['a1', 'c3'] };
    fc.assert(
      fc.property(fc.array(fc.nat(), { minLength: 12, maxLength: 12 }), (choices) => {
        let text = '';
        for (const choice of choices) {
          const allowed = nextAllowed(grid, text);
          if (allowed.stop) break;
          expect(allowed.chars.length).toBeGreaterThan(0);
          text += allowed.chars[choice % allowed.chars.length];
        }
        // Every masked walk ends in a valid placement, and a valid placement is not extended.
        expect(parsePlacement(grid, text)).toBeDefined();
        expect(nextAllowed(grid, text)).toEqual({ chars: [], stop: true });
      }),
      { numRuns: 200, seed: 9 },
    );
    expect(nextAllowed(grid, 'a1').chars).toEqual([]); // blocked
    expect(nextAllowed(grid, 'b2 b2').chars).toEqual([]); // taken
    expect(nextAllowed(grid, 'z').chars).toEqual([]);
  });
});

describe('grid-packing environment', () => {
  const env = gridPacking();

  it('scores optimal, ratio and format exactly', () => {
    const task = { width: 5, height: 5, points: 4, blocked: [], optimum: 16, solution: 'a1 a5 e1 e5' };
    expect(scorePacking(task, 'a1 e5 a5 e1')).toEqual({ optimal: 1, ratio: 1, format: 1 });
    expect(scorePacking(task, 'a1 a5 e1 d4')).toEqual({ optimal: 0, ratio: 10 / 16, format: 1 });
    expect(scorePacking(task, 'a1 a5 e1')).toEqual({ optimal: 0, ratio: 0, format: 0 });
  });

  it('draws seeded, disjoint splits with an exact optimum per task', () => {
    const train = env.tasks('train', { seed: 1, count: 300 });
    expect(env.tasks('train', { seed: 1, count: 300 })).toEqual(train);
    expect(env.tasks('train', { seed: 2, count: 300 })).not.toEqual(train);
    const test = env.tasks('test', { seed: 0 });
    expect(new Set(test.map(env.taskId)).size).toBe(500);
    const trainIds = new Set(train.map(env.taskId));
    for (const task of test) expect(trainIds.has(env.taskId(task))).toBe(false);
    for (const task of test.slice(0, 40)) expect(scorePacking(task, task.solution).optimal).toBe(1);
  });

  it('lets the expert solve every test task and a random policy almost never', () => {
    const tasks = env.tasks('test', { seed: 0 });
    const rng = Rng.seeded(4);
    let expert = 0;
    let random = 0;
    let randomValid = 0;
    for (const task of tasks) {
      const episode = env.start(task, rng);
      for (const action of env.demonstrate?.(task) ?? []) episode.step(action);
      if (episode.outcome().success) expert++;
      // A random placement of valid cells (stronger than random characters, which are never valid).
      const free = freeCells(task);
      const cells = rng.shuffle(free).slice(0, task.points);
      const guess = env.start(task, rng);
      guess.step(formatPlacement(cells));
      if (guess.outcome().success) random++;
      if (guess.outcome().reward.format === 1) randomValid++;
    }
    expect(expert).toBe(tasks.length);
    expect(randomValid).toBe(tasks.length);
    expect(random / tasks.length).toBeLessThan(0.15);
  });

  it('keeps observations and answers within its alphabet and recommended sizes; the sampler reads the grid back', () => {
    const alphabet = new Set(env.alphabet?.());
    for (const task of env.tasks('train', { seed: 1, count: 200 })) {
      const text = env.start(task, Rng.seeded(1)).observation();
      for (const ch of text + task.solution) expect(alphabet.has(ch)).toBe(true);
      expect(task.solution.length).toBeLessThan(env.recommended?.maxNewTokens ?? 0);
      expect(text.length + task.solution.length + 2).toBeLessThanOrEqual(env.recommended?.contextLength ?? 0);
      const { width, height, points, blocked } = task;
      expect(gridOfObservation(`<bos>${text}`)).toEqual({ width, height, points, blocked });
    }
  });

  it('validates its options', () => {
    expect(() => gridPacking({ maxSide: 8 })).toThrow(/minSide <= maxSide <= 7/);
    expect(() => gridPacking({ minPoints: 1 })).toThrow(/2 <= minPoints/);
    expect(() => gridPacking({ maxBlocked: 20 })).toThrow(/'maxBlocked' must be 0..11/);
    expect(gridPacking({ minPoints: 2, maxPoints: 2 }).tasks('train', { seed: 1, count: 5 })[0]?.points).toBe(2);
  });
});
