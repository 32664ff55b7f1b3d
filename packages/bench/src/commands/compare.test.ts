import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
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

  it('trains every run on --data file.jsonl offline, records the file, and refuses a changed one on --resume', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bench-compare-data-'));
    const data = path.join(dir, 'prefs.jsonl');
    const pairs = ['{"prompt":"say a:","chosen":"a","rejected":"b"}', '{"prompt":"say b:","chosen":"b","rejected":"a"}'];
    writeFileSync(data, `${pairs.join('\n')}\n`);
    const out = path.join(dir, 'out');
    const argv = ['compare', 'dpo-online', '--env', 'echo', '--seeds', '1', '--budget', 'episodes=48', '--workers', '1'];
    const sets = ['evalTasks=4', 'sftSteps=2', 'tasksPerStep=4', 'groupSize=6'].flatMap((s) => ['--set', s]);
    const rest = ['--out', out, '--reps', '200', '--plugin', tiny, '--data', data, ...sets];
    await promisify(execFile)(process.execPath, [bin, ...argv, ...rest], { cwd: dir, timeout: 120_000 });
    const doc = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8'));
    expect(schemaErrors('compare', doc)).toEqual([]);
    expect(doc.config.preferences.file).toBe(data);
    expect(doc.config.preferences.sha256).toMatch(/^[0-9a-f]{64}$/);
    // Offline: the budget went to dataset pairs (12 a step, 2 episodes a pair), nothing was generated.
    const run = doc.runs.find((r: { method: string }) => r.method === 'dpo-online');
    expect(run.budget.consumed).toMatchObject({ episodes: 48, generatedTokens: 0 });

    writeFileSync(data, `${pairs[0]}\n`);
    const changed = await runCli([...argv, ...rest, '--resume'], { cwd: dir });
    expect(changed.code).toBe(2);
    expect(changed.stderr).toMatch(/holds a different comparison/);
    writeFileSync(data, `${pairs[0]}\n{"prompt":"say a:"}\n`);
    const bad = await runCli([...argv, ...rest, '--force'], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/prefs\.jsonl:2: missing field 'chosen'/);
  }, 180_000);

  it('exits 2 for bad input before running anything', async () => {
    const result = await runCli(['compare', 'grpo', '--seeds', '0', '--plugin', tiny, '--env', 'echo']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/bad --seeds '0'|unknown method/);
  });

  it('exits 2 naming both numbers when an explicit evalTasks exceeds the test split, before --out exists', async () => {
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'bench-compare-split-')), 'out');
    const small = ['--set', 'envOptions.numbers=2', '--set', 'envOptions.maxNumber=3'];
    const result = await runCli(['compare', 'grpo', '--out', out, ...small, '--set', 'evalTasks=4']);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(
      "bench: --set evalTasks=4: environment 'countdown' has 3 test tasks under its options (accepted: 1..3)",
    );
    expect(existsSync(out)).toBe(false);
  });
});
