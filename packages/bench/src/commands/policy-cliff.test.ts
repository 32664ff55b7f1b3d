import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli, schemaErrors } from '../test-support/run-cli.js';

const tiny = fileURLToPath(new URL('../../../trainer/src/test-support/tiny.ts', import.meta.url));
const small = [
  '--plugin',
  tiny,
  ...['sftSteps=2', 'tasksPerStep=4', 'groupSize=6', 'evalTasks=4'].flatMap((s) => ['--set', s]),
  '--budget',
  'episodes=48',
  '--seeds',
  '1',
];

describe('bench policy-cliff', () => {
  it('a perturbation of 0 moves nothing (paired runs are identical), and the JSON is valid', async () => {
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'bench-cliff-')), 'report');
    const result = await runCli([
      'policy-cliff',
      'reinforce-mean',
      '--env',
      'echo',
      '--epsilon',
      '0',
      '--entropy',
      '0',
      '--json',
      '--out',
      out,
      ...small,
    ]);
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.stdout);
    expect(schemaErrors('policy-cliff', doc)).toEqual([]);
    expect(doc.pairs).toHaveLength(1);
    expect(doc.pairs[0]).toMatchObject({ successShift: 0, taskDistance: 0, styleShift: 0 });
    expect(doc.weights).toEqual({ correct: 1, format: 0.1, style: 0 });
    // --out: results.json is the --json document; report.html plots it
    expect(JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8'))).toEqual(doc);
    expect(readFileSync(path.join(out, 'report.html'), 'utf8')).toMatch(/<svg[\s\S]*styleShift/);
  }, 120_000);

  it('runs a scale perturbation with and without entropy, one pair each', async () => {
    const result = await runCli([
      'policy-cliff',
      'reinforce-mean',
      '--env',
      'echo',
      '--perturb',
      'scale',
      '--epsilon',
      '0.5',
      '--entropy',
      '0,0.05',
      '--json',
      ...small,
    ]);
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.stdout);
    expect(schemaErrors('policy-cliff', doc)).toEqual([]);
    expect(doc.summaries.map((s: { entropyCoef: number }) => s.entropyCoef)).toEqual([0, 0.05]);
    expect(doc.weights.correct).toBeCloseTo(1.5, 12);
  }, 120_000);

  it.each([
    [['policy-cliff', 'reinforce-mean', '--env', 'echo', '--epsilon', 'x'], /bad --epsilon 'x': expected a number in \[-1, 1\]/],
    [
      ['policy-cliff', 'reinforce-mean', '--env', 'echo', '--perturb', 'shift'],
      /argument 'shift' is invalid. Allowed choices are tie, scale/,
    ],
    [
      ['policy-cliff', 'reinforce-mean', '--env', 'echo', '--set', 'entropyCoef=0.1'],
      /--set entropyCoef: policy-cliff sets it from --entropy/,
    ],
  ])('exits 2 naming the bad value %#', async (argv, message) => {
    const result = await runCli([...argv, '--plugin', tiny]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });
});
