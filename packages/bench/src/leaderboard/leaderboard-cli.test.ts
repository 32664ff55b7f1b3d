import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { runCli, schemaErrors } from '../test-support/run-cli.js';

const bin = fileURLToPath(new URL('../../bin/bench.js', import.meta.url));
const tiny = fileURLToPath(new URL('../../../trainer/src/test-support/tiny.ts', import.meta.url));
const small = ['--set', 'evalTasks=4', '--set', 'sftSteps=2', '--set', 'tasksPerStep=4', '--set', 'groupSize=6'];

describe('bench compare --all (built CLI, real training)', () => {
  it('ranks the methods that train, lists the pair the trainer refuses as skipped, and writes leaderboard.md', async () => {
    expect(existsSync(bin)).toBe(true);
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'bench-board-')), 'out');
    const { stderr } = await promisify(execFile)(
      process.execPath,
      [
        bin,
        'compare',
        'reinforce-mean',
        'picky',
        // srgpo's estimator reads a step reward component that echo does not have.
        'srgpo',
        '--all',
        '--reference',
        'reinforce-mean',
        '--env',
        'echo',
        '--seeds',
        '2',
        '--budget',
        'episodes=48',
        '--out',
        out,
        '--reps',
        '200',
        '--plugin',
        tiny,
        ...small,
      ],
      { cwd: path.dirname(out), timeout: 180_000 },
    );
    expect(stderr).toMatch(/leaderboard preset/);
    expect(stderr).toMatch(/skipped: srgpo: estimator 'srgpo' needs reward component/);
    const doc = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8'));
    expect(schemaErrors('compare', doc)).toEqual([]);
    expect(doc.runs.map((r: { method: string }) => r.method).sort()).toEqual([
      'picky',
      'picky',
      'reinforce-mean',
      'reinforce-mean',
    ]);
    expect(doc.leaderboard.ranked.map((r: { method: string }) => r.method).sort()).toEqual(['picky', 'reinforce-mean']);
    expect(doc.leaderboard.skipped).toEqual([
      { method: 'srgpo', env: '*', reason: expect.stringMatching(/needs reward component/) },
    ]);
    // Pairs only against the reference and the SFT start: picky-reference, picky-start, reference-start.
    expect(doc.aggregates.multipleComparisons.pairs).toBe(3);
    // Where the time went, from the runs' own clocks (every run of this version records its phases).
    expect(doc.cost.runsTimed).toBe(4);
    expect(doc.cost.total.rollouts).toBeGreaterThan(0);
    expect(doc.cost.total.updates).toBeGreaterThan(0);
    expect(readFileSync(path.join(out, 'report.md'), 'utf8')).toMatch(/## Where the time went/);
    const board = readFileSync(path.join(out, 'leaderboard.md'), 'utf8');
    expect(board).toMatch(/\| rank \| method \| normalised IQM \[95% CI\] \| P\(> reinforce-mean\) \| echo \|/);
    expect(board).toMatch(/- srgpo: estimator 'srgpo' needs/);
    expect(readFileSync(path.join(out, 'report.html'), 'utf8')).toMatch(/<h2>Leaderboard<\/h2>.*performance profiles/s);
  }, 200_000);

  it('refuses a comparison with no method and no --all, and --reference without --all', async () => {
    const none = await runCli(['compare']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/name at least one method .* or --all/);
    const reference = await runCli(['compare', 'grpo', '--reference', 'gdpo']);
    expect(reference.code).toBe(2);
    expect(reference.stderr).toMatch(/--reference .* needs --all/);
    const absent = await runCli(['compare', 'gdpo', 'rloo', '--all', '--out', path.join(tmpdir(), 'never')]);
    expect(absent.code).toBe(2);
    expect(absent.stderr).toMatch(/--reference 'grpo' is not among the leaderboard's methods that train \(gdpo, rloo\)/);
  });
});
