/**
 * MPO's evolving rubric on a short countdown run: the judge's score replaces the true reward, the
 * meta step rewrites the rubric when the policy's own samples show a criterion gamed (and only
 * then), and the rubric's version is in the checkpoint, so a resumed run continues it.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRegistry } from '@policy-lab/core/node';
import { initBackend, train, whyUnfit } from '@policy-lab/trainer';
import { beforeAll, describe, expect, it } from 'vitest';
import { metricsOf, type RunMetrics, tinyRun } from './test-support/tiny-runs.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const { registry } = await createRegistry({ cwd: root, discoverFrom: [root] });
const SHAPER = 'mpo-evolving-rubric';
// A meta step every 2 steps, so that a short run has several.
registry.register(
  {
    name: 'mpo-test',
    methods: [
      {
        ...registry.get('methods', SHAPER),
        name: 'mpo-every-2',
        shapers: [{ name: SHAPER, options: { interval: 2 } }],
      },
    ],
  },
  'test',
);

const TINY = { ...tinyRun(48), checkpointEvery: 1 };
const STEP = 16;

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
});

type Metrics = RunMetrics;
const key = (name: string) => `shaper.${SHAPER}.${name}`;
const weightsOf = (m: Metrics) =>
  Object.fromEntries(
    Object.entries(m)
      .filter(([k]) => k.startsWith(key('weight.')))
      .map(([k, v]) => [k.slice(key('weight.').length), v]),
  );

async function run(steps: number, o: { outDir?: string; resume?: boolean } = {}) {
  const outDir = o.outDir ?? mkdtempSync(path.join(tmpdir(), 'mpo-'));
  const result = await train({
    registry,
    method: 'mpo-every-2',
    env: 'countdown',
    seed: 2,
    budget: { episodes: steps * STEP },
    overrides: TINY,
    outDir,
    ...(o.resume ? { resume: true } : {}),
  });
  return { outDir, result };
}

describe('mpo-evolving-rubric', () => {
  it('is registered as GRPO with its shaper and runs on any environment', () => {
    expect(registry.get('methods', SHAPER)).toMatchObject({ estimator: 'grpo', shapers: [SHAPER] });
    expect(whyUnfit({ registry, method: SHAPER, env: 'countdown', seed: 1 })).toBeUndefined();
  });

  it('a short countdown run: the version moves exactly at meta steps that found a criterion gamed; a resumed run continues it', async () => {
    const { outDir, result } = await run(6);
    expect(result.steps).toBe(6);
    const metrics = metricsOf(outDir);
    let rewrites = 0;
    metrics.forEach((m, step) => {
      expect(m['reward.correct']).toBe(0); // the judge's score is the training reward
      expect(m[key('judgeMean')]).toBeGreaterThan(0);
      const before = step > 0 ? (metrics[step - 1]?.[key('version')] as number) : 0;
      const gamed = m[key('gamed')];
      if (step % 2 === 1) expect(gamed).toBeGreaterThanOrEqual(0);
      else expect(gamed).toBeUndefined();
      const active = Object.values(weightsOf(step > 0 ? (metrics[step - 1] as Metrics) : m)).filter((w) => w > 0).length;
      const rewrote = gamed !== undefined && gamed > 0 && gamed < active;
      expect(m[key('version')]).toBe(before + (rewrote ? 1 : 0));
      if (rewrote) {
        rewrites++;
        // Some criterion lost weight and none of the others did.
        const old = weightsOf(metrics[step - 1] as Metrics);
        const now = weightsOf(m);
        expect(Object.keys(now).some((c) => (now[c] as number) < (old[c] as number))).toBe(true);
      }
    });
    // The policy's own samples game the starting rubric (seed 2: the tiny start's answers are all
    // wrong and fill most of the action limit, so `length` pays for nothing).
    expect(rewrites).toBeGreaterThan(0);
    expect(weightsOf(metrics[5] as Metrics).correct).toBeGreaterThan(weightsOf(metrics[0] as Metrics).correct as number);

    // Resumed from the step-3 checkpoint, the run continues the saved rubric.
    const part = await run(3);
    const sidecar = JSON.parse(readFileSync(path.join(part.outDir, 'checkpoint.json'), 'utf8')) as {
      state: { shapers?: Record<string, { rubric: { version: number } }> };
    };
    expect(sidecar.state.shapers?.[SHAPER]?.rubric.version).toBe(metrics[2]?.[key('version')]);
    await run(1); // the same shaper instance now holds another run's state
    const resumed = metricsOf((await run(6, { outDir: part.outDir, resume: true })).outDir);
    expect(resumed).toHaveLength(6);
    for (const step of [3, 4, 5]) {
      expect(resumed[step]?.[key('version')]).toBe(metrics[step]?.[key('version')]);
      expect(weightsOf(resumed[step] as Metrics)).toEqual(weightsOf(metrics[step] as Metrics));
    }
  }, 120_000);
});
