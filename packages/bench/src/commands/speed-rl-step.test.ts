import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Rng } from '@policy-lab/core';
import { createRegistry } from '@policy-lab/core/node';
import { createPolicy, encodeSafetensors, resolveRlStep } from '@policy-lab/trainer';
import { describe, expect, it } from 'vitest';
import { runCli, schemaErrors } from '../test-support/run-cli.js';
import { summary, TOLERANCES } from './speed-rl-step.js';

/** A step small enough for a test: 2 tasks x 2 rollouts, 4 new tokens, D=16, one thread. */
const tiny = ['--tasks-per-step', '2', '--group-size', '2', '--max-new-tokens', '4', '--dim', '16', '--threads', '1'];

/**
 * A stand-in for the peer's Python (a node script): `check` echoes the results our step wrote
 * beside its rollouts, with `lossShift` added to the loss (0: an agreeing peer); `time` reports a
 * step of `stepMs`. It records its thread settings as the real peer reports them.
 */
function stubPeer(options: { blas?: string; lossShift?: number; stepMs?: number } = {}): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'stub-rl-peer-')), 'python3');
  const script = `#!/usr/bin/env node
const { readFileSync } = require('node:fs');
const [, , , folder, threads, mode] = process.argv;
const about = { blas: ${JSON.stringify(options.blas ?? 'openblas')}, blasLibraries: ['/usr/lib/libopenblas.so.0'], torch: 'stub', threads: Number(threads), omp: process.env.OMP_NUM_THREADS, mode };
if (mode === 'check') {
  const { episodes, ours } = JSON.parse(readFileSync(folder + '/ours.json', 'utf8'));
  const sampledLogprobs = episodes.map((e) => e.logprobs.reduce((a, b) => a + b, 0));
  console.log(JSON.stringify({ ...about, sampledLogprobs, scoredLogprobs: sampledLogprobs, rewards: ours.rewards,
    advantages: ours.advantages, loss: ours.loss + ${options.lossShift ?? 0}, gradNorm: ours.gradNorm, entropy: ours.entropy }));
} else {
  const spec = JSON.parse(readFileSync(folder + '/spec.json', 'utf8'));
  const episodes = spec.tasks.length * spec.groupSize;
  console.log(JSON.stringify({ ...about, steps: [{ ms: ${options.stepMs ?? 5}, rolloutMs: 3, updateMs: 2, generatedTokens: episodes * 3, trainedTokens: episodes * 3 }] }));
}
`;
  writeFileSync(file, script);
  chmodSync(file, 0o755);
  return file;
}

describe('bench speed rl-step', () => {
  it('times our step and a peer alternately, each repeat from the same weights, as JSON valid against the speed schema', async () => {
    const python = stubPeer({ stepMs: 5 });
    const result = await runCli(['speed', 'rl-step', ...tiny, '--repeats', '2', '--peer', 'torch', '--json'], {
      env: { POLICY_LAB_PEER_PYTHON: python },
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.stdout);
    expect(schemaErrors('speed', doc)).toEqual([]);
    expect(doc).toMatchObject({
      kind: 'speed',
      suite: 'rl-step',
      env: 'countdown',
      estimator: 'grpo',
      threads: 1,
      tasksPerStep: 2,
      groupSize: 2,
      episodes: 4,
      repeats: 2,
      samples: 2,
      start: 'random init, seed 0',
      model: { vocabSize: 28, dim: 16, layers: 2, heads: 4, contextLength: 48 },
    });
    expect(doc.ours.msPerStep).toHaveLength(2);
    expect(doc.msPerStep).toBeCloseTo(summary(doc.ours.msPerStep).median, 9);
    expect(doc.episodesPerSecond).toBeCloseTo((4 / doc.msPerStep) * 1000, 6);
    // Every repeat starts from the same weights and seed: the same rollouts, so the same work.
    expect(new Set(doc.ours.generatedTokens).size).toBe(1);
    expect(doc.ours.generatedTokens[0]).toBeGreaterThanOrEqual(4);
    expect(doc.ours.medianRolloutMs + doc.ours.medianUpdateMs).toBeLessThanOrEqual(doc.msPerStep * 1.01 + 1);
    // The peer ran with our thread count, in every pool (OMP_NUM_THREADS too), once a repeat.
    expect(doc.peer).toMatchObject({ blas: 'openblas', threads: 1, omp: '1', msPerStep: [5, 5], medianMs: 5 });
    expect(doc.peer.episodesPerSecond.median).toBeCloseTo(800, 9);
    expect(doc.ratioToPeer).toBeCloseTo(doc.msPerStep / 5, 9);
    expect(doc.ratioPerRepeat.values).toEqual(doc.ours.msPerStep.map((ms: number) => ms / 5));
    expect(doc.check).toMatchObject({ passed: true, rollouts: 4, rewardMismatches: 0, failed: [] });
    expect(doc.loadAverage.before).toHaveLength(3);
  });

  it('fails the run, before any timing, when the peer computes a different loss on our rollouts', async () => {
    // 0.01 off: beyond the tolerance of 1e-3 relative to the loss (absolute below 1e-3) for any loss under 10.
    const result = await runCli(['speed', 'rl-step', ...tiny, '--repeats', '1', '--peer', 'torch'], {
      env: { POLICY_LAB_PEER_PYTHON: stubPeer({ lossShift: 0.01 }) },
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /the PyTorch peer computes a different step on our rollouts: loss differs by .* \(tolerance 0\.001: ours .*, the peer's .*\); no timing was done/,
    );
  });

  it('refuses a peer on the reference BLAS with the install line, before timing', async () => {
    const result = await runCli(['speed', 'rl-step', ...tiny, '--repeats', '1', '--peer', 'torch'], {
      env: { POLICY_LAB_PEER_PYTHON: stubPeer({ blas: 'reference' }) },
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/runs? on the reference BLAS .*apt-get install -y python3-torch libopenblas0-pthread/);
  });

  it('starts from a safetensors checkpoint, its shape read from the tensors and a run checkpoint prefix stripped', async () => {
    const policy = createPolicy(
      { vocabSize: 28, dim: 32, layers: 1, heads: 4, contextLength: 48, mlpRatio: 2, valueHead: false },
      Rng.seeded(3),
    );
    const names = policy.weightNames();
    const tensors = Object.fromEntries(
      policy.variables.map((v, i) => [`model.${names[i]}`, { shape: [...v.shape], data: v.dataSync() as Float32Array }]),
    );
    policy.dispose();
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'rl-step-ckpt-')), 'weights.safetensors');
    writeFileSync(file, encodeSafetensors(tensors));
    const result = await runCli(['speed', 'rl-step', ...tiny, '--repeats', '1', '--checkpoint', file, '--json']);
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.stdout);
    expect(doc.start).toBe(`checkpoint ${file}`);
    expect(doc.model).toEqual({ vocabSize: 28, dim: 32, layers: 1, heads: 4, contextLength: 48, mlpRatio: 2 });
    const wrong = path.join(path.dirname(file), 'other.safetensors');
    writeFileSync(wrong, encodeSafetensors({ token_embedding: { shape: [30, 8], data: new Float32Array(240) } }));
    const refused = await runCli(['speed', 'rl-step', ...tiny, '--checkpoint', wrong]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/a vocabulary of 30 tokens; countdown's tokenizer has 28/);
  });

  it.each([
    [['--repeats', '0'], /bad --repeats '0': expected an integer >= 1/],
    [['--group-size', '1'], /bad --group-size '1': expected an integer >= 2/],
    [['--learning-rate', 'fast'], /bad --learning-rate 'fast': expected a number > 0/],
    [['--kernels', 'both'], /bad --kernels 'both' for rl-step: accepted fast, stock/],
    [['--env', 'gridnav'], /bad --env 'gridnav' for rl-step: accepted countdown/],
    [['--peer', 'jax'], /unknown --peer 'jax': accepted torch/],
    [['--max-new-tokens', '40'], /bad --max-new-tokens '40': prompts of \d+ tokens leave/],
    [['--checkpoint', '/nonexistent/weights.safetensors'], /cannot read checkpoint/],
  ])('exits 2 on bad input %j', async (args, message) => {
    const result = await runCli(['speed', 'rl-step', ...tiny, ...args]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });
});

/** True when Debian's Python imports torch (the real peer can run). */
function torchImportable(): boolean {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore', timeout: 60_000 });
    return true;
  } catch {
    return false;
  }
}

describe('bench speed rl-step against the real PyTorch peer', () => {
  it('computes the same step as ours on the same sampled rollouts (log-probs, rewards, advantages, loss, gradient norm)', async (ctx) => {
    ctx.skip(
      !torchImportable(),
      'no torch importable by /usr/bin/python3 (apt-get install -y python3-torch libopenblas0-pthread)',
    );
    // The defaults (8 tasks x 4, D=64) at seed 2: some group's rewards differ there (at seeds 0 and 1
    // every group's are equal), so the advantages, the loss and the gradient are not all zero and the
    // agreement is not vacuous.
    const result = await runCli(
      ['speed', 'rl-step', '--threads', '1', '--repeats', '1', '--peer', 'torch', '--seed', '2', '--json'],
      {
        env: {},
      },
    );
    // Torch installed without an optimised BLAS: the peer is refused (as designed, tested above with a stub), so there is no step to compare.
    ctx.skip(
      /reference BLAS/.test(result.stderr),
      'torch runs on the reference BLAS here (apt-get install -y libopenblas0-pthread)',
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.stdout);
    expect(schemaErrors('speed', doc)).toEqual([]);
    const { check } = doc;
    expect(check.passed).toBe(true);
    expect(check.rewardMismatches).toBe(0);
    for (const [name, tolerance] of Object.entries(TOLERANCES))
      expect(check.fields[name].maxDifference, name).toBeLessThanOrEqual(tolerance);
    expect(check.gradNorm).toBeGreaterThan(1e-3);
    expect(doc.peer.episodesPerSecond.median).toBeGreaterThan(0);
  }, 300_000);
});

describe('the step rl-step times', () => {
  it("is a run's own step: grpo resolves with the run's settings; a method with more than sample, estimate and a row update is refused", async () => {
    const { registry } = await createRegistry({ cwd: process.cwd(), plugins: [] });
    const setup = { registry, env: 'countdown', seed: 1, tasksPerStep: 8, groupSize: 4, maxNewTokens: 12, learningRate: 3e-4 };
    const grpo = resolveRlStep({ ...setup, method: 'grpo' });
    expect(grpo.loss.name).toBe('ppo-clip');
    expect(grpo.config).toMatchObject({
      groupSize: 4,
      tasksPerStep: 8,
      maxNewTokens: 12,
      learningRate: 3e-4,
      aggregation: 'token-mean',
    });
    expect(() => resolveRlStep({ ...setup, method: 'dpo' })).toThrow(
      /method 'dpo' has a pairs loss: the rl-step benchmark times/,
    );
  });
});
