import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli, schemaErrors } from '../test-support/run-cli.js';

const tiny = fileURLToPath(new URL('../../../trainer/src/test-support/tiny.ts', import.meta.url));
const base = ['--plugin', tiny, '--set', 'evalTasks=4', '--set', 'sftSteps=2', '--set', 'tasksPerStep=4', '--set', 'groupSize=6'];

async function trained(method: string): Promise<string> {
  const out = mkdtempSync(path.join(tmpdir(), `bench-credit-map-${method}-`));
  const result = await runCli(
    [
      'train',
      method,
      '--env',
      'echo',
      '--seed',
      '3',
      '--budget',
      'episodes=48',
      '--out',
      out,
      ...base,
      '--set',
      'learningRate=0.03',
    ],
    { cwd: out },
  );
  expect(result.code).toBe(0);
  return out;
}

describe('bench credit-map', () => {
  it('prints JSON and writes results.json valid against the credit-map schema; the sums check themselves', async () => {
    const run = await trained('dpo-online');
    const report = path.join(run, 'credit');
    const result = await runCli(
      ['credit-map', run, '--pairs', '2', '--samples', '4', '--json', '--out', report, '--plugin', tiny],
      {
        cwd: run,
      },
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.stdout);
    expect(schemaErrors('credit-map', doc)).toEqual([]);
    expect(doc).toMatchObject({ kind: 'credit-map', method: 'dpo-online', env: 'echo', run });
    expect(doc.answers.length).toBeGreaterThanOrEqual(2);
    expect(doc.maxSumError).toBeLessThan(1e-4);
    expect(doc.cost.episodes).toBe(4 * doc.tasksTried);
    expect(JSON.parse(readFileSync(path.join(report, 'results.json'), 'utf8'))).toEqual(doc);
    // The schema is not vacuous: a credit map without its answers' credits is refused.
    const broken = { ...doc, answers: doc.answers.map(({ credits: _, ...rest }: Record<string, unknown>) => rest) };
    expect(schemaErrors('credit-map', broken).join('\n')).toMatch(/must have required property 'credits'/);
  });

  it('exits 2 with one line for a run without a reference', async () => {
    const run = await trained('reinforce-mean');
    const result = await runCli(['credit-map', run, '--plugin', tiny], { cwd: run });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/no reference\.safetensors/);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });
});
