/**
 * A run with a learned soft prompt starts where the same run without one starts: the SFT warm
 * start trains the policy under the vectors RL and evaluation read (prompt tuning, Lester et al.
 * 2021, arXiv 2104.08691), so its first evaluation is not of an input the policy never saw.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRegistry } from '@policy-lab/core/node';
import { initBackend, type TrainResult, train } from '@policy-lab/trainer';
import { beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const { registry } = await createRegistry({ cwd: root, discoverFrom: [root] });

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
});

// The smallest countdown model whose SFT start is clearly above 0 (about 2 s of SFT per run).
const SMALL = {
  model: { dim: 32, layers: 2, heads: 2, contextLength: 48 },
  sftSteps: 200,
  tasksPerStep: 4,
  groupSize: 4,
  evalTasks: 64,
  evalSamples: 2,
  evalEvery: 100,
  signFlipEvery: 0,
};

const start = (method: string, overrides: Record<string, unknown>, sftCacheDir: string): Promise<TrainResult> =>
  train({
    registry,
    method,
    env: 'countdown',
    seed: 3,
    budget: { episodes: 16 },
    overrides: { ...SMALL, ...overrides },
    sft: 'cache',
    sftCacheDir,
  });

describe('the SFT start of a run with a soft prompt', () => {
  it('on countdown: above 0 and within 6 points of the same run without the soft prompt; OPPO starts there too', async () => {
    const cache = mkdtempSync(path.join(tmpdir(), 'soft-prompt-sft-'));
    const bare = (await start('grpo', {}, cache)).initial;
    const prompted = (await start('grpo', { softPrompt: 4 }, cache)).initial;
    const oppo = (await start('oppo-context', {}, cache)).initial;
    // The control: without the soft prompt this small SFT start succeeds on some test tasks.
    expect(bare.success).toBeGreaterThan(0.05);
    expect(prompted.success).toBeGreaterThan(0.03);
    expect(Math.abs(prompted.success - bare.success)).toBeLessThanOrEqual(0.06);
    // OPPO's z* is the run's 4-vector soft prompt: the same vectors, the same SFT start, the same evaluation.
    expect(oppo.success).toBe(prompted.success);
    expect(oppo.perTask).toEqual(prompted.perTask);
  }, 120_000);
});
