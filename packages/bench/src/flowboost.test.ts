/**
 * The flowboost Method inside a real (tiny) grid-packing run, found through the registry as the
 * CLI finds it: masked rollouts, local search charged as environment steps, the elite buffer's
 * supervised step charged as trained tokens, and the best-found-against-optimum diagnostic in
 * the result.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRegistry } from '@policy-lab/core/node';
import { initBackend, train } from '@policy-lab/trainer';
import { beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const { registry } = await createRegistry({ cwd: root, discoverFrom: [root] });

const TINY = {
  model: { dim: 16, layers: 1, heads: 2, contextLength: 48 },
  tasksPerStep: 2,
  groupSize: 4,
  evalTasks: 8,
  evalSamples: 2,
  evalEvery: 100,
  signFlipEvery: 0,
};

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
});

const run = async (method: string, env: string, episodes: number) => {
  const outDir = mkdtempSync(path.join(tmpdir(), 'flowboost-'));
  const result = await train({
    registry,
    method,
    env,
    seed: 2,
    budget: { episodes },
    overrides: { ...TINY, taskSourceOptions: { evaluations: 50, batch: 4 } },
    sft: 'none',
    outDir,
  });
  const steps = readFileSync(path.join(outDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, number>);
  return { result, steps };
};

describe('flowboost on grid-packing', () => {
  it('masks every training answer into a valid construction, refines them, trains on elites, and charges both', async () => {
    const { result, steps } = await run('flowboost', 'grid-packing', 24);
    expect(steps).toHaveLength(3);
    // From an untrained policy (no SFT start) every sampled answer is still a valid placement.
    for (const m of steps) expect(m['reward.format']).toBe(1);
    for (const m of steps) {
      expect(m['taskSource.refined']).toBe(2);
      expect(m['taskSource.localSearchEvaluations']).toBe(100);
      expect(m['taskSource.trainedTokens']).toBeGreaterThan(0);
      expect(m['taskSource.supervisedLoss']).toBeGreaterThan(0);
      expect(m['taskSource.eliteSize']).toBeGreaterThan(0);
      // Local search never hands back worse than the policy's best answer.
      expect(m['taskSource.refinedRatio']).toBeGreaterThanOrEqual(m['taskSource.policyRatio'] as number);
    }
    const consumed = result.budget.consumed;
    // Every episode is one environment step; the 300 local-search evaluations come on top.
    expect(consumed.envSteps).toBe(consumed.episodes + 300);
    expect(result.diagnostics['taskSource.eliteRatio']).toBeGreaterThan(0);
    expect(result.diagnostics['taskSource.eliteRatio']).toBeLessThanOrEqual(1);
    expect(result.extensions).toEqual({ sampler: 'flowboost-mask', taskSource: 'flowboost-elites' });
  }, 60_000);

  it('is refused on an environment without an extremal structure', async () => {
    await expect(run('flowboost', 'countdown', 24)).rejects.toThrow(/environments that have one: grid-packing/);
  });
});
