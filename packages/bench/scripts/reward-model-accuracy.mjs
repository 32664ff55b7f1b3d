#!/usr/bin/env node
/**
 * Does a learned reward model learn? Trains GRPO on countdown with the `bt-outcome` reward model
 * (Bradley-Terry on each group's (succeeded, failed) pairs, weight 0: it learns beside the policy
 * without changing its reward), then reads the final evaluation: on held-out test tasks, every
 * (succeeded, failed) pair of the policy's samples, ranked by the trained model and by the same
 * model untrained (same seed), with a one-sided exact McNemar test.
 *
 *   node packages/bench/scripts/reward-model-accuracy.mjs [--episodes 12800] [--seed 1] [--architecture transformer|head] [--json]
 *
 * `--architecture head` puts the model's scalar head on the policy's trunk instead of a transformer of its own.
 *
 * Exits 1 unless there are at least 200 held-out pairs, the trained model ranks at least 70% of
 * them right and beats the untrained model at p < 0.01. A benchmark, not a unit test (minutes).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const bin = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'bench.js');
const { values } = parseArgs({
  options: {
    episodes: { type: 'string', default: '12800' },
    seed: { type: 'string', default: '1' },
    env: { type: 'string', default: 'countdown' },
    architecture: { type: 'string', default: 'transformer' },
    json: { type: 'boolean', default: false },
  },
});

const args = [bin, 'train', 'grpo', '--env', values.env, '--seed', values.seed, '--budget', `episodes=${values.episodes}`];
// Evaluate only at the start and the end, on enough test tasks and samples for 200+ pairs.
const sets = ['rewardModels=bt-outcome', `rewardModelOptions.bt-outcome.architecture=${values.architecture}`];
for (const set of [...sets, 'evalTasks=256', 'evalSamples=8', 'evalEvery=100000']) args.push('--set', set);
const started = performance.now();
const run = spawnSync(process.execPath, [...args, '--json'], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
if (run.status !== 0) {
  process.stderr.write(`reward-model-accuracy: bench train exited ${run.status}\n${run.stderr}`);
  process.exit(2);
}
const result = JSON.parse(run.stdout);
const judged = result.final.rewardModels?.['bt-outcome'];
if (!judged) {
  process.stderr.write('reward-model-accuracy: the final evaluation has no reward-model accuracy\n');
  process.exit(2);
}
const report = {
  env: values.env,
  architecture: values.architecture,
  seed: Number(values.seed),
  episodes: result.budget.consumed.episodes,
  steps: result.steps,
  pairs: judged.pairs,
  accuracy: judged.accuracy,
  untrainedAccuracy: judged.untrainedAccuracy,
  pValue: judged.pValue,
  auxScoredTokens: result.budget.consumed.auxScoredTokens,
  auxTrainedTokens: result.budget.consumed.auxTrainedTokens,
  policySuccess: { initial: result.initial.success, final: result.final.success },
  seconds: Math.round((performance.now() - started) / 1000),
};
const passed = report.pairs >= 200 && report.accuracy >= 0.7 && report.pValue < 0.01;
if (values.json) console.log(JSON.stringify({ ...report, passed }, null, 2));
else {
  const pct = (x) => `${(100 * x).toFixed(1)}%`;
  console.log(
    [
      `bt-outcome on ${report.env}, seed ${report.seed}: ${report.steps} steps, ${report.episodes} episodes, ${report.seconds} s`,
      `held-out pairs ${report.pairs}: trained ${pct(report.accuracy)}, untrained ${pct(report.untrainedAccuracy)}, one-sided exact McNemar p = ${report.pValue.toPrecision(3)}`,
      `reward-model work: ${report.auxScoredTokens} tokens scored, ${report.auxTrainedTokens} tokens trained`,
      `policy sampled success ${pct(report.policySuccess.initial)} -> ${pct(report.policySuccess.final)}`,
      passed ? 'passed (>= 200 pairs, >= 70%, p < 0.01)' : 'FAILED (needs >= 200 pairs, >= 70%, p < 0.01)',
    ].join('\n'),
  );
}
process.exit(passed ? 0 : 1);
