/**
 * Whether SPARK acts on a run (a CI stage, .ci/stages/spark-acting.sh, not part of `npm test`: the SFT
 * start with judge rows and 3,200 episodes take minutes): the policy's own verdicts on held-out
 * verified pairs (a succeeded and a failed sample of the same test task, never trained on) rise
 * over the run and end above the judge it started from (one-sided exact McNemar test, p < 0.01,
 * >= 200 distinct pairs). Countdown with numbers up to 30 (targets up to 99): 877 training and
 * 252 test tasks, and a policy right often enough that its groups give pairs. Measured: it holds
 * on seed 1 (42.0% -> 44.7% -> 48.4%, p = 1.3e-3) and not on seed 2 (52.9% -> 50.4% -> 50.8%).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRegistry } from '@policy-lab/core/node';
import { initBackend, type TrainResult, train } from '@policy-lab/trainer';
import { beforeAll, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const { registry } = await createRegistry({ cwd: root, discoverFrom: [root] });

/** The quick preset's model and group size; 32 tasks a step, so each step builds up to 16 auxiliary items. */
const OVERRIDES = {
  tasksPerStep: 32,
  evalTasks: 250,
  evalSamples: 8,
  evalEvery: 1000,
  signFlipEvery: 0,
  envOptions: { maxNumber: 30, maxTarget: 99 },
};

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
});

/** One run read at its middle and its end (the second call resumes it: only the budget grows). */
async function judgeOverRun(seed: number) {
  const outDir = mkdtempSync(path.join(tmpdir(), `spark-acting-${seed}-`));
  const run = (episodes: number, resume: boolean): Promise<TrainResult> =>
    train({
      registry,
      method: 'spark',
      env: 'countdown',
      seed,
      budget: { episodes },
      overrides: OVERRIDES,
      outDir,
      resume,
      sftCacheDir: path.join(outDir, 'sft'),
    });
  const middle = await run(1280, false);
  const end = await run(3200, true);
  const judged = (r: TrainResult['final']) => r.rewardModels?.['spark-self-judge'];
  const start = judged(middle.initial);
  const [half, last] = [judged(middle.final), judged(end.final)];
  if (!(start && half && last)) throw new Error('the run reports no self-judging');
  console.log(
    `spark seed ${seed}, held-out pairs ${last.pairs}: start ${start.accuracy.toFixed(3)}, ${middle.budget.consumed.episodes} episodes ${half.accuracy.toFixed(3)}, ${end.budget.consumed.episodes} episodes ${last.accuracy.toFixed(3)} (start judge ${last.untrainedAccuracy.toFixed(3)}, McNemar p = ${last.pValue.toExponential(2)})`,
  );
  // The same fixed pairs at every evaluation, never trained on (test split); the start's judge is the run's start.
  expect(last.pairs).toBeGreaterThanOrEqual(200);
  expect(half.pairs).toBe(last.pairs);
  expect(start.accuracy).toBe(start.untrainedAccuracy);
  expect(last.untrainedAccuracy).toBe(start.accuracy);
  // The claim: rises over the run, and the end beats the untrained judge.
  expect(half.accuracy).toBeGreaterThan(start.accuracy);
  expect(last.accuracy).toBeGreaterThan(half.accuracy);
  expect(last.pValue).toBeLessThan(0.01);
}

it('seed 1: the held-out pair accuracy of the policy’s own verdicts rises from the start (42.0%, below a coin) through the middle to the end, which beats the start’s judge (McNemar p < 0.01, >= 200 pairs)', async () => {
  await judgeOverRun(1);
}, 1_800_000);

// Not yet true on every seed: seed 2 starts at 52.9% and ends at 50.8% (p 0.88). When this
// starts to hold, `it.fails` turns red: make it an `it` and update docs/extensions.md.
it.fails('seed 2: the same claim does not hold yet (a known failure)', async () => {
  await judgeOverRun(2);
}, 1_800_000);
