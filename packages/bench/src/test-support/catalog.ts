/**
 * The installed catalog as the catalog tests see it: the registry discovered as a user's install
 * finds it, the tiny run settings, what each estimator needs beside it, and the suite that trains
 * every estimator and shaper on every environment it supports. That suite is most of the catalog's
 * time, so several test files each run a part of it and the test workers share the parts.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { missingRequirements } from '@policy-lab/core';
import { createRegistry } from '@policy-lab/core/node';
import { CORRUPTIONS } from '@policy-lab/rewards';
import { initBackend, train } from '@policy-lab/trainer';
import { beforeAll, describe, expect, it } from 'vitest';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
export const { registry } = await createRegistry({ cwd: root, discoverFrom: [root] });

export const TINY = {
  model: { dim: 16, layers: 1, heads: 2, contextLength: 48 },
  sftSteps: 2,
  tasksPerStep: 2,
  groupSize: 4,
  evalTasks: 2,
  evalSamples: 1,
  evalEvery: 100,
  signFlipEvery: 0,
};

/** Estimators that learn from the traces of a tree search (the rest-mcts sampler) rather than from rewards alone. */
export const SEARCH_ESTIMATORS = new Set(['rest-mcts', 'o1-recipe']);

/** What a run of a grpo step with a given estimator needs besides it: the reward model or sampler it reads. */
export const RUNS_WITH: Record<string, Record<string, unknown>> = {
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
  // M-STAR reranks the correct responses by the outcome reward model's score.
  'm-star': { rewardModels: ['bt-outcome'] },
  // ReST-MCTS* and the o1 recipe learn from the search's traces, valued by its process value model.
  // (a small search: every finished trace is charged as an episode).
  ...Object.fromEntries(
    [...SEARCH_ESTIMATORS].map((name) => [
      name,
      { sampler: 'rest-mcts', samplerOptions: { simulations: 2, branch: 2 }, rewardModels: ['restmcts-value'] },
    ]),
  ),
};

/**
 * Every estimator (or shaper) trains two steps of GRPO on every environment it supports, and is
 * refused, naming what is missing, on the others; `part` runs every `of`-th plugin from `index`.
 */
export function describePluginRuns(kind: 'estimators' | 'shapers', part = { index: 0, of: 1 }): void {
  const noun = kind === 'estimators' ? 'estimator' : 'shaper';
  const which = part.of > 1 ? ` (part ${part.index + 1} of ${part.of})` : '';
  describe(`every ${noun} trains two steps on every environment it supports${which}`, () => {
    beforeAll(async () => {
      await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
    });
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
    const cases = ([kind] as const).flatMap((kind) =>
      registry.list(kind).flatMap((entry, index) => {
        if (index % part.of !== part.index) return [];
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
    // Estimators that draw extra rollouts (PAV, ReMax) or learn from a search's traces get room for them.
    const needsModel = (kind: string, plugin: { name: string }) =>
      kind === 'estimators' && ((plugin as { needsModel?: boolean }).needsModel === true || SEARCH_ESTIMATORS.has(plugin.name));

    if (kind === 'shapers')
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
}
