import { createInterface } from 'node:readline';
import { type Environment, Rng, UsageError } from '@policy-lab/core';
import { splitSizes } from '@policy-lab/envs';
import { type Command, Option } from 'commander';
import { CommandContext } from '../context.js';
import type { Io } from '../io.js';

function count(flag: string, text: string, minimum = 1): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < minimum)
    throw new UsageError(`bad ${flag} '${text}': expected an integer >= ${minimum}`);
  return value;
}

/** The environment with its options: `--set key=value` entries and `--data <path>` (translate's folder, next-segment's text). */
async function environmentFor(ctx: CommandContext, name: string, data: string | undefined): Promise<Environment> {
  const { registry } = await ctx.registry();
  const options = { ...(await ctx.overrides()), ...(data === undefined ? {} : { data }) };
  return registry.resolve('environments', name, Object.keys(options).length ? options : undefined);
}

/** A random policy: characters of the environment's alphabet, 1-12 of them. */
function randomAction(env: Environment, rng: Rng): string {
  const alphabet = Array.from(env.alphabet?.() ?? 'abcdefghijklmnopqrstuvwxyz0123456789 ');
  return Array.from({ length: rng.int(1, 12) }, () => rng.pick(alphabet)).join('');
}

export function register(program: Command, io: Io): void {
  const env = program.command('env').description('run or play an environment without a model');
  env
    .command('run')
    .description('episodes with the expert (demonstrate) or a random policy: success rate, rewards, steps, invalid actions')
    .argument('<name>', 'an environment (bench list --kind environments)')
    .addOption(new Option('--policy <policy>', 'expert or random').choices(['expert', 'random']).default('expert'))
    .option('--episodes <n>', 'episodes (test tasks, cycled)', '64')
    .option('--seed <n>', 'seed', '1')
    .option(
      '--data <path>',
      'data for environments that take it (translate: a folder with dictionary.tsv and corpus.tsv; next-segment: a text file or a folder with corpus.txt)',
    )
    .addHelpText(
      'after',
      "\nExamples:\n  bench env run gridnav --policy expert --episodes 100\n  bench env run code --policy random --set level=hard --json\n  bench env run translate --data ./my-corpus\n  bench env run next-segment --data ./my-book.txt\n\n--set key=value sets the environment's options (bench list --kind environments --verbose).",
    )
    .action(async function (
      this: Command,
      name: string,
      opts: { policy: 'expert' | 'random'; episodes: string; seed: string; data?: string },
    ) {
      const ctx = new CommandContext(io, this);
      const environment = await environmentFor(ctx, name, opts.data);
      const episodes = count('--episodes', opts.episodes);
      const seed = count('--seed', opts.seed, 0);
      if (opts.policy === 'expert' && !environment.demonstrate)
        throw new UsageError(`environment '${name}' has no expert (demonstrate)`);
      const tasks = environment.tasks('test', { seed, count: episodes });
      if (tasks.length === 0) throw new UsageError(`environment '${name}' gave no test tasks`);
      const splits = splitSizes(environment, seed);
      const rng = Rng.seeded(seed).split('env-run');
      const totals: Record<string, number> = Object.fromEntries(environment.rewardComponents.map((c) => [c.name, 0]));
      let successes = 0;
      let steps = 0;
      let invalid = 0;
      for (let k = 0; k < episodes; k++) {
        const task = tasks[k % tasks.length];
        const episode = environment.start(task, rng.split(`episode/${k}`));
        const actions = opts.policy === 'expert' ? (environment.demonstrate?.(task) ?? []) : [];
        for (let turn = 0; turn < environment.maxTurns; turn++) {
          const action = opts.policy === 'expert' ? actions[turn] : randomAction(environment, rng);
          if (action === undefined) break;
          const result = episode.step(action);
          steps += 1;
          if (!result.valid) invalid += 1;
          if (result.done) break;
        }
        const outcome = episode.outcome();
        if (outcome.success) successes += 1;
        for (const key of Object.keys(totals)) totals[key] = (totals[key] as number) + (outcome.reward[key] ?? 0);
      }
      const document = {
        env: name,
        policy: opts.policy,
        episodes,
        successRate: successes / episodes,
        meanReward: Object.fromEntries(Object.entries(totals).map(([k, v]) => [k, v / episodes])),
        meanSteps: steps / episodes,
        invalidRate: steps ? invalid / steps : 0,
        splits,
      };
      if (ctx.options.json) ctx.printJson('env', document);
      else
        io.stdout(
          `${name} with the ${opts.policy} policy: ${(100 * document.successRate).toFixed(1)}% success over ${episodes} episodes; mean reward ${JSON.stringify(document.meanReward)}; ${document.meanSteps.toFixed(2)} steps; ${(100 * document.invalidRate).toFixed(1)}% invalid actions\n` +
            `test split ${splits.test} tasks; training pool ${splits.train} tasks (${splits.trainDistinct} distinct)\n`,
        );
    });
  env
    .command('play')
    .description('play one task yourself: actions are read from stdin, one per line')
    .argument('<name>', 'an environment')
    .option('--seed <n>', 'seed', '1')
    .option('--task <k>', 'index of the test task', '0')
    .option('--data <path>', 'data for environments that take it (translate: a folder; next-segment: a text file or folder)')
    .action(async function (this: Command, name: string, opts: { seed: string; task: string; data?: string }) {
      const ctx = new CommandContext(io, this);
      const environment = await environmentFor(ctx, name, opts.data);
      const seed = count('--seed', opts.seed, 0);
      const index = count('--task', opts.task, 0);
      // The whole default test split, never `index + 1` tasks: a huge index must not draw for ever.
      const tasks = environment.tasks('test', { seed });
      const task = tasks[index];
      if (task === undefined)
        throw new UsageError(`--task ${index}: ${name} has ${tasks.length} test tasks (valid: 0..${tasks.length - 1})`);
      const episode = environment.start(task, Rng.seeded(seed).split('env-play'));
      const transcript: { observation: string; action: string; reward: Record<string, number>; valid: boolean; done: boolean }[] =
        [];
      if (!ctx.options.json) io.stdout(`${episode.observation()}\n`);
      const lines = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
      for await (const action of lines) {
        const observation = episode.observation();
        const result = episode.step(action);
        transcript.push({ observation, action, reward: { ...result.reward }, valid: result.valid, done: result.done });
        if (!ctx.options.json)
          io.stdout(
            `reward ${JSON.stringify(result.reward)}${result.valid ? '' : ' (invalid action)'}\n${result.done ? '' : `${episode.observation()}\n`}`,
          );
        if (result.done || transcript.length >= environment.maxTurns) break;
      }
      lines.close();
      const outcome = episode.outcome();
      if (ctx.options.json)
        ctx.printJson('env', { env: name, mode: 'play', task: environment.taskId(task), transcript, outcome });
      else io.stdout(`outcome ${JSON.stringify(outcome.reward)}, ${outcome.success ? 'success' : 'no success'}\n`);
    });
}
