/**
 * The `inspo` Method in a real (tiny) countdown run, found through the registry as the CLI finds
 * it: the population evolves (candidates written by the policy join, their verification rollouts
 * and writing are charged), and every charged episode is accounted for.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { methodDiagnosticsSection, methodStepDiagnostics } from './report/diagnostics-html.js';
import { registry, shortRun } from './test-support/short-run.js';

describe('inspo on countdown', () => {
  it('grows its population from failures, charging verification rollouts and writing to the run', async () => {
    const { result, steps } = await shortRun({
      method: 'inspo',
      env: 'countdown',
      seed: 5,
      episodes: 96,
      overrides: {
        model: { dim: 16, layers: 1, heads: 2, contextLength: 48 },
        tasksPerStep: 2,
        groupSize: 4,
        evalTasks: 8,
        evalSamples: 1,
        evalEvery: 100,
        signFlipEvery: 0,
        taskSourceOptions: { every: 2, verifyTasks: 4, candidates: 2, size: 3, minTrials: 4 },
      },
    });
    const total = (key: string) => steps.reduce((a, m) => a + (m[key] ?? 0), 0);
    const verification = total('taskSource.verificationEpisodes');
    // Verification rollouts are charged as episodes beside the training groups (8 per step).
    expect(verification).toBeGreaterThan(0);
    expect(verification % 4).toBe(0);
    expect(result.budget.consumed.episodes).toBe(steps.length * 8 + verification);
    expect(total('taskSource.proposed')).toBeGreaterThanOrEqual(verification / 4);
    // The policy's writing is charged as generated tokens.
    expect(steps.at(-1)?.['taskSource.generatedTokens']).toBeGreaterThan(0);
    // From the single plain seed, written instructions joined and are drawn.
    expect(total('taskSource.joined')).toBeGreaterThan(0);
    const sizes = steps.map((m) => m['taskSource.populationSize'] as number);
    expect(Math.max(...sizes)).toBeGreaterThan(1);
    for (const size of sizes) expect(size).toBeLessThanOrEqual(3);
    expect(steps.at(-1)?.['taskSource.instructionEntropy']).toBeGreaterThan(0);
  });

  it('is listed with its paper and runs by name', () => {
    const method = registry.get('methods', 'inspo');
    expect(method.taskSource).toBe('inspo');
    expect(method.paper?.arxiv).toBe('2512.01945');
    expect(registry.get('taskSources', 'inspo').unverified?.[0]).toMatch(/^adaptation: adapted/);
  });
});

describe('the instruction-population diagnostic', () => {
  it('averages the population metrics over seeds for inspo runs only (hand-computed means) and plots them', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'inspo-diag-'));
    const row = (step: number, size: number, best: number, drawn: number) => ({
      step,
      'taskSource.populationSize': size,
      'taskSource.instructionWeightBest': best,
      'taskSource.instructionWeightWorst': 0,
      'taskSource.instructionWeightDrawn': drawn,
    });
    const runs = [
      ['i1', [row(1, 1, 0.2, 0.2), row(2, 3, 0.6, 0.5)]],
      ['i2', [row(1, 2, 0.4, 0.3), row(2, 4, 0.8, 0.7)]],
      ['g1', [{ step: 1, rewardMean: 0.3 }]],
    ] as const;
    for (const [id, rows] of runs) {
      mkdirSync(path.join(out, 'runs', id), { recursive: true });
      writeFileSync(path.join(out, 'runs', id, 'metrics.jsonl'), `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
    }
    const found = methodStepDiagnostics(out, [
      { id: 'i1', method: 'inspo', env: 'countdown', seed: 1 },
      { id: 'i2', method: 'inspo', env: 'countdown', seed: 2 },
      { id: 'g1', method: 'grpo', env: 'countdown', seed: 1 },
    ]);
    const at = (metric: string, step: number) =>
      found.filter((d) => d.method === 'inspo' && d.metric === `taskSource.${metric}` && d.step === step).map((d) => d.value);
    expect(at('populationSize', 2)).toEqual([3.5]);
    expect(at('instructionWeightBest', 1)[0]).toBeCloseTo(0.3, 12);
    expect(at('instructionWeightDrawn', 2)[0]).toBeCloseTo(0.6, 12);
    expect(found.filter((d) => d.method === 'grpo')).toEqual([]);
    expect(found).toHaveLength(2 * 4);
    const html = await methodDiagnosticsSection('countdown', found);
    expect((html.match(/<svg/g) ?? []).length).toBe(1);
    expect(html).toContain('instruction population');
  });
});
