import { type Registry, UsageError } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RunRecord } from '../report/aggregate.js';
import { buildLeaderboard, normalise, PROFILE_THRESHOLDS } from './board.js';
import { leaderboardMarkdown } from './render.js';
import { selectLeaderboard } from './select.js';

const evaluation = (success: number) => ({ success, greedySuccess: success, passAtK: success, reward: {} });

function run(method: string, env: string, seed: number, start: number, final: number): RunRecord {
  return {
    id: `${method}__${env}__s${seed}`,
    method,
    env,
    seed,
    budget: { limit: { episodes: 10 }, consumed: { episodes: 10 } },
    initial: evaluation(start),
    final: evaluation(final),
    curve: [],
    diagnostics: {},
    steps: 1,
    config: {},
  };
}

describe('buildLeaderboard', () => {
  // Worked by hand: env a starts at 0.2, env b at 0.5.
  // m: a 0.6, 0.4 -> 0.5, 0.25; b 0.75, 1.0 -> 0.5, 1.0; pooled sorted 0.25 0.5 0.5 1.0, IQM = mean(0.5, 0.5) = 0.5.
  // k: only on a (0.2 -> 0): partial, not ranked.
  const runs = [
    run('m', 'a', 1, 0.2, 0.6),
    run('m', 'a', 2, 0.2, 0.4),
    run('m', 'b', 1, 0.5, 0.75),
    run('m', 'b', 2, 0.5, 1.0),
    run('grpo', 'a', 1, 0.2, 0.2),
    run('grpo', 'a', 2, 0.2, 0.2),
    run('grpo', 'b', 1, 0.5, 0.5),
    run('grpo', 'b', 2, 0.5, 0.5),
    run('k', 'a', 1, 0.2, 0.2),
    run('k', 'a', 2, 0.2, 0.2),
  ];
  const board = buildLeaderboard(runs, { reference: 'grpo', bootstrap: { reps: 200 } });

  it('normalises each environment by its SFT start and aggregates with the IQM', () => {
    expect(board.envs).toEqual([
      { env: 'a', start: 0.2 },
      { env: 'b', start: 0.5 },
    ]);
    expect(board.ranked.map((r) => r.method)).toEqual(['m', 'grpo']);
    expect(board.ranked[0]?.normalised.estimate).toBeCloseTo(0.5, 12);
    expect(board.ranked[1]?.normalised.estimate).toBe(0);
    expect(board.ranked[0]?.success).toEqual({ a: 0.5, b: 0.875 });
  });

  it('keeps methods that missed an environment out of the ranking', () => {
    expect(board.partial.map((r) => [r.method, r.envs])).toEqual([['k', ['a']]]);
  });

  it('profiles count the runs strictly above each threshold', () => {
    const m = board.ranked[0];
    const at = (tau: number) => m?.profile[PROFILE_THRESHOLDS.indexOf(tau)];
    expect(at(0.45)).toBe(0.75);
    expect(at(0.5)).toBe(0.25);
    expect(at(-0.5)).toBe(1);
  });

  it('gives the probability of improving on the reference', () => {
    // Every m score is >= every grpo score (0), ties only never: P = 1 on both environments.
    expect(board.ranked[0]?.improvementOverReference?.estimate).toBe(1);
    expect(board.ranked[1]?.improvementOverReference).toBeUndefined();
  });

  it('leaves out an environment whose SFT start solves everything, and says why', () => {
    const solved = buildLeaderboard([run('m', 'a', 1, 1, 1), run('m', 'b', 1, 0.5, 0.75)], { bootstrap: { reps: 100 } });
    expect(solved.envs[0]?.excluded).toMatch(/already solves every test task/);
    expect(solved.ranked[0]?.normalised.estimate).toBe(0.5);
  });

  it('normalise maps the start to 0 and a perfect score to 1, and keeps order', () => {
    fc.assert(
      fc.property(
        // Success rates are counts over test tasks: fractions k / 1000.
        fc.integer({ min: 0, max: 999 }).map((k) => k / 1000),
        fc.integer({ min: 0, max: 1000 }).map((k) => k / 1000),
        fc.integer({ min: 0, max: 1000 }).map((k) => k / 1000),
        (start, x, y) => {
          expect(normalise(start, start)).toBe(0);
          expect(normalise(1, start)).toBeCloseTo(1, 12);
          if (x < y) expect(normalise(x, start)).toBeLessThan(normalise(y, start));
        },
      ),
    );
  });

  it('the Markdown names every environment, the ranked, the partial and the skipped', () => {
    const text = leaderboardMarkdown({ ...board, skipped: [{ method: 'opd', env: '*', reason: 'needs a teacher' }] });
    expect(text).toMatch(/\| 1 \| m \| 0\.500 \[/);
    expect(text).toMatch(/\| k \| 0\.000 .*\| skipped \|/);
    expect(text).toContain('- opd: needs a teacher');
  });
});

describe('selectLeaderboard', () => {
  // selectLeaderboard reads names and checks that each named one exists: a two-method stand-in registry.
  const known = { methods: ['gigpo', 'grpo', 'opd'], environments: ['countdown', 'gridnav'] } as const;
  const registry = {
    names: (kind: keyof typeof known) => [...known[kind]],
    get: (kind: keyof typeof known, name: string) => {
      if (!(known[kind] as readonly string[]).includes(name)) throw new UsageError(`unknown ${kind} '${name}'`);
      return { name };
    },
  } as unknown as Registry;
  const whyUnfit = ({ method, env }: { method: string; env: string }) =>
    method === 'opd' ? 'needs a teacher' : method === 'gigpo' && env === 'countdown' ? 'needs several turns' : undefined;

  it('runs every method on every environment it fits and lists the rest with the reason', () => {
    const selection = selectLeaderboard(registry, { methods: [], envs: undefined, overrides: {}, whyUnfit });
    expect(selection.methods).toEqual(['gigpo', 'grpo']);
    expect(selection.envs).toEqual(['countdown', 'gridnav']);
    expect(selection.skipped).toEqual([
      { method: 'gigpo', env: 'countdown', reason: 'needs several turns' },
      { method: 'opd', env: '*', reason: 'needs a teacher' },
    ]);
  });

  it('refuses an unknown name and a set where nothing trains', () => {
    expect(() => selectLeaderboard(registry, { methods: ['nope'], envs: undefined, overrides: {}, whyUnfit })).toThrow(
      UsageError,
    );
    expect(() => selectLeaderboard(registry, { methods: ['opd'], envs: ['gridnav'], overrides: {}, whyUnfit })).toThrow(
      /no method of the leaderboard trains on gridnav: opd \(needs a teacher\)/,
    );
  });
});

describe('the SFT start a leaderboard normalises by', () => {
  it('is the start most runs of a seed share, not the last run’s (a method with its own start or decoding)', () => {
    // vas decodes evaluation by its own sampler and token-dpo-beam by beam search: their initial
    // evaluations differ from the plain start that grpo and rloo share, and they come last in run order.
    const runs = [
      run('grpo', 'a', 1, 0.2, 0.4),
      run('rloo', 'a', 1, 0.2, 0.3),
      run('vas', 'a', 1, 0.6, 0.6),
      run('grpo', 'a', 2, 0.3, 0.4),
      run('rloo', 'a', 2, 0.3, 0.5),
      run('vas', 'a', 2, 0.7, 0.7),
    ];
    const board = buildLeaderboard(runs, { reference: 'grpo', bootstrap: { reps: 50 } });
    expect(board.envs[0]?.start).toBeCloseTo(0.25, 12);
  });
});

describe('methods with a start of their own', () => {
  it('are flagged on the environments where they started elsewhere, and the Markdown says what that means for their score', () => {
    // spark trains its SFT start with judge rows on a, so its runs on a do not start where the board's start is.
    const own = (r: RunRecord): RunRecord => ({
      ...r,
      sftStart: { steps: 8, rows: 256, extraRows: 256, source: 'spark-self-judge' },
    });
    const runs = [
      run('grpo', 'a', 1, 0.2, 0.3),
      run('grpo', 'b', 1, 0.5, 0.5),
      own(run('spark', 'a', 1, 0.4, 0.45)),
      run('spark', 'b', 1, 0.5, 0.5),
      { ...run('prompted', 'a', 1, 0.1, 0.2), config: { softPrompt: 8 } },
    ];
    const board = buildLeaderboard(runs, { reference: 'grpo', bootstrap: { reps: 50 } });
    const row = (method: string) => [...board.ranked, ...board.partial].find((r) => r.method === method);
    expect(row('spark')?.ownStart).toEqual(['a']);
    expect(row('prompted')?.ownStart).toEqual(['a']);
    expect(row('grpo')?.ownStart).toBeUndefined();
    const markdown = leaderboardMarkdown(board);
    expect(markdown).toContain('| spark (own start: a) |');
    expect(markdown).toContain('| grpo |');
    expect(markdown).toMatch(/own start: .*normalised against the board's SFT start/);
  });
});
