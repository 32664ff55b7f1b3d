import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { clopperPearsonLower } from '../diagnostics/certificate.js';
import { runCli, schemaErrors } from '../test-support/run-cli.js';

const tiny = fileURLToPath(new URL('../../../trainer/src/test-support/tiny.ts', import.meta.url));
const small = ['--plugin', tiny, ...['sftSteps=2', 'tasksPerStep=4', 'groupSize=6'].flatMap((s) => ['--set', s])];

describe('bench certify', () => {
  it('certifies the expert: a Clopper-Pearson bound alpha^(1/n) minus 1 - rate^radius (closed form), valid JSON', async () => {
    const result = await runCli([
      'certify',
      'expert',
      '--env',
      'policy-judge',
      '--rate',
      '0.9',
      '--radius',
      '0,1,3',
      '--samples',
      '200',
      '--confidence',
      '0.99',
      '--json',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.stdout);
    expect(schemaErrors('certify', doc)).toEqual([]);
    const lower = 0.01 ** (1 / 200);
    expect(doc).toMatchObject({ kind: 'certify', bound: 'clopper-pearson', episodes: 200 });
    expect(doc.certificates.map((c: { mean: number }) => c.mean)).toEqual([1, 1, 1]);
    expect(doc.certificates[0].certified).toBeCloseTo(lower, 10);
    expect(doc.certificates[1].certified).toBeCloseTo(lower - 0.1, 10);
    expect(doc.certificates[2].certified).toBeCloseTo(lower - (1 - 0.9 ** 3), 10);
    // lower = 0.9772; lower - (1 - 0.9^B) >= 0.5 while B <= ln(0.5228) / ln(0.9) = 6.16
    expect(doc.certifiedRadius).toEqual({ threshold: 0.5, radius: 6 });
  });

  it('trains a smoothed policy and attacks only its evaluation: radius 0 reproduces the run exactly', async () => {
    const result = await runCli([
      'certify',
      'reinforce-mean',
      '--env',
      'echo',
      '--rate',
      '0.2',
      '--radius',
      '0,2',
      '--samples',
      '16',
      '--budget',
      'episodes=48',
      '--attack',
      '--json',
      ...small,
    ]);
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.stdout);
    expect(schemaErrors('certify', doc)).toEqual([]);
    expect(doc.bound).toBe('hoeffding');
    expect(doc.run.steps).toBe(2);
    expect(doc.attacked[0]).toEqual({ radius: 0, success: doc.run.finalSuccess });
    expect(doc.certificates[0].mean).toBeCloseTo(doc.run.finalSuccess, 10);
    for (const c of doc.certificates) expect(c.certified).toBeLessThanOrEqual(c.mean);
  }, 120_000);

  it('certifies a finished run from its folder: its checkpoint plays iid episodes (closed-form bound), paired across radii', async () => {
    const run = mkdtempSync(path.join(tmpdir(), 'bench-certify-run-'));
    const trained = await runCli(
      ['train', 'reinforce-mean', '--env', 'echo', '--budget', 'episodes=48', '--out', run, '--json', ...small],
      { cwd: run },
    );
    expect(trained.code).toBe(0);
    const out = path.join(run, 'certify');
    const argv = ['certify', run, '--rate', '0.8', '--radius', '0,1,3', '--samples', '64', '--attack', '--plugin', tiny];
    const result = await runCli([...argv, '--out', out, '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.stdout);
    expect(schemaErrors('certify', doc)).toEqual([]);
    expect(doc).toMatchObject({
      env: 'echo',
      bound: 'clopper-pearson',
      episodes: 64,
      run: { folder: run, method: 'reinforce-mean', steps: 2 },
    });
    const [clean] = doc.certificates;
    const successes = Math.round(clean.mean * 64);
    expect(clean.mean).toBe(successes / 64);
    expect(clean.cleanLower).toBeCloseTo(clopperPearsonLower(successes, 64, 0.99), 12);
    for (const c of doc.certificates) expect(c.certified).toBeCloseTo(Math.max(0, clean.cleanLower - (1 - 0.8 ** c.radius)), 12);
    // radius 0 attacks nothing: the same tasks, noise and decoding give exactly the clean episodes
    expect(doc.attacked[0]).toEqual({ radius: 0, success: clean.mean });
    // the same seed plays the same episodes again; results.json is the --json document
    const again = await runCli([...argv, '--json']);
    expect(JSON.parse(again.stdout).certificates).toEqual(doc.certificates);
    expect(JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8'))).toEqual(doc);
    expect(readFileSync(path.join(out, 'report.html'), 'utf8')).toMatch(
      /<svg[\s\S]*certified: lower bound - \(1 - rate\^radius\)/,
    );
    // a run trained on echo cannot be certified on another environment
    const other = await runCli(['certify', run, '--env', 'policy-judge', '--plugin', tiny]);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/bad --env 'policy-judge': run .* was trained on 'echo'; accepted: echo/);
  }, 180_000);

  it.each([
    [['certify', 'expert'], /--env is required for policy 'expert'/],
    [['certify', './no-such-run', '--rate', '0.5'], /bad run '.\/no-such-run': no such folder/],
    [
      ['certify', mkdtempSync(path.join(tmpdir(), 'bench-certify-empty-'))],
      /checkpoint.json \(ENOENT\); give the --out folder of a finished bench train/,
    ],
    [['certify', 'expert', '--env', 'policy-judge', '--rate', '1.5'], /bad --rate '1.5': expected a number in \[0, 1\]/],
    [['certify', 'expert', '--env', 'policy-judge', '--radius', '1,-2'], /bad --radius '-2': expected an integer in \[0, /],
    [['certify', 'expert', '--env', 'policy-judge', '--confidence', '1'], /bad --confidence '1'/],
    [
      ['certify', 'expurt', '--env', 'policy-judge'],
      /unknown policy 'expurt': accepted expert, random, a run folder, or a method \(/,
    ],
    [
      ['certify', 'grpo', '--env', 'policy-judge', '--bound', 'clopper-pearson'],
      /bad --bound 'clopper-pearson' .*accepted: hoeffding/,
    ],
    [['certify', 'expert', '--env', 'nowhere'], /unknown environment 'nowhere'/],
  ])('exits 2 with one line naming the bad value %#', async (argv, message) => {
    const result = await runCli(argv);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });
});
