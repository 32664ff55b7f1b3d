import os from 'node:os';
import path from 'node:path';
import { RegressionError, UsageError } from '@policy-lab/core';
import { type Command, Option } from 'commander';
import {
  budgetOf,
  budgetsWords,
  type CompareModel,
  describeRun,
  evalTasksWarnings,
  hfOptions,
  isSkipped,
  overridesFor,
  PRESETS,
  type PreferencesRef,
  type PresetName,
  planComparison,
  seedWords,
} from '../compare/plan.js';
import { runComparison } from '../compare/run-compare.js';
import { CommandContext } from '../context.js';
import type { Io } from '../io.js';
import { selectLeaderboard } from '../leaderboard/select.js';
import { progressBar } from '../progress.js';
import { baselineDifferences, loadBaseline } from '../report/baseline.js';
import { diagnosticWarnings, renderTable } from '../report/render.js';
import { dataOption } from './data-option.js';
import { modelOption } from './model-option.js';

interface CompareOptions {
  env?: string;
  seeds?: string;
  budget?: string;
  preset: string;
  out?: string;
  workers?: string;
  threads: string;
  resume?: boolean;
  force?: boolean;
  kernels: string;
  reps: string;
  queue?: string;
  data?: string;
  baseline?: string;
  failOnRegression?: boolean;
  all?: boolean;
  reference: string;
  model?: string;
  lora?: string | true;
  sft?: 'cache' | 'none';
  chatTemplate?: string;
}

/** --reps, for compare and report alike: an integer of at least 100 resamples. */
export function parseReps(text: string): number {
  const reps = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(reps) || reps < 100)
    throw new UsageError(`bad --reps '${text}': expected an integer >= 100`);
  return reps;
}

/** --data for a comparison (an absolute path): a folder goes to the environments; a file is checked now and hashed. */
async function preferencesRef(file: string, overrides: Record<string, unknown>): Promise<PreferencesRef | undefined> {
  const dataset = await dataOption(file, overrides);
  return dataset && { file, sha256: dataset.sha256 };
}

/**
 * --model, --lora and --sft as the comparison's model: the folder's architecture and size, and
 * the sha256 of its files (the comparison's fingerprint covers the model's content).
 */
async function compareModel(cwd: string, opts: CompareOptions): Promise<CompareModel | undefined> {
  const option = modelOption(cwd, opts.model, opts.lora, opts.chatTemplate);
  if (!option) {
    if (opts.sft !== undefined)
      throw new UsageError(
        '--sft needs --model <folder>: a comparison of the character transformer always starts from the shared SFT start',
      );
    return undefined;
  }
  const trainer = await import('@policy-lab/trainer');
  // As bench train checks it, before anything is hashed: a folder with a readable config of a known model_type.
  const { existsSync, readFileSync, statSync } = await import('node:fs');
  const configFile = path.join(option.folder, 'config.json');
  if (!existsSync(option.folder) || !statSync(option.folder).isDirectory() || !existsSync(configFile))
    throw new UsageError(
      `--model ${option.folder}: ${existsSync(option.folder) ? 'no config.json' : 'not a folder'} (accepted: a Hugging Face model folder with config.json, *.safetensors, tokenizer.json)`,
    );
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new UsageError(`${configFile}: cannot read the model's config (${(error as Error).message})`);
  }
  const architecture = trainer.parseHfConfig(json, configFile);
  const { files } = trainer.modelFingerprint(option.folder);
  const lora = option.lora && {
    rank: option.lora.rank,
    alpha: option.lora.alpha,
    targets: [...(option.lora.targets ?? (architecture.family === 'gpt2' ? ['c_attn'] : ['q_proj', 'v_proj']))],
  };
  return {
    folder: option.folder,
    name: path.basename(option.folder),
    modelType: architecture.modelType,
    parameters: trainer.parameterCount(architecture),
    ...(lora ? { lora } : {}),
    sft: opts.sft ?? 'none',
    ...(option.chatTemplate === 'off' ? { chatTemplate: 'off' as const } : {}),
    files,
  };
}

/**
 * Every (method, environment) of the comparison through the trainer's checks of a model run
 * (what bench train --model refuses, by the same message; the memory need), before any run starts.
 */
function checkModelUnits(
  config: ReturnType<typeof planComparison>,
  model: CompareModel,
  registry: Parameters<typeof planComparison>[0],
  checkHfRun: typeof import('@policy-lab/trainer').checkHfRun,
): void {
  for (const env of config.envs)
    for (const method of [...config.methods, ...config.controls]) {
      if (isSkipped(config.skipped, method, env)) continue;
      checkHfRun(
        {
          registry,
          method,
          env,
          seed: config.seeds[0] ?? 1,
          budget: budgetOf(config, env),
          overrides: overridesFor(config, method, env),
          ...hfOptions(model),
        },
        config.backend,
      );
    }
}

export function register(program: Command, io: Io): void {
  program
    .command('compare')
    .description(
      'compare methods on equal budgets: same environments, seeds, SFT start, evaluation tasks and shared hyperparameters',
    )
    .argument('[methods...]', 'registered methods (bench list --kind methods); with --all, the set to rank (default: every one)')
    .option('--env <envs>', "comma-separated environments (default: the preset's, countdown)")
    .option('--seeds <n>', "seeds per (method, environment): N for seeds 1..N, or a range A-B (default: the preset's count)")
    .option('--budget <budget>', "episodes=N | tokens=N | seconds=N per run (default: the preset's)")
    .addOption(
      new Option(
        '--preset <name>',
        Object.entries(PRESETS)
          .map(([k, v]) => `${k}: ${v.note}`)
          .join('; '),
      )
        .choices(Object.keys(PRESETS))
        .default('quick', 'quick; leaderboard with --all'),
    )
    .option('--out <dir>', 'output folder (default: bench-results/<timestamp>)')
    .option('--workers <n>', 'local worker processes (default: cores / threads per process)')
    .option('--threads <n>', 'threads per training process (1 or 2)', '1')
    .option(
      '--resume',
      'continue the comparison in --out: finished runs are kept, unfinished ones continue from their checkpoints',
    )
    .option('--force', 'start afresh: delete the comparison files in --out (its runs, SFT cache and reports; other files stay)')
    .option(
      '--queue <url>',
      'run the units as BullMQ jobs on Redis (redis://[user:password@]host:port[/db], rediss:// for TLS), processed by `bench worker` processes anywhere',
    )
    .addOption(new Option('--kernels <kind>', 'wasm kernels').choices(['fast', 'stock']).default('fast'))
    .option('--reps <n>', 'bootstrap resamples for confidence intervals', '2000')
    .option(
      '--data <path>',
      "offline preference data every run trains on (file.jsonl, as bench train --data: pairs for DPO and relatives, labelled examples for KTO), or a data folder for the environments (translate's dictionary.tsv + corpus.tsv)",
    )
    .option(
      '--baseline <results.json>',
      'an earlier comparison of the same protocol: each method is reported improved, no difference or regressed against it',
    )
    .option('--fail-on-regression', 'with --baseline: exit 3 when a method regressed (Holm-adjusted)')
    .option(
      '--all',
      'a leaderboard: every registered method (or the methods named) on every environment (or --env), ranked across environments by normalised IQM with performance profiles; pairs a method cannot train (a teacher, a --data file, a missing reward component) are listed as skipped',
    )
    .option('--reference <method>', 'with --all: the method every other is compared with', 'grpo')
    .option(
      '--model <folder>',
      'every run trains this Hugging Face model folder (config.json, *.safetensors, tokenizer.json; docs/models.md) instead of the character transformer',
    )
    .option('--lora [spec]', 'with --model: train LoRA adapters, rank=8,alpha=16,targets=q_proj,v_proj (the defaults)')
    .option(
      '--chat-template <mode>',
      "with --model: auto (the default) prompts through the folder's chat template when it has one; off: plain-text prompts",
    )
    .addOption(
      new Option(
        '--sft <mode>',
        "with --model: none (default: the pretrained weights are every run's start) or cache (an SFT warm start shared by the methods per environment and seed)",
      ).choices(['cache', 'none']),
    )
    .addHelpText(
      'after',
      '\nExamples:\n  bench compare grpo mc-grpo gdpo                 quick preset (smoke level, minutes)\n  bench compare grpo gdpo --preset standard --out results/std\n  bench compare grpo mc-grpo --out results/std --resume   continue after a crash\n  bench compare dpo --set loss=dpo-ipo --data prefs.jsonl   offline preference objectives\n  bench compare grpo --preset standard --baseline results/std/results.json --fail-on-regression\n  bench compare --all --out results/board      leaderboard preset: every method on every environment\n  bench compare grpo gdpo rloo --all --env countdown,gridnav --preset quick\n  bench compare grpo rloo --model ./my-model --lora   every run trains your Hugging Face model (docs/models.md)\n\nControls added automatically: sft-start (the SFT checkpoint without RL) and, with mc-grpo, grpo-plus-one.\nEvery run of a comparison gets the same budget; everything generated is charged (docs/benchmark-protocol.md).',
    )
    .action(async function (this: Command, methods: string[], opts: CompareOptions) {
      const ctx = new CommandContext(io, this);
      const { registry } = await ctx.registry();
      const overrides = await ctx.overrides();
      const preferences = opts.data === undefined ? undefined : await preferencesRef(path.resolve(io.cwd, opts.data), overrides);
      // Every unit's configuration is resolved now, so that bad input fails before --out exists.
      const { checkHfRun, readersOf, resolveTrainConfig, unreadOptions, whyUnfit } = await import('@policy-lab/trainer');
      const preset = opts.all && this.getOptionValueSource('preset') === 'default' ? 'leaderboard' : opts.preset;
      if (!opts.all && methods.length === 0)
        throw new UsageError('name at least one method (bench list --kind methods), or --all for a leaderboard of every method');
      if (!opts.all && this.getOptionValueSource('reference') === 'cli')
        throw new UsageError('--reference is the leaderboard reference: it needs --all');
      const model = await compareModel(io.cwd, opts);
      // A leaderboard on a model leaves out, as skipped, the pairs bench train --model refuses.
      const modelUnfit = (pair: { method: string; env: string; overrides: Record<string, unknown> }) => {
        if (!model) return undefined;
        try {
          checkHfRun({ registry, ...pair, seed: 1, budget: { episodes: 1 }, ...hfOptions(model) }, ctx.options.backend ?? 'wasm');
          return undefined;
        } catch (error) {
          if (error instanceof UsageError) return error.message;
          throw error;
        }
      };
      // The leaderboard preset leaves out environments too costly for its time limit, unless --env names them.
      const leftOut = opts.all && !opts.env ? Object.entries(PRESETS[preset as PresetName]?.leavesOut ?? {}) : [];
      const selection = opts.all
        ? selectLeaderboard(registry, {
            methods,
            envs:
              opts.env
                ?.split(',')
                .map((e) => e.trim())
                .filter(Boolean) ??
              (leftOut.length
                ? registry.names('environments').filter((env) => !leftOut.some(([out]) => out === env))
                : undefined),
            overrides,
            whyUnfit: (pair) => whyUnfit({ registry, ...pair, seed: 1 }) ?? modelUnfit(pair),
          })
        : undefined;
      if (selection && !selection.methods.includes(opts.reference))
        throw new UsageError(
          `--reference '${opts.reference}' is not among the leaderboard's methods that train (${selection.methods.join(', ')})`,
        );
      const config = planComparison(registry, {
        methods: selection ? selection.methods : methods,
        ...(selection
          ? {
              envs: selection.envs.join(','),
              skipped: selection.skipped,
              leaderboard: {
                reference: opts.reference,
                ...(leftOut.length ? { leftOut: leftOut.map(([env, reason]) => ({ env, reason })) } : {}),
              },
            }
          : {}),
        ...(opts.env && !selection ? { envs: opts.env } : {}),
        ...(opts.seeds !== undefined ? { seeds: opts.seeds } : {}),
        ...(opts.budget ? { budget: opts.budget } : {}),
        preset,
        overrides,
        backend: ctx.options.backend ?? 'wasm',
        kernels: opts.kernels,
        ...(preferences ? { preferences } : {}),
        ...(model ? { model } : {}),
        resolveTrainConfig,
        unreadOptions: (unit) => unreadOptions({ registry, ...unit, seed: 1 }),
        readersOf: (key) => readersOf(key, registry),
      });
      if (model) checkModelUnits(config, model, registry, checkHfRun);
      if (opts.failOnRegression && !opts.baseline)
        throw new UsageError('--fail-on-regression needs --baseline <results.json> (the comparison to guard against)');
      const baselineFile = opts.baseline === undefined ? undefined : path.resolve(io.cwd, opts.baseline);
      const baseline = baselineFile === undefined ? undefined : loadBaseline(baselineFile);
      const differences = baseline && baselineFile ? baselineDifferences(config, baseline, baselineFile) : [];
      // Said in --json mode too: stderr carries the logs either way.
      for (const warning of evalTasksWarnings(config)) io.stderr(`${warning}\n`);
      const threads = Number(opts.threads);
      if (![1, 2].includes(threads)) throw new UsageError(`bad --threads '${opts.threads}': accepted 1, 2`);
      const workers = opts.workers === undefined ? Math.max(1, Math.floor(os.cpus().length / threads)) : Number(opts.workers);
      if (!Number.isInteger(workers) || workers < 1)
        throw new UsageError(`bad --workers '${opts.workers}': expected a positive integer`);
      const reps = parseReps(opts.reps);
      const out = path.resolve(io.cwd, opts.out ?? path.join('bench-results', new Date().toISOString().replace(/[:.]/g, '-')));
      if (!ctx.options.json) {
        io.stderr(
          `bench compare: ${[...config.methods, ...config.controls].join(', ')} on ${config.envs.join(', ')}; ${config.seeds.length} seeds${seedWords(config.seeds) === String(config.seeds.length) ? '' : ` (${seedWords(config.seeds)})`}; budget ${budgetsWords(config)}; ${workers} worker(s)\n`,
        );
        io.stderr(`${describeRun(config)}\n`);
        for (const [key, methods] of Object.entries(config.partialOptions ?? {}))
          io.stderr(`--set ${key} applies to ${methods.join(', ')} (the other methods do not read it)\n`);
        for (const [env, reason] of leftOut.filter(([env]) => registry.has('environments', env)))
          io.stderr(`left out: ${env}: ${reason} (--env adds it)\n`);
        for (const s of config.skipped ?? [])
          io.stderr(`skipped: ${s.method}${s.env === '*' ? '' : ` on ${s.env}`}: ${s.reason}\n`);
        if (baselineFile && differences.length) io.stderr(`--baseline ${baselineFile} differs in: ${differences.join('; ')}\n`);
      }
      let runUnits: Parameters<typeof runComparison>[1]['runUnits'];
      if (opts.queue) {
        const { checkReachable, parseQueueUrl } = await import('../queue/connection.js');
        const connection = parseQueueUrl(opts.queue);
        await checkReachable(connection);
        const { queueRunner } = await import('../queue/remote.js');
        const { fingerprint } = await import('../compare/plan.js');
        runUnits = queueRunner(connection, fingerprint(config));
        if (!ctx.options.json)
          io.stderr(
            `units go to the BullMQ queue at ${connection.url}; start workers with: bench worker --queue ${connection.url}${ctx.options.plugin.map((p) => ` --plugin ${p}`).join('')}\n`,
          );
      }
      const bar = progressBar(io, ctx.options.json, 'compare');
      const started = Date.now();
      const document = await runComparison(config, {
        out,
        resume: Boolean(opts.resume),
        force: Boolean(opts.force),
        workers,
        threads,
        cwd: io.cwd,
        plugins: ctx.options.plugin,
        ...(ctx.options.config ? { config: ctx.options.config } : {}),
        reps,
        ...(baseline && baselineFile ? { baseline: { file: baselineFile, document: baseline, differences } } : {}),
        ...(runUnits ? { runUnits } : {}),
        onProgress: (done, total, running) => {
          const partial = [...running.values()].reduce((a, b) => a + b, 0);
          bar.update((done + partial) / total, `${done}/${total} runs done, ${running.size} running`);
        },
        onFailure: (id, message) => io.stderr(`\nfailed: ${id}: ${message} (the leaderboard goes on; --resume retries it)\n`),
      }).finally(() => bar.stop());
      // Workers start their own backends; one line here instead of one per worker.
      for (const reason of document.kernelsFallback ?? []) io.stderr(`warning: ${reason}\n`);
      for (const env of document.aggregates.envs) for (const warning of diagnosticWarnings(env)) io.stderr(`${warning}\n`);
      if (ctx.options.json) ctx.printJson('compare', document as unknown as Record<string, unknown>);
      else {
        io.stdout(renderTable(document));
        io.stdout(
          `\nWrote ${path.join(out, 'results.json')}, results.csv, report.md, report.html (${((Date.now() - started) / 1000).toFixed(0)} s)\n`,
        );
      }
      const regressed = (document.baseline?.verdicts ?? []).filter((v) => v.verdict === 'regressed');
      if (opts.failOnRegression && regressed.length)
        throw new RegressionError(
          `regressed against --baseline ${baselineFile}: ${regressed.map((v) => `${v.method} on ${v.env} (${(100 * v.difference.estimate).toFixed(1)} points, Holm-adjusted p ${v.pHolm.toFixed(3)})`).join(', ')}`,
        );
    });
}
