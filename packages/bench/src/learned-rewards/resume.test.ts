/**
 * The learned shapers' networks go into the run's checkpoint: a run resumed from its step-2
 * checkpoint continues the shaper's state saved there (not a retrained or a stale one), so its
 * step 3 logs what the uninterrupted run logged. Between the checkpoint and the resume, the same
 * shaper instance runs another run, as a new process would hold a shaper that never saw the first.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRegistry } from '@policy-lab/core/node';
import { initBackend, train } from '@policy-lab/trainer';
import { beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const { registry } = await createRegistry({ cwd: root, discoverFrom: [root] });

const TINY = {
  model: { dim: 16, layers: 1, heads: 2, contextLength: 160 },
  sftSteps: 16, // enough for groups whose rollouts differ (rapl-ot's user then has triplets to give)
  tasksPerStep: 2,
  groupSize: 4,
  evalTasks: 1,
  evalSamples: 1,
  evalEvery: 100,
  signFlipEvery: 0,
  learningRate: 0.01,
  checkpointEvery: 1,
};
const STEP = 8; // episodes per step: tasksPerStep x groupSize

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
});

type Metrics = Record<string, number>;
const metricsOf = (dir: string): Metrics[] =>
  readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Metrics);
const shaperMetrics = (m: Metrics | undefined, shaper: string) =>
  Object.fromEntries(Object.entries(m ?? {}).filter(([k]) => k.startsWith(`shaper.${shaper}.`)));

async function run(method: string, env: string, steps: number, o: { seed?: number; outDir?: string; resume?: boolean } = {}) {
  const outDir = o.outDir ?? mkdtempSync(path.join(tmpdir(), `${method}-resume-`));
  await train({
    registry,
    method,
    env,
    seed: o.seed ?? 3,
    budget: { episodes: steps * STEP },
    overrides: TINY,
    outDir,
    ...(o.resume ? { resume: true } : {}),
  });
  return outDir;
}

describe('learned shapers in checkpoints', () => {
  for (const [method, env] of [
    ['rapl-ot', 'gridnav'],
    ['dopamine-pbrs', 'gridnav'],
    ['irl-reward-world-model', 'gridnav'],
    ['multifidelity-reward', 'code'],
  ] as const)
    it(`${method}: the checkpoint holds the shaper's state, and a resumed run continues it`, async () => {
      const shaper = registry.get('shapers', method);
      const whole = metricsOf(await run(method, env, 3));
      const outDir = await run(method, env, 2);
      const sidecar = JSON.parse(readFileSync(path.join(outDir, 'checkpoint.json'), 'utf8')) as {
        step: number;
        state: { shapers?: Record<string, unknown> };
      };
      expect(sidecar.step).toBe(2);
      if (method === 'rapl-ot') expect(metricsOf(outDir)[1]?.['shaper.rapl-ot.triplets']).toBeGreaterThan(0);
      const saved = sidecar.state.shapers?.[method];
      // What was saved is the shaper's state after step 2, networks included.
      expect(saved).toEqual(JSON.parse(JSON.stringify(shaper.save?.())));
      expect(JSON.stringify(saved)).toMatch(/"params":"[A-Za-z0-9+/]{100,}/);
      await run(method, env, 1, { seed: 11 }); // the same instance now holds another run's state
      const resumed = metricsOf(await run(method, env, 3, { outDir, resume: true }));
      expect(resumed).toHaveLength(3);
      const step3 = shaperMetrics(resumed[2], method);
      expect(Object.keys(step3).length).toBeGreaterThan(0);
      expect(step3).toEqual(shaperMetrics(whole[2], method));
      // dopamine-pbrs pre-trains when it starts: a restored one does not.
      expect(step3[`shaper.${method}.pretrainStates`]).toBeUndefined();
    }, 600_000);
});
