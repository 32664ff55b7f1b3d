import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../test-support/run-cli.js';

describe('bench train prints what ran', () => {
  it('takes the seed, budget, environment options and test tasks of its text output from result.json', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'bench-train-print-'));
    const sets = [
      'evalTasks=4',
      'evalSamples=2',
      'sftSteps=2',
      'tasksPerStep=2',
      'groupSize=2',
      'model.dim=16',
      'model.heads=2',
      'model.layers=1',
    ];
    const result = await runCli(
      [
        'train',
        'grpo',
        '--env',
        'countdown',
        '--seed',
        '3',
        '--budget',
        'episodes=8',
        '--threads',
        '1',
        '--out',
        out,
        '--set',
        'envOptions.numbers=3',
        ...sets.flatMap((s) => ['--set', s]),
      ],
      { cwd: out },
    );
    expect(result.code).toBe(0);
    const doc = JSON.parse(readFileSync(path.join(out, 'result.json'), 'utf8'));
    const lines = result.stdout.split('\n');
    expect(lines[0]).toMatch(new RegExp(`^${doc.method} on ${doc.env}, seed ${doc.seed}, backend ${doc.backend}`));
    expect(lines[1]).toBe(
      `budget episodes ${doc.budget.limit.episodes}; environment options ${JSON.stringify(doc.config.envOptions)}`,
    );
    expect(doc.config.envOptions).toEqual({ numbers: 3 });
    expect(lines[3]).toBe(`evaluated on ${doc.final.perTask.length} test tasks x ${doc.config.evalSamples} samples`);
    expect(doc.final.perTask).toHaveLength(4);
    expect(result.stdout).toMatch(new RegExp(`pass@${doc.config.evalSamples} `));
  }, 120_000);
});
