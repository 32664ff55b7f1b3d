/**
 * The whole installed catalog, discovered as a user's install would find it. Every reward-only
 * estimator answers `bench advantages`; every environment's expert succeeds on every test task
 * (`bench env run <name> --policy expert`); every method trains two steps (the estimators and shapers on
 * every environment: catalog-estimators-*.test.ts, catalog-shapers.test.ts). Every registered loss trains without NaN: a two-step run of GRPO on countdown with each
 * loss swapped in (`--set loss=<name>`), on a tiny model so the whole catalog takes seconds.
 * Preference objectives train offline on pairs built from countdown's own solutions.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { initBackend, train } from '@policy-lab/trainer';
import { beforeAll, describe, expect, it } from 'vitest';
import { RUNS_WITH, registry, SEARCH_ESTIMATORS, TINY } from './test-support/catalog.js';
import { runCli, schemaErrors } from './test-support/run-cli.js';

/** A finished tiny run: the teacher of the distillation losses. */
let teacherDir = '';

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
  teacherDir = mkdtempSync(path.join(tmpdir(), 'teacher-'));
  await train({
    registry,
    method: 'grpo',
    env: 'countdown',
    seed: 2,
    budget: { episodes: 8 },
    overrides: TINY,
    sft: 'none',
    outDir: teacherDir,
  });
});

describe('every registered loss trains without NaN', () => {
  const losses = registry.list('losses').map((e) => e.item);
  /**
   * What a loss needs besides its name: rows drawn under teacher forcing (VA-pi) come from the
   * teacher-forced sampler; a pair loss that learns the context z* (OPPO) reads the soft prompt.
   */
  const needed = (loss: (typeof losses)[number]): Record<string, unknown> =>
    loss.kind === 'rows' && loss.needs?.forced
      ? { sampler: 'teacher-forced' }
      : loss.kind === 'pairs' && loss.needs?.context
        ? { softPrompt: 4 }
        : {};

  it('has the built-in losses', () => {
    expect(losses.map((l) => l.name)).toEqual(expect.arrayContaining(['ppo-clip', 'reinforce', 'sft', 'opd', 'rapo']));
  });

  it.each(losses.map((l) => [l.name, l] as const))('%s', async (name, loss) => {
    const env = registry.get('environments', 'countdown');
    const preferences =
      loss.kind !== 'rows'
        ? {
            file: 'countdown-pairs',
            pairs: env.tasks('train', { seed: 1, count: 8 }).map((task) => {
              const t = task as { numbers: number[]; solution: string };
              return {
                prompt: env.start(task, undefined as never).observation(),
                chosen: t.solution,
                rejected: t.numbers.join('+'),
              };
            }),
          }
        : undefined;
    const result = await train({
      registry,
      method: 'grpo',
      env: 'countdown',
      seed: 1,
      budget: { episodes: 16 },
      overrides: {
        ...TINY,
        loss: name,
        ...needed(loss),
        ...(loss.kind === 'rows' && loss.needs?.teacher ? { teacher: teacherDir } : {}),
      },
      sft: 'none',
      ...(preferences ? { preferences } : {}),
    });
    expect(result.steps).toBe(2);
    expect(Number.isFinite(result.diagnostics.loss)).toBe(true);
    expect(Number.isFinite(result.diagnostics.gradNorm)).toBe(true);
  });

  // Online, preference objectives train on pairs or labels drawn from the step's rollouts (and
  // f-sft on the expert's demonstrations against them); a short SFT start makes rewards differ.
  const preference = losses.filter((l) => l.kind !== 'rows');
  it.each(preference.map((l) => [l.name, l] as const))('%s online', async (name, loss) => {
    const result = await train({
      registry,
      method: 'grpo',
      env: 'countdown',
      seed: 3,
      budget: { episodes: 16 },
      overrides: { ...TINY, sftSteps: 20, loss: name, ...needed(loss) },
      sft: 'cache',
      sftCacheDir: teacherDir + '-sft',
    });
    expect(result.steps).toBe(2);
    const trained = (result.diagnostics.preferencePairs ?? 0) + (result.diagnostics.preferenceExamples ?? 0);
    expect(trained).toBeGreaterThan(0);
    expect(Number.isFinite(result.diagnostics.loss)).toBe(true);
  });
});

describe('every reward-only estimator answers bench advantages', () => {
  const estimators = registry
    .list('estimators')
    .map((e) => e.item)
    .filter((e) => !e.needsModel && !e.needsCritic && !SEARCH_ESTIMATORS.has(e.name));
  // Step-level estimators need turns: they read multi-turn rollouts (with state keys and a step reward).
  const STEP_LEVEL = new Set(['gigpo', 'srgpo']);
  const dir = mkdtempSync(path.join(tmpdir(), 'catalog-'));
  const rolloutsFile = path.join(dir, 'rollouts.json');
  const turn = (stateKey: string, progress: number) => ({ action: '0', stateKey, reward: { won: 0, progress } });
  writeFileSync(
    rolloutsFile,
    JSON.stringify(
      [0, 1].map((g) =>
        [0, 1, 2].map((i) => ({
          groupId: `g${g}`,
          reward: { won: i === g ? 1 : 0, progress: i },
          turns: [turn('A', 1), ...Array.from({ length: i }, (_, k) => turn(`S${k}`, k % 2))],
        })),
      ),
    ),
  );

  it.each([...SEARCH_ESTIMATORS])(
    '%s reads search traces, and without them says which sampler makes them (exit 2)',
    async (name) => {
      const result = await runCli(['advantages', name, '--groups', '[[1,0,0,1,0.5]]', '--json']);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/sampler=rest-mcts/);
    },
  );

  it.each(estimators.map((e) => [e.name]))('%s', async (name) => {
    const input = STEP_LEVEL.has(name) ? ['--rollouts', rolloutsFile] : ['--groups', '[[1,0,0,1,0.5],[0,1,1,0,2]]'];
    const result = await runCli(['advantages', name, ...input, '--json']);
    expect(result.stderr).toBe('');
    const doc = JSON.parse(result.stdout);
    expect(schemaErrors('advantages', doc)).toEqual([]);
    for (const value of doc.advantages.flat()) expect(Number.isFinite(value)).toBe(true);
    expect(doc.advantages.map((g: number[]) => g.length)).toEqual(STEP_LEVEL.has(name) ? [3, 3] : [5, 5]);
    if (STEP_LEVEL.has(name)) expect(doc.turnAdvantages[0].map((r: number[]) => r.length)).toEqual([1, 2, 3]);
  });
});

describe("every environment's expert succeeds on every test task", () => {
  const environments = registry.list('environments').map((e) => e.item);

  it('has the six built-in environments', () => {
    expect(environments.map((e) => e.name)).toEqual(
      expect.arrayContaining(['countdown', 'arithmetic', 'gridnav', 'translate', 'code', 'webshop']),
    );
  });

  it.each(environments.map((e) => [e.name]))('%s', async (name) => {
    const result = await runCli(['env', 'run', name, '--policy', 'expert', '--episodes', '30', '--json']);
    expect(result.stderr).toBe('');
    const doc = JSON.parse(result.stdout);
    expect(schemaErrors('env', doc)).toEqual([]);
    expect(doc.successRate).toBe(1);
    expect(doc.invalidRate).toBe(0);
  });
});

describe('every registered method trains two steps without NaN', () => {
  const methods = registry.list('methods').map((e) => e.item);
  // SRGPO reads the verifiable step reward and dopamine-pbrs needs several turns (gridnav); S-GRPO's
  // serial exits need an answer after a marker (arithmetic); VeriRL's shaper reads the code
  // environment's per-test components and multifidelity-reward a cheap and an exact component
  // (code); the rest run on countdown.
  const ENV_OF: Record<string, string> = { srgpo: 'gridnav', 's-grpo': 'arithmetic' };
  const METHOD_ENV: Record<string, string> = {
    'dopamine-pbrs': 'gridnav',
    'multifidelity-reward': 'code',
    // PAV's steps are turns.
    pav: 'gridnav',
    'pav-beam': 'gridnav',
    // ReasonFlux-PRM's thinking steps are the turns before the answer.
    'reasonflux-prm': 'gridnav',
    // RAPL's reward is an optimal transport between the turns of an episode and the demonstration's.
    'rapl-ot': 'gridnav',
    // Large Reward Models judge the turns of a multi-turn episode.
    'lrm-triple': 'gridnav',
    // FlowBoost's elite buffer needs an exact objective and a local search.
    flowboost: 'grid-packing',
  };
  const envFor = (method: (typeof methods)[number]) =>
    (method.shapers ?? []).includes('tbr-partial-credit')
      ? 'code'
      : (METHOD_ENV[method.name] ??
        ENV_OF[typeof method.estimator === 'string' ? method.estimator : method.estimator.name] ??
        'countdown');

  it.each(methods.map((m) => [m.name, m] as const))('%s', async (name, method) => {
    const env = envFor(method);
    const result = await train({
      registry,
      method: name,
      env,
      seed: 1,
      budget: { episodes: 24 },
      overrides: {
        ...TINY,
        ...(env === 'gridnav'
          ? { envOptions: { maxSteps: 6, minDistance: 1, maxDistance: 2 }, model: { ...TINY.model, contextLength: 128 } }
          : {}),
        // Dense implicit rewards score under a finished run (a DPO run in use; any run here).
        ...(name === 'dpo-dense' ? { teacher: teacherDir } : {}),
        // POLAR's default zoo pre-training took 23 s of this case alone; the estimator cases' smallest zoo is enough here.
        ...(name === 'polar-rl' ? { rewardModelOptions: RUNS_WITH.polar?.rewardModelOptions } : {}),
      },
      sft: 'none',
    });
    expect(result.steps).toBeGreaterThanOrEqual(1);
    for (const [key, value] of Object.entries(result.diagnostics)) expect(Number.isFinite(value), key).toBe(true);
  });
});

describe('PIPO trains a verification update on the previous batch', () => {
  it('reports the verification loss once the improvement history exists', async () => {
    const result = await train({
      registry,
      method: 'pipo',
      env: 'countdown',
      seed: 1,
      budget: { episodes: 48 },
      overrides: TINY,
      sft: 'none',
    });
    expect(result.steps).toBe(6);
    expect(Number.isFinite(result.diagnostics.verificationLoss)).toBe(true);
  });
});
