#!/usr/bin/env node
/**
 * Measures every environment's SFT start at its default difficulty: the SFT-started policy's
 * success on held-out test tasks (the `initial` evaluation of a one-step `bench train` run).
 * The envs issue asks for a start strictly between 0% and 100%, so that RL has room both ways;
 * this script exits 1 when an environment is outside that range.
 *
 *   node packages/bench/scripts/sft-starts.mjs [--env countdown,translate] [--seed 1] [--json]
 *
 * A benchmark, not a unit test: webshop and translate need 600 and 1000 SFT steps (several
 * minutes each on 2 cores). SFT checkpoints are cached under .cache/policy-lab/sft.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ENVIRONMENTS = [
  'countdown',
  'arithmetic',
  'gridnav',
  'code',
  'translate',
  'webshop',
  'next-segment',
  'grid-packing',
  'long-doc-reader',
];
const bin = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'bench.js');

const { values } = parseArgs({
  options: {
    env: { type: 'string', default: ENVIRONMENTS.join(',') },
    seed: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
});

const rows = [];
for (const env of values.env.split(',').filter(Boolean)) {
  const args = [bin, 'train', 'grpo', '--env', env, '--seed', values.seed, '--budget', 'episodes=8'];
  for (const set of ['tasksPerStep=2', 'evalTasks=32', 'evalSamples=4']) args.push('--set', set);
  const started = performance.now();
  const run = spawnSync(process.execPath, [...args, '--json'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (run.status !== 0) {
    process.stderr.write(`sft-starts: ${env}: bench train exited ${run.status}\n${run.stderr}`);
    process.exit(2);
  }
  const result = JSON.parse(run.stdout);
  rows.push({
    env,
    sftSteps: result.config.sftSteps,
    sftSeconds: Math.round(result.timings.sftSeconds),
    success: result.initial.success,
    greedySuccess: result.initial.greedySuccess,
    passAtK: result.initial.passAtK,
    seconds: Math.round((performance.now() - started) / 1000),
  });
  if (!values.json) {
    const r = rows.at(-1);
    const pct = (x) => `${(100 * x).toFixed(1)}%`;
    console.log(
      `${env.padEnd(11)} sft ${String(r.sftSteps).padStart(4)} steps (${r.sftSeconds} s)  sampled ${pct(r.success).padStart(6)}  greedy ${pct(r.greedySuccess).padStart(6)}  pass@4 ${pct(r.passAtK).padStart(6)}`,
    );
  }
}
const outside = rows.filter((r) => !(r.success > 0 && r.success < 1));
if (values.json) console.log(JSON.stringify({ seed: Number(values.seed), rows, outside: outside.map((r) => r.env) }, null, 2));
else if (outside.length > 0) console.log(`outside (0%, 100%): ${outside.map((r) => r.env).join(', ')}`);
process.exit(outside.length > 0 ? 1 : 0);
