/**
 * The whole installed catalog, discovered as a user's install would find it. Every reward-only
 * estimator answers `bench advantages`; every environment's expert succeeds on every test task
 * (`bench env run <name> --policy expert`). Every registered loss trains without NaN: a two-step run of GRPO on countdown with each
 * loss swapped in (`--set loss=<name>`), on a tiny model so the whole catalog takes seconds.
 * Preference objectives train offline on pairs built from countdown's own solutions.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { missingRequirements } from '@policy-lab/core';
import { createRegistry } from '@policy-lab/core/node';
import { CORRUPTIONS } from '@policy-lab/rewards';
import { initBackend, train } from '@policy-lab/trainer';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, schemaErrors } from './test-support/run-cli.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const { registry } = await createRegistry({ cwd: root, discoverFrom: [root] });

const TINY = {
  model: { dim: 16, layers: 1, heads: 2, contextLength: 48 },
  sftSteps: 2,
  tasksPerStep: 2,
  groupSize: 4,
  evalTasks: 2,
  evalSamples: 1,
  evalEvery: 100,
  signFlipEvery: 0,
};

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

/** Estimators that learn from the traces of a tree search (the rest-mcts sampler) rather than from rewards alone. */
const SEARCH_ESTIMATORS = new Set(['rest-mcts', 'o1-recipe']);

/** What a run of a grpo step with a given estimator needs besides it: the reward model or sampler it reads. */
const RUNS_WITH: Record<string, Record<string, unknown>> = {
  // OPRL reads the step rewards of its implicit PRM, a reward model of the run.
  oprl: { rewardModels: ['implicit-prm'] },
  // PAV's progress comes from its verifier, trained on the Monte Carlo restarts.
  pav: { rewardModels: ['pav-verifier'] },
  // ReasonFlux-PRM judges step quality with its reward model.
  'reasonflux-prm': { rewardModels: ['reasonflux-prm'] },
  cooper: { rewardModels: ['cooper-coevolving-rm'] },
  // POLAR's discriminator, with the smallest zoo and pre-training.
  polar: {
    rewardModels: ['polar'],
    rewardModelOptions: {
      polar: {
        dim: 16,
        layers: 1,
        heads: 2,
        prompts: 4,
        updates: 2,
        batch: 4,
        temperatures: [1],
        init: false,
        preferencePairs: 0,
      },
    },
  },
  // Pairwise-RL asks its pairwise judge about each rollout against the anchor.
  'pairwise-anchor': { rewardModels: ['pairwise-gen-rm'] },
  // ReST-MCTS* and the o1 recipe learn from the search's traces, valued by its process value model.
  ...Object.fromEntries([...SEARCH_ESTIMATORS].map((name) => [name, { sampler: 'rest-mcts', rewardModels: ['restmcts-value'] }])),
};

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
      },
      sft: 'none',
    });
    expect(result.steps).toBeGreaterThanOrEqual(1);
    for (const [key, value] of Object.entries(result.diagnostics)) expect(Number.isFinite(value), key).toBe(true);
  });
});

describe('every estimator and shaper trains two steps on every environment it supports', () => {
  const environments = registry.list('environments').map((e) => e.item);
  // Small enough that the whole cross product takes seconds per plugin: short episodes, a tiny
  // model whose context truncates long observations the way rollouts always do.
  const SMALL = {
    ...TINY,
    tasksPerStep: 1,
    groupSize: 2,
    evalTasks: 1,
    evalSamples: 1,
    maxNewTokens: 8,
    model: { dim: 16, layers: 1, heads: 2, contextLength: 64 },
  };
  const ENV_OPTIONS: Record<string, Record<string, unknown>> = {
    webshop: { maxSteps: 3 },
    gridnav: { maxSteps: 5, minDistance: 1, maxDistance: 2 },
    translate: { maxLookups: 1 },
    code: { attempts: 1 },
  };
  // An estimator that scores under a teacher run (dense implicit rewards) needs a run of the same
  // environment and model: it is tried on countdown, against a SMALL run made once.
  const readsTeacher = (plugin: object) => (plugin as { needsTeacher?: boolean }).needsTeacher === true;
  let smallTeacher: Promise<string> | undefined;
  const teacherOfSmall = () => {
    smallTeacher ??= (async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'small-teacher-'));
      await train({
        registry,
        method: 'grpo',
        env: 'countdown',
        seed: 2,
        budget: { episodes: 4 },
        overrides: SMALL,
        sft: 'none',
        outDir: dir,
      });
      return dir;
    })();
    return smallTeacher;
  };
  const cases = (['estimators', 'shapers'] as const).flatMap((kind) =>
    registry.list(kind).flatMap((entry) => {
      const plugin = entry.item;
      return environments
        .filter((env) => !readsTeacher(plugin) || env.name === 'countdown')
        .map((env) => {
          const supported =
            missingRequirements(
              plugin.requires,
              env,
              env.rewardComponents.map((c) => c.name),
            ).length === 0 &&
            // Cooper's estimator rewards its reward model's score; that model binds to environments with a corruption rule only.
            (plugin.name !== 'cooper' || env.name in CORRUPTIONS) &&
            // POLAR's estimator rewards its discriminator's score against the expert's single-turn answer.
            (plugin.name !== 'polar' || (env.maxTurns === 1 && typeof env.demonstrate === 'function')) &&
            // The tree search runs over the steps of one action.
            (!SEARCH_ESTIMATORS.has(plugin.name) || env.maxTurns === 1);
          return [
            `${kind === 'estimators' ? 'estimator' : 'shaper'} ${plugin.name} on ${env.name}`,
            kind,
            plugin,
            env.name,
            supported,
          ] as const;
        });
    }),
  );

  const groupOf = (kind: string, plugin: object) =>
    kind === 'estimators' ? ((plugin as { rolloutsPerGroup?(g: number): number }).rolloutsPerGroup?.(2) ?? 2) : 2;
  const needsModel = (kind: string, plugin: object) =>
    kind === 'estimators' && (plugin as { needsModel?: boolean }).needsModel === true;

  it('the shapers that read given components declare them', () => {
    const requiring = registry
      .list('shapers')
      .filter((e) => e.item.requires?.components?.length)
      .map((e) => e.item.name);
    expect(requiring).toEqual(expect.arrayContaining(['conditional', 'multi-fidelity', 'prs', 'verpo']));
    expect(registry.get('estimators', 'srgpo').requires?.components).toEqual(['progress']);
  });

  it.each(cases)('%s', async (_label, kind, plugin, env, supported) => {
    const options = {
      registry,
      method: 'grpo',
      env,
      seed: 1,
      // Two steps of main rollouts; estimators that draw extra rollouts (PAV, ReMax) get room for them.
      budget: { episodes: 2 * (groupOf(kind, plugin) + (needsModel(kind, plugin) ? 24 : 0)) },
      overrides: {
        ...SMALL,
        ...(ENV_OPTIONS[env] ? { envOptions: ENV_OPTIONS[env] } : {}),
        ...(kind === 'estimators' ? { estimator: plugin.name } : { shapers: plugin.name }),
        ...(RUNS_WITH[plugin.name] ?? {}),
        ...(readsTeacher(plugin) ? { teacher: await teacherOfSmall() } : {}),
      },
      sft: 'none' as const,
    };
    if (!supported) {
      await expect(train(options)).rejects.toMatchObject({
        exitCode: 2,
        message: expect.stringMatching(
          SEARCH_ESTIMATORS.has(plugin.name)
            ? new RegExp(`searches the steps of one action: environment '${env}' has episodes of up to`)
            : new RegExp(
                `'${plugin.name === 'cooper' ? 'cooper-coevolving-rm' : plugin.name}' needs .* which environment '${env}' does not have`,
              ),
        ),
      });
      return;
    }
    const result = await train(options);
    expect(result.steps).toBeGreaterThanOrEqual(2);
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
