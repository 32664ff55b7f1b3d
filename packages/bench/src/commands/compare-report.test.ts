/**
 * What a comparison prints and writes is what ran: a real (tiny) run of the built CLI with
 * overridden seeds, budget and environment options, checked figure by figure against its
 * results.json; then --baseline and --fail-on-regression on that run's results, and a plan
 * that is refused before anything is created.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { RunRecord } from '../report/aggregate.js';
import type { ComparisonDocument } from '../report/render.js';
import { runCli, schemaErrors } from '../test-support/run-cli.js';

const bin = fileURLToPath(new URL('../../bin/bench.js', import.meta.url));
const tiny = [
  '--set',
  'evalTasks=4',
  '--set',
  'evalSamples=2',
  '--set',
  'sftSteps=2',
  '--set',
  'tasksPerStep=2',
  '--set',
  'groupSize=2',
  '--set',
  'model.dim=16',
  '--set',
  'model.heads=2',
  '--set',
  'model.layers=1',
];
const argv = (out: string) => [
  'compare',
  'grpo',
  '--env',
  'countdown',
  '--seeds',
  '2',
  '--budget',
  'episodes=8',
  '--set',
  'envOptions.numbers=3',
  '--set',
  'envOptions.maxNumber=20',
  ...tiny,
  '--reps',
  '200',
  '--workers',
  '2',
  '--out',
  out,
];

/** Every "N seeds" / "seeds N" and "episodes N" / "N episodes" a text states. */
function figures(text: string): { seeds: number[]; episodes: number[] } {
  const all = (pattern: RegExp) => [...text.matchAll(pattern)].map((m) => Number(m[1] ?? m[2]));
  return { seeds: all(/(\d+) seeds|seeds (\d+)/g), episodes: all(/(?<!after )(\d+) episodes|episodes (\d+)/g) };
}

describe('bench compare says what ran', () => {
  it('prints and reports the seeds, budget, envOptions and test tasks of results.json; --baseline; exit 3', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bench-said-'));
    const out = path.join(dir, 'out');
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [bin, ...argv(out)], { cwd: dir, timeout: 150_000 });
    const doc = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')) as ComparisonDocument & {
      config: {
        seeds: number[];
        budget: { episodes: number };
        envOptions: Record<string, object>;
        splits: Record<string, { test: number; trainDistinct: number }>;
      };
    };
    expect(schemaErrors('compare', doc)).toEqual([]);
    const seeds = doc.config.seeds.length;
    const episodes = doc.config.budget.episodes;
    expect([seeds, episodes]).toEqual([2, 8]);
    expect(doc.config.envOptions.countdown).toMatchObject({ numbers: 3, maxNumber: 20 });
    expect(doc.config.splits.countdown?.test).toBeGreaterThanOrEqual(200);
    const testTasks = (doc.runs[0] as RunRecord).final.perTask?.length;
    expect(testTasks).toBe(4);
    for (const run of doc.runs) {
      expect(run.final.perTask).toHaveLength(4);
      expect(run.final.success).toBeCloseTo((run.final.perTask as number[]).reduce((a, b) => a + b, 0) / 4, 12);
    }
    const markdown = readFileSync(path.join(out, 'report.md'), 'utf8');
    const html = readFileSync(path.join(out, 'report.html'), 'utf8');
    for (const [name, text] of Object.entries({ stdout, stderr, markdown, html })) {
      const found = figures(text);
      // Every stated seed count and episode budget is the one that ran (the preset's 5 and 1600 never appear),
      // except the standard preset's threshold, which the level judgement names as such.
      expect(found.seeds.length, name).toBeGreaterThan(0);
      expect(
        found.seeds.filter((n) => n !== seeds && n !== 10),
        name,
      ).toEqual([]);
      expect(
        found.episodes.filter((n) => n !== episodes && n !== 8000),
        name,
      ).toEqual([]);
      expect(text, name).toMatch(/quick preset with overrides: seeds 2, episodes 8/);
      expect(text, name).toMatch(/smoke-level: 2 seeds and 8 episodes per run/);
      expect(text, name).toMatch(/envOptions\.numbers 3, envOptions\.maxNumber 20/);
      expect(text, name).not.toMatch(/5 seeds|1600/);
    }
    expect(stdout).toMatch(new RegExp(`on ${testTasks} test tasks`));
    expect(stdout).toContain(`Note: ${doc.config.note}`);
    for (const text of [markdown, html]) {
      expect(text).toContain(`Environment options (envOptions) of countdown: ${JSON.stringify(doc.config.envOptions.countdown)}`);
      expect(text).toContain(
        `Evaluation on countdown: ${testTasks} test tasks per run, of the ${doc.config.splits.countdown.test} of its test split (evalTasks 4), 2 samples per task`,
      );
      // The pool the runs drew from, as measured when the comparison was planned.
      expect(text).toContain(`from a pool of ${doc.config.splits.countdown.trainDistinct} distinct tasks`);
      expect(text).toContain(`${seeds} seeds (${doc.config.seeds.join(', ')}); budget episodes ${episodes} per run`);
    }
    // The table's figures are the aggregates of results.json.
    const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
    for (const m of doc.aggregates.envs[0]?.methods ?? []) {
      const row = `${pct(m.success.estimate)} [${pct(m.success.low)}, ${pct(m.success.high)}]`;
      expect(stdout).toContain(row);
      expect(markdown).toContain(`| ${m.method} | ${m.runs} | ${row} | [${pct(m.successTwoLevel?.low ?? Number.NaN)}, `);
    }

    // --baseline: the same results are no difference; a baseline that did better flags a regression.
    const same = path.join(dir, 'same.json');
    writeFileSync(same, JSON.stringify(doc));
    const resume = [...argv(out), '--resume', '--fail-on-regression'];
    const unchanged = await runCli([...resume, '--baseline', same], { cwd: dir });
    expect(unchanged.stderr).not.toMatch(/bench:|differs in/);
    expect(unchanged.code).toBe(0);
    expect(unchanged.stdout).toMatch(/grpo on countdown: no difference/);
    const better = structuredClone(doc);
    for (const run of better.runs.filter((r) => r.method === 'grpo')) {
      run.final.perTask = (run.final.perTask as number[]).map((v) => Math.min(1, v + 0.5));
      run.final.success = (run.final.perTask as number[]).reduce((a, b) => a + b, 0) / 4;
    }
    const betterFile = path.join(dir, 'better.json');
    writeFileSync(betterFile, JSON.stringify(better));
    const regressed = await runCli([...resume, '--baseline', betterFile], { cwd: dir });
    expect(regressed.code).toBe(3);
    expect(regressed.stdout).toMatch(/grpo on countdown: regressed/);
    expect(regressed.stdout).toMatch(/sft-start on countdown: no difference/);
    expect(regressed.stderr).toMatch(/^bench: regressed against --baseline .*better\.json: grpo on countdown/m);
    expect(regressed.stderr).not.toMatch(/--debug/);
    const written = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8'));
    expect(schemaErrors('compare', written)).toEqual([]);
    expect(written.baseline.verdicts.map((v: { method: string; verdict: string }) => `${v.method}:${v.verdict}`)).toEqual([
      'sft-start:no difference',
      'grpo:regressed',
    ]);
    expect(readFileSync(path.join(out, 'report.md'), 'utf8')).toMatch(
      /## Against the baseline[\s\S]*- grpo on countdown: regressed/,
    );
    // Without --fail-on-regression a regression is reported, not an error.
    expect((await runCli([...argv(out), '--resume', '--baseline', betterFile], { cwd: dir })).code).toBe(0);

    // A baseline of another protocol, or no comparison at all, is bad input.
    const other = structuredClone(doc);
    (other.config as { budget: unknown }).budget = { episodes: 16 };
    writeFileSync(path.join(dir, 'other.json'), JSON.stringify(other));
    const refused = await runCli([...resume, '--baseline', path.join(dir, 'other.json')], { cwd: dir });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/ran another protocol: budget "episodes=16" there, "episodes=8" here/);
    writeFileSync(path.join(dir, 'junk.json'), '{"kind":"train"}');
    const junk = await runCli([...resume, '--baseline', path.join(dir, 'junk.json')], { cwd: dir });
    expect(junk.code).toBe(2);
    expect(junk.stderr).toMatch(/not the results.json of a comparison/);
    const alone = await runCli([...argv(out), '--resume', '--fail-on-regression'], { cwd: dir });
    expect(alone.code).toBe(2);
    expect(alone.stderr).toMatch(/--fail-on-regression needs --baseline/);
  }, 240_000);

  it('validates the whole plan before anything runs or any folder is created', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bench-plan-'));
    const cases: [string[], RegExp][] = [
      [['--env', ','], /^bench: bad --env ',': name at least one environment \(accepted: .*countdown/],
      [['--set', 'learningRate=x'], /^bench: --set: learningRate must be a number > 0 and <= 10, got "x"\n$/],
      [['--set', 'envOptions.numbers=9'], /^bench: countdown: option 'numbers' must be 2\.\.6, got 9\n$/],
      [['--set', 'loss=nope'], /^bench: unknown loss 'nope'/],
      [['--env', 'countdown,countdown'], /environment 'countdown' is named twice/],
      [['--reps', 'x'], /^bench: bad --reps 'x': expected an integer >= 100\n$/],
    ];
    for (const [extra, message] of cases) {
      const out = path.join(dir, `out-${cases.findIndex((c) => c[0] === extra)}`);
      const result = await runCli(['compare', 'grpo', '--seeds', '1', '--out', out, ...extra], { cwd: dir });
      expect(result.code, extra.join(' ')).toBe(2);
      expect(result.stderr, extra.join(' ')).toMatch(message);
      expect(result.stderr.trim().split('\n'), extra.join(' ')).toHaveLength(1);
      expect(existsSync(out), extra.join(' ')).toBe(false);
    }
  }, 60_000);
});
