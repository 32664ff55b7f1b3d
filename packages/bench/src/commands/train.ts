import { DEFAULT_TRAIN_CONFIG, optionsHelp, parseBudget, UsageError } from '@policy-lab/core';
import { type Command, Option } from 'commander';
import { budgetWords } from '../compare/plan.js';
import { CommandContext } from '../context.js';
import type { Io } from '../io.js';
import { progressBar } from '../progress.js';
import { dataOption } from './data-option.js';
import { modelOption } from './model-option.js';

export function parseSeed(text: string, flag = '--seed'): number {
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text)))
    throw new UsageError(`bad ${flag} '${text}': expected a non-negative integer`);
  return Number(text);
}

export function register(program: Command, io: Io): void {
  program
    .command('train')
    .description('train one method on one environment with one seed and budget')
    .argument('<method>', 'a registered method (bench list --kind methods)')
    .requiredOption('--env <env>', 'environment (bench list --kind environments)')
    .option('--seed <n>', 'seed of the run', '1')
    .option('--budget <budget>', 'episodes=N | tokens=N | seconds=N (seconds are not deterministic)', 'episodes=256')
    .option('--out <dir>', 'run folder: checkpoints, metrics.jsonl, result.json')
    .option('--resume', 'continue the run in --out from its last checkpoint (the same run: only the budget may grow)')
    .option('--force', 'start afresh in --out, discarding the run it holds (without it, a folder holding a run is refused)')
    .addOption(
      new Option(
        '--sft <mode>',
        'SFT warm start: cache (shared, default) or none (the default with --model: the pretrained weights are the start; cache then runs it uncached)',
      )
        .choices(['cache', 'none'])
        .default('cache'),
    )
    .option('--model <folder>', 'train a Hugging Face model folder (config.json, *.safetensors, tokenizer.json; docs/models.md)')
    .option('--lora [spec]', 'with --model: train LoRA adapters, rank=8,alpha=16,targets=q_proj,v_proj (the defaults)')
    .option(
      '--chat-template <mode>',
      "with --model: auto (the default) prompts through the folder's chat template when it has one; off: plain-text prompts",
    )
    .addOption(new Option('--kernels <kind>', 'wasm kernels: fast (default) or stock').choices(['fast', 'stock']).default('fast'))
    .option('--threads <n>', 'threads for the fast wasm kernels (1 or 2)', '2')
    .option('--require-hardware-gpu', 'with --backend webgpu: refuse a software (CPU) adapter')
    .option(
      '--data <path>',
      "a preference dataset for preference objectives (file.jsonl: {prompt, chosen, rejected} pairs, or {prompt, completion, label} for KTO), or a data folder for the environment (translate's dictionary.tsv + corpus.tsv)",
    )
    .addHelpText(
      'after',
      () =>
        `\nOptions for --set key=value (docs/training.md):\n${optionsHelp(DEFAULT_TRAIN_CONFIG)}\n` +
        '\nExamples:\n  bench train grpo --env countdown --seed 1 --budget episodes=480\n  bench train grpo --env countdown --model ./my-model --lora rank=8,alpha=16,targets=q_proj,v_proj\n  bench train mc-grpo --env countdown --out runs/a --json\n  bench train grpo --env countdown --out runs/a --resume\n  bench train dpo --env countdown --data prefs.jsonl\n  bench train grpo --env countdown --set loss=kto --data labelled.jsonl\n  bench train grpo --env countdown --set loss=gopd --set teacher=runs/a\n  bench train grpo --env translate --data ./my-corpus',
    )
    .action(async function (
      this: Command,
      method: string,
      opts: {
        env: string;
        seed: string;
        budget: string;
        out?: string;
        resume?: boolean;
        force?: boolean;
        sft: 'cache' | 'none';
        kernels: string;
        threads: string;
        requireHardwareGpu?: boolean;
        data?: string;
        model?: string;
        lora?: string | true;
        chatTemplate?: string;
      },
    ) {
      const ctx = new CommandContext(io, this);
      const seed = parseSeed(opts.seed);
      const budget = parseBudget(opts.budget);
      if (opts.resume && !opts.out) throw new UsageError('--resume needs --out (the run folder to continue)');
      if (opts.force && !opts.out) throw new UsageError('--force needs --out (the run folder to start afresh in)');
      if (opts.force && opts.resume) throw new UsageError('--force and --resume contradict each other: choose one');
      const { registry } = await ctx.registry();
      registry.get('methods', method);
      registry.get('environments', opts.env);
      const overrides = await ctx.overrides();
      const model = modelOption(io.cwd, opts.model, opts.lora, opts.chatTemplate);
      const preferences = opts.data === undefined ? undefined : await dataOption(opts.data, overrides);
      const trainer = await import('@policy-lab/trainer');
      if (!['1', '2'].includes(opts.threads)) throw new UsageError(`bad --threads '${opts.threads}': accepted 1, 2`);
      await trainer.initBackend({
        name: ctx.options.backend ?? 'wasm',
        kernels: opts.kernels,
        threads: Number(opts.threads),
        ...(opts.requireHardwareGpu ? { requireHardwareGpu: true } : {}),
        warn: (line) => io.stderr(`${line}\n`),
      });
      // One writer per run folder: a second `bench train --out` of the same folder is refused, naming the first.
      const hold = opts.out ? trainer.holdFolder(opts.out, 'bench train') : undefined;
      const bar = progressBar(io, ctx.options.json, `${method} ${opts.env} seed ${seed}`);
      let result: Awaited<ReturnType<typeof trainer.train>>;
      try {
        result = await trainer.train({
          registry,
          method,
          env: opts.env,
          seed,
          budget,
          overrides,
          ...(opts.out ? { outDir: opts.out } : {}),
          resume: Boolean(opts.resume),
          force: Boolean(opts.force),
          onNotice: (message) => io.stderr(`note: ${message}\n`),
          ...(ctx.options.backend ? { backend: ctx.options.backend } : {}),
          // With --model the start is the pretrained model unless --sft is given.
          ...(model && this.getOptionValueSource('sft') === 'default' ? {} : { sft: opts.sft }),
          ...(model ? { model } : {}),
          ...(preferences ? { preferences } : {}),
          onProgress: (p) =>
            bar.update(
              p.fraction,
              `${p.phase} step ${p.step}${p.success !== undefined ? ` success ${p.success.toFixed(3)}` : ''}`,
            ),
        });
      } catch (error) {
        hold?.release();
        throw error;
      } finally {
        bar.stop();
      }
      const info = trainer.backendInfo();
      const document = { ...result, backend: result.backend, backendInfo: info };
      if (opts.out) {
        const { writeFileAtomic } = trainer;
        const { join } = await import('node:path');
        writeFileAtomic(join(opts.out, 'result.json'), `${JSON.stringify(document, null, 2)}\n`);
      }
      hold?.release();
      if (ctx.options.json) {
        ctx.printJson('train', document as unknown as Record<string, unknown>);
        return;
      }
      const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
      // Every figure below is what ran (the resolved configuration result.json records), not a default.
      const { config } = result;
      const testTasks = result.final.perTask?.length;
      const envOptions = config.envOptions && Object.keys(config.envOptions).length ? config.envOptions : undefined;
      io.stdout(
        [
          `${result.method} on ${result.env}, seed ${result.seed}, backend ${result.backend}${info?.kernels === 'fast' ? ' (fast kernels)' : ''}`,
          `budget ${budgetWords(result.budget.limit)}${envOptions ? `; environment options ${JSON.stringify(envOptions)}` : ''}`,
          ...(result.model
            ? [
                `model ${result.model.folder} (${result.model.modelType}, ${result.model.parameters} parameters; trained ${result.model.trainedParameters}${result.model.lora ? ` through LoRA rank ${result.model.lora.rank}, alpha ${result.model.lora.alpha} on ${result.model.lora.targets.join(', ')}` : ''})${result.model.chatTemplate ? `; prompted through the chat template of ${result.model.chatTemplate}` : ''}${result.model.saved ? `; saved to ${result.model.saved}` : ''}`,
              ]
            : []),
          ...extensionsLine(result.extensions ?? {}),
          ...taskSourceLine(result.diagnostics),
          `steps ${result.steps}; consumed ${result.budget.consumed.episodes} episodes, ${result.budget.consumed.generatedTokens} generated tokens, ${result.budget.consumed.trainedTokens} trained tokens, ${result.budget.consumed.seconds.toFixed(1)} s${auxWork(result.budget.consumed)}`,
          `evaluated on ${testTasks ?? config.evalTasks} test tasks x ${config.evalSamples} samples${testTasks !== undefined && testTasks < config.evalTasks ? ` (evalTasks ${config.evalTasks}: the test split holds ${testTasks})` : ''}`,
          `sampled success  ${pct(result.initial.success)} -> ${pct(result.final.success)}`,
          `greedy success   ${pct(result.initial.greedySuccess)} -> ${pct(result.final.greedySuccess)}`,
          `pass@${config.evalSamples}           ${pct(result.initial.passAtK)} -> ${pct(result.final.passAtK)}`,
          ...Object.keys(result.final.reward).map(
            (k) =>
              `reward ${k.padEnd(10)} ${(result.initial.reward[k] ?? 0).toFixed(3)} -> ${(result.final.reward[k] ?? 0).toFixed(3)}`,
          ),
          ...Object.entries(result.final.rewardModels ?? {}).map(
            ([name, j]) =>
              `reward model ${name}: ranks ${pct(j.accuracy)} of ${j.pairs} held-out (succeeded, failed) pairs right (untrained ${pct(j.untrainedAccuracy)}; one-sided exact McNemar p = ${j.pValue.toPrecision(2)})`,
          ),
          ...(result.final.selfRerank
            ? [
                `self-rerank best-of-${result.final.selfRerank.samples} ${pct(result.initial.selfRerank?.success ?? 0)} -> ${pct(result.final.selfRerank.success)} (the sample the policy's own verdict prefers)`,
              ]
            : []),
          ...Object.entries(result.rewardModelPretraining ?? {}).map(
            ([name, r]) =>
              `reward model ${name} pre-trained on a zoo of ${r.policies.length} policies (${r.policies.join(', ')}): ${r.episodes} episodes, ${r.pairs} + ${r.finetunePairs} pairs, ${r.updates} updates (not charged); held-out pairs ranked right ${pct(r.heldOut.accuracy)} of ${r.heldOut.pairs} (untrained ${pct(r.heldOut.untrainedAccuracy)}, p = ${r.heldOut.pValue.toPrecision(2)})`,
          ),
          ...(result.sftStart
            ? [
                `SFT start: ${result.sftStart.steps} steps on ${result.sftStart.rows} demonstration rows and ${result.sftStart.extraRows} rows of ${result.sftStart.source} (not charged)`,
              ]
            : []),
          '',
        ].join('\n'),
      );
    });
}

/** The sampler, task source, reward models and hooks the run used, when it used any. */
function extensionsLine(config: { sampler?: string; taskSource?: string; rewardModels?: string[]; hooks?: string[] }): string[] {
  const parts = [
    config.sampler ? `sampler ${config.sampler}` : '',
    config.taskSource ? `task source ${config.taskSource}` : '',
    config.rewardModels?.length ? `reward models ${config.rewardModels.join(', ')}` : '',
    config.hooks?.length ? `hooks ${config.hooks.join(', ')}` : '',
  ].filter(Boolean);
  return parts.length ? [parts.join('; ')] : [];
}

/** The task source's own numbers (pool size, tasks added and retired, ...), as a mean per step. */
function taskSourceLine(diagnostics: Readonly<Record<string, number>>): string[] {
  const entries = Object.entries(diagnostics).filter(([key]) => key.startsWith('taskSource.'));
  if (entries.length === 0) return [];
  const figure = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(2));
  return [
    `task source, mean per step: ${entries.map(([key, value]) => `${key.slice('taskSource.'.length)} ${figure(value)}`).join(', ')}`,
  ];
}

/** The work of models other than the policy (reference, teacher, reward models), when there was any. */
function auxWork(consumed: { auxScoredTokens?: number; auxTrainedTokens?: number }): string {
  const scored = consumed.auxScoredTokens ?? 0;
  const trained = consumed.auxTrainedTokens ?? 0;
  return scored || trained ? `; other models scored ${scored} and trained ${trained} tokens` : '';
}
