import { readFileSync } from 'node:fs';
import { type Advantages, Rng, type Rollout, UsageError, weightedSum } from '@policy-lab/core';
import type { Command } from 'commander';
import { CommandContext } from '../context.js';
import type { Io } from '../io.js';
import { showValue } from '../io.js';
import { checkReward, MAX_REWARD, parseRolloutsJson, rewardVector } from './rollouts-input.js';

type RewardInput = number | Record<string, number>;

/** Parses --groups: an array of groups, each an array of numbers or of named reward vectors. */
export function parseGroups(text: string): RewardInput[][] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--groups is not valid JSON (${(error as Error).message})`);
  }
  if (!Array.isArray(value) || value.length === 0)
    throw new UsageError('--groups must be a non-empty array of groups, e.g. [[1,0,0,1]]');
  return value.map((group, g) => {
    if (!Array.isArray(group)) throw new UsageError(`--groups[${g}] must be an array of rewards`);
    return group.map((reward, i) => {
      const where = `--groups[${g}][${i}]`;
      if (typeof reward === 'number') return checkReward(reward, where);
      if (typeof reward === 'object' && reward !== null && !Array.isArray(reward)) return rewardVector(reward, where);
      throw new UsageError(`${where} must be a number or an object of named rewards, got ${showValue(reward)}`);
    });
  });
}

/** Each rollout's weighted reward (what scalar estimators normalise) must stay as small as one reward may be. */
function checkWeightedRewards(
  groups: readonly RewardInput[][],
  weights: Record<string, number>,
  where: (g: number, i: number) => string,
): void {
  groups.forEach((group, g) =>
    group.forEach((reward, i) => {
      const terms = Object.entries(typeof reward === 'number' ? { reward } : reward).map(([key, r]) => ({
        key,
        size: Math.abs((weights[key] ?? 1) * r),
      }));
      const total = terms.reduce((sum, t) => sum + t.size, 0);
      if (total <= MAX_REWARD) return;
      const largest = terms.reduce((a, b) => (b.size > a.size ? b : a));
      throw new UsageError(
        `--set weights.${largest.key} = ${weights[largest.key]} makes the weighted reward of ${where(g, i)} ${total}: it must be at most ${MAX_REWARD} in size`,
      );
    }),
  );
}

/** One advantage per turn: the estimator's own, or its rollout advantage broadcast to every turn. */
function turnAdvantages(groups: readonly (readonly Rollout[])[], result: Advantages): number[][][] {
  return groups.map((group, g) =>
    group.map((rollout, i) => result.turns?.[g]?.[i] ?? rollout.turns.map(() => result.rollout[g]?.[i] ?? 0)),
  );
}

export function register(program: Command, io: Io): void {
  program
    .command('advantages')
    .description("compute an estimator's advantages and loss weights for groups of rewards (reward-only estimators)")
    .argument('<estimator>', 'a registered estimator (bench list --kind estimators)')
    .option('--groups <json>', 'groups of rewards: [[1,0,0,1]] or [[{"correct":1,"format":1}, ...]]')
    .option('--rollouts <file>', 'multi-turn rollouts as JSON (the Rollout contract; groups or a flat list with groupId)')
    .addHelpText(
      'after',
      '\nExamples:\n  bench advantages grpo --groups \'[[1,0,0,1]]\' --json\n  bench advantages mc-grpo --groups \'[[1,0,0,1,1]]\' --set scale=none\n  bench advantages gdpo --groups \'[[{"a":1,"b":0},{"a":0,"b":1}]]\' --set weights.a=2\n  bench advantages gigpo --rollouts episodes.json --json\n\n--set weights.<component>=w sets reward weights (default 1 each); other --set keys are the estimator\'s options.\n--rollouts adds turnAdvantages (one number per turn); a rollout may give "values" (one critic value per turn) for ppo-gae.',
    )
    .action(async function (this: Command, name: string, opts: { groups?: string; rollouts?: string }) {
      const ctx = new CommandContext(io, this);
      const { registry } = await ctx.registry();
      const base = registry.get('estimators', name);
      if (base.needsModel)
        throw new UsageError(
          `estimator '${name}' needs the model (policy scores or extra rollouts); bench advantages takes reward-only estimators`,
        );
      if ((opts.groups === undefined) === (opts.rollouts === undefined))
        throw new UsageError('give exactly one of --groups <json> and --rollouts <file>');
      let fromFile: ReturnType<typeof parseRolloutsJson> | undefined;
      if (opts.rollouts !== undefined) {
        let text: string;
        try {
          text = readFileSync(opts.rollouts, 'utf8');
        } catch (error) {
          throw new UsageError(`--rollouts ${opts.rollouts}: cannot read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
        }
        fromFile = parseRolloutsJson(text, opts.rollouts);
      }
      const groups: RewardInput[][] = fromFile
        ? fromFile.groups.map((g) => g.map((r) => r.reward))
        : parseGroups(opts.groups as string);
      const { weights: weightOverrides, ...options } = (await ctx.overrides()) as { weights?: Record<string, number> } & Record<
        string,
        unknown
      >;
      const estimator = registry.resolve('estimators', name, Object.keys(options).length ? options : undefined);
      const components = new Set<string>();
      for (const group of groups)
        for (const r of group) for (const key of typeof r === 'number' ? ['reward'] : Object.keys(r)) components.add(key);
      const weights: Record<string, number> = Object.fromEntries([...components].map((c) => [c, 1]));
      for (const [key, w] of Object.entries(weightOverrides ?? {})) {
        if (!components.has(key))
          throw new UsageError(
            `--set weights.${key}: no reward component '${key}' in the input (has: ${[...components].join(', ')})`,
          );
        if (typeof w !== 'number' || !Number.isFinite(w))
          throw new UsageError(`--set weights.${key} must be a finite number, got ${showValue(w)}`);
        weights[key] = w;
      }
      checkWeightedRewards(groups, weights, (g, i) =>
        fromFile ? `${opts.rollouts} group ${g} rollout ${i}` : `--groups[${g}][${i}]`,
      );
      const rollouts: Rollout[][] =
        fromFile?.groups ??
        groups.map((group, g) =>
          group.map((r, i) => ({
            id: `g${g}/${i}`,
            groupId: `g${g}`,
            taskId: `task${g}`,
            turns: [],
            reward: typeof r === 'number' ? { reward: r } : r,
            success: false,
          })),
        );
      const result = await estimator.compute(rollouts, {
        rng: Rng.seeded(0).split('advantages'),
        weights,
        scalar: (r) => weightedSum(r, weights),
        ...(fromFile && fromFile.values.size > 0 ? { values: fromFile.values } : {}),
      });
      const document = {
        estimator: estimator.name,
        options: estimator.resolved ?? {},
        weights: result.weights,
        advantages: result.rollout,
        trained: result.weights.map((g) => g.map((w) => w > 0)),
        ...(fromFile ? { turnAdvantages: turnAdvantages(rollouts, result) } : {}),
        ...(result.returns ? { returns: result.returns } : {}),
        ...(result.diagnostics ? { diagnostics: result.diagnostics } : {}),
      };
      if (ctx.options.json) {
        ctx.printJson('advantages', document);
        return;
      }
      const lines = result.rollout.map(
        (group, g) =>
          `group ${g}: ${group.map((a, i) => `${a.toFixed(4)}${(result.weights[g]?.[i] ?? 1) > 0 ? '' : ' (excluded)'}`).join(', ')}`,
      );
      io.stdout(`${estimator.name} ${JSON.stringify(estimator.resolved ?? {})}\n${lines.join('\n')}\n`);
    });
}
