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

describe('bench compare (built CLI, real training on the local process pool)', () => {
  it('runs two methods x two seeds on two workers and writes results valid against the schema', async () => {
    expect(existsSync(bin)).toBe(true);
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'bench-compare-')), 'out');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        bin,
        'compare',
        'reinforce-mean',
        'picky',
        '--env',
        'echo',
        '--seeds',
        '2',
        '--budget',
        'episodes=48',
        '--workers',
        '2',
        '--out',
        out,
        '--reps',
        '200',
        '--plugin',
        tiny,
        '--set',
        'evalTasks=4',
        '--set',
        'sftSteps=2',
        '--set',
        'tasksPerStep=4',
        '--set',
        'groupSize=6',
      ],
      { cwd: path.dirname(out), timeout: 120_000 },
    );
    expect(stdout).toMatch(/reinforce-mean/);
    expect(stdout).toMatch(/sft-start/);
    const doc = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8'));
    expect(schemaErrors('compare', doc)).toEqual([]);
    expect(doc.runs.map((r: { id: string }) => r.id).sort()).toEqual([
      'picky__echo__s1',
      'picky__echo__s2',
      'reinforce-mean__echo__s1',
      'reinforce-mean__echo__s2',
    ]);
    for (const run of doc.runs) expect(run.budget.consumed.episodes).toBe(48);
    // the same SFT start for every method of a seed
    const bySeed = (seed: number) =>
      doc.runs.filter((r: { seed: number }) => r.seed === seed).map((r: { initial: unknown }) => JSON.stringify(r.initial));
    expect(new Set(bySeed(1)).size).toBe(1);
    // bench report re-renders from results.json alone
    const report = await runCli(['report', out, '--reps', '200']);
    expect(report.code).toBe(0);
    expect(report.stdout).toMatch(/final test success/);
  }, 180_000);

  it('exits 2 for bad input before running anything', async () => {
    const result = await runCli(['compare', 'grpo', '--seeds', '0', '--plugin', tiny, '--env', 'echo']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/bad --seeds '0'|unknown method/);
  });
});
