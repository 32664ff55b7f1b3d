import os from 'node:os';
import { RunError, UsageError } from '@policy-lab/core';
import { Argument, type Command, Option } from 'commander';
import { Bench } from 'tinybench';
import { CommandContext } from '../context.js';
import type { Io } from '../io.js';
import { modelOption } from './model-option.js';
import { machine, peerPython, runPeer } from './speed-peer.js';
import { readRlStepOptions, rlStepOptions, rlStepSuite } from './speed-rl-step.js';

const SUITES = ['train-step', 'decode', 'rollout', 'advantages', 'rl-step'] as const;

interface Measurement {
  kernels: string;
  ms: number;
  /** Median CPU time of the process a measured iteration (user + system): what preemption by other processes does not inflate. */
  cpuMs: number;
  tokensPerSecond: number;
  samples: number;
  rme: number;
}

function positive(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new UsageError(`bad ${flag} '${text}': expected a positive integer`);
  return value;
}

async function measure(
  run: () => Promise<void>,
  tokens: () => number,
  iterations: number,
): Promise<Omit<Measurement, 'kernels'>> {
  const bench = new Bench({ time: 0, iterations, warmup: true, warmupIterations: 2, warmupTime: 0 });
  const cpu: number[] = [];
  bench.add('workload', async () => {
    const start = process.cpuUsage();
    await run();
    const used = process.cpuUsage(start);
    cpu.push((used.user + used.system) / 1000);
  });
  await bench.run();
  const result = bench.tasks[0]?.result;
  if (result?.state !== 'completed') throw new RunError(`benchmark did not complete (${result?.state ?? 'no result'})`);
  const ms = result.latency.p50 ?? result.latency.mean;
  return {
    ms,
    cpuMs: median(cpu.slice(-iterations)),
    tokensPerSecond: (tokens() / ms) * 1000,
    samples: result.latency.samplesCount,
    rme: result.latency.rme,
  };
}

interface Spread {
  values: number[];
  median: number;
  min: number;
  max: number;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

const spread = (values: number[]): Spread => ({
  values,
  median: median(values),
  min: Math.min(...values),
  max: Math.max(...values),
});

/** --layers and --context, which only train-step and decode take. */
function modelShape(
  suite: string,
  command: Command,
  opts: { layers: string; context?: string },
  tokens: number,
): { layers: number; context?: number } {
  const given = (name: string) => command.getOptionValueSource(name) !== 'default' && command.getOptionValue(name) !== undefined;
  if (suite !== 'train-step' && suite !== 'decode') {
    for (const name of ['layers', 'context'])
      if (given(name)) throw new UsageError(`--${name} exists for train-step and decode, not ${suite}`);
    return { layers: 2 };
  }
  const layers = positive('--layers', opts.layers);
  if (opts.context === undefined) return { layers };
  const context = positive('--context', opts.context);
  if (suite === 'decode' && context < tokens + 1)
    throw new UsageError(
      `bad --context '${opts.context}': decode needs at least --tokens + 1 = ${tokens + 1} (a prompt token and the new ones)`,
    );
  return { layers, context };
}

/** The profile as text: time inside and outside kernels, the kernels and the input shapes that cost most. */
function profileLines(profile: import('@policy-lab/trainer').WorkloadProfile): string[] {
  const row = (k: { name: string; calls: number; ms: number; minMs: number }) =>
    `    ${k.ms.toFixed(2).padStart(8)} ms ${k.minMs.toFixed(2).padStart(8)} ms ${`${k.calls.toFixed(0)} calls`.padStart(11)}  ${((100 * k.ms) / profile.medianMs).toFixed(1).padStart(5)}%  ${k.name}`;
  return [
    `  profile (${profile.runs} runs, every kernel timed): ${profile.medianMs.toFixed(1)} ms a run (median), ${profile.calls.toFixed(0)} kernel calls, ${profile.kernelMs.toFixed(1)} ms inside kernels, ${profile.outsideMs.toFixed(1)} ms outside (dispatch, tape, JS)`,
    `  fastest calls: ${profile.kernelMinMs.toFixed(1)} ms inside kernels (each shape's fastest call times its calls), ${profile.outsideMinMs.toFixed(1)} ms outside (the least of the runs)`,
    '  by kernel (ms a run: the median, the fastest calls; calls a run; the median as a share of the run):',
    ...profile.kernels.filter((k) => k.ms >= 0.05 || k.minMs >= 0.05).map(row),
    '  by kernel and input shapes (the 25 slowest):',
    ...profile.shapes.slice(0, 25).map(row),
  ];
}

/** Advantage throughput of a reward-only estimator on `batch` groups of 8 random rewards. */
async function advantagesSuite(ctx: CommandContext, name: string, batch: number, iterations: number): Promise<void> {
  const { Rng, weightedSum } = await import('@policy-lab/core');
  const { registry } = await ctx.registry();
  const estimator = registry.get('estimators', name);
  if (estimator.needsModel)
    throw new UsageError(`estimator '${name}' needs the model; the advantages suite takes reward-only estimators`);
  const rng = Rng.seeded(0).split('speed');
  const size = estimator.rolloutsPerGroup?.(8) ?? 8;
  const groups = Array.from({ length: batch }, (_, g) =>
    Array.from({ length: size }, (_, i) => ({
      id: `g${g}/${i}`,
      groupId: `g${g}`,
      taskId: `t${g}`,
      turns: [],
      reward: { correct: rng.int(0, 1), format: rng.int(0, 1) },
      success: false,
    })),
  );
  const weights = { correct: 1, format: 0.1 };
  const context = { rng, weights, scalar: (r: Record<string, number>) => weightedSum(r, weights) };
  const result = await measure(
    async () => {
      await estimator.compute(groups, context);
    },
    () => batch * size,
    iterations,
  );
  const document = {
    suite: 'advantages',
    backend: 'none',
    kernels: 'stock',
    estimator: name,
    batch,
    msPerCall: result.ms,
    rolloutsPerSecond: result.tokensPerSecond,
    groupsPerSecond: (batch / result.ms) * 1000,
    samples: result.samples,
    rme: result.rme,
  };
  if (ctx.options.json) ctx.printJson('speed', document);
  else
    ctx.io.stdout(
      `advantages ${name}: ${batch} groups of ${size} in ${result.ms.toFixed(3)} ms (${Math.round(document.groupsPerSecond)} groups/s)\n`,
    );
}

export function register(program: Command, io: Io): void {
  const command = program
    .command('speed')
    .description(
      'measure the training step and decoding speed of the tensor backend (tinybench), optionally against a PyTorch peer',
    )
    .addArgument(new Argument('[suite]', `one of ${SUITES.join(', ')}`).choices(SUITES).default('train-step'))
    .option('--dim <n>', 'model width D', '64')
    .option('--batch <n>', 'sequences per step (train-step) or rows decoded together (decode)', '32')
    .option('--tokens <n>', 'new tokens per decode call', '64')
    .option('--layers <n>', 'train-step and decode: transformer blocks', '2')
    .option(
      '--context <n>',
      'train-step: sequence length T (default 64); decode: the model context, the prompt filling what the new tokens leave (default tokens + 1)',
    )
    .option(
      '--profile',
      'train-step and decode: also time every kernel of our runs (calls and wall time by kernel and by input shapes)',
    )
    .option('--env <name>', 'rollout suite: the environment', 'countdown')
    .option('--estimator <name>', 'advantages suite: a reward-only estimator', 'grpo')
    .option('--iterations <n>', 'measured iterations (after 2 warm-up ones)', '10')
    .addOption(
      new Option('--kernels <kind>', 'wasm kernels: fast, stock, or both (side by side in one process)')
        .choices(['fast', 'stock', 'both'])
        .default('fast'),
    )
    .option('--threads <n>', 'threads for the fast kernels (1 or 2; rl-step: 1 unless given), and the peer', '2')
    .option('--peer <name>', "also run a peer implementation of the same workload: 'torch'")
    .option(
      '--model <folder>',
      'train-step and decode: time a Hugging Face model folder (docs/models.md) instead of the reference transformer; its config sets D, layers and vocabulary, --batch and --context the shape, after the memory check a run makes',
    )
    .option('--lora [spec]', 'with --model: train-step trains LoRA adapters only, rank=8,alpha=16,targets=q_proj,v_proj')
    .option('--require-hardware-gpu', 'with --backend webgpu: refuse a software adapter');
  for (const option of rlStepOptions()) command.addOption(option);
  command
    .addHelpText(
      'after',
      '\nExamples:\n  bench speed train-step --dim 64 --batch 32 --kernels both --json\n  bench speed decode --dim 64 --batch 32 --tokens 64\n  bench speed --peer torch --json\n  bench speed --backend webgpu\n  bench speed rl-step --peer torch --threads 1 --repeats 5\n  bench speed train-step --threads 1 --peer torch --repeats 5 --dim 256 --layers 6 --context 128\n  bench speed train-step --threads 1 --profile\n  bench speed train-step --model ./my-model --lora --batch 8 --context 256 --backend webgpu   your own model (docs/models.md)',
    )
    .action(async function (
      this: Command,
      suite: string,
      opts: {
        dim: string;
        batch: string;
        tokens: string;
        layers: string;
        context?: string;
        profile?: boolean;
        env: string;
        estimator: string;
        iterations: string;
        kernels: string;
        threads: string;
        peer?: string;
        requireHardwareGpu?: boolean;
        model?: string;
        lora?: string | true;
        [rlStep: string]: string | boolean | undefined;
      },
    ) {
      const ctx = new CommandContext(io, this);
      const dim = positive('--dim', opts.dim);
      const batch = positive('--batch', opts.batch);
      const tokens = positive('--tokens', opts.tokens);
      const iterations = positive('--iterations', opts.iterations);
      // The fast wasm kernels run one or two threads per process; another count would silently become 2.
      if (!['1', '2'].includes(opts.threads))
        throw new UsageError(`bad --threads '${opts.threads}': accepted 1, 2 (threads of the fast wasm kernels)`);
      // One thread each by default for the whole-step comparison with PyTorch (per-core figures).
      const threads = suite === 'rl-step' && this.getOptionValueSource('threads') === 'default' ? 1 : Number(opts.threads);
      if (dim % 4 !== 0) throw new UsageError(`bad --dim '${opts.dim}': must be divisible by 4 (the heads)`);
      if (opts.peer !== undefined && opts.peer !== 'torch') throw new UsageError(`unknown --peer '${opts.peer}': accepted torch`);
      if (opts.peer !== undefined && (suite === 'rollout' || suite === 'advantages'))
        throw new UsageError(`--peer torch exists for train-step, decode and rl-step, not ${suite}`);
      const model = modelShape(suite, this, opts, tokens);
      const hfModel = modelOption(io.cwd, opts.model, opts.lora);
      if (hfModel) {
        if (suite !== 'train-step' && suite !== 'decode')
          throw new UsageError(`--model times train-step and decode, not ${suite} (accepted: train-step, decode)`);
        if (opts.peer !== undefined)
          throw new UsageError(
            '--peer torch implements the reference transformer; with --model only ours is timed (drop --peer, or drop --model)',
          );
        for (const flag of ['dim', 'layers'])
          if (this.getOptionValueSource(flag) === 'cli')
            throw new UsageError(`--${flag} comes from the model's config.json with --model: drop --${flag}`);
      }
      const loadBefore = os.loadavg();
      if (suite === 'rl-step') {
        if (opts.env !== 'countdown') throw new UsageError(`bad --env '${opts.env}' for rl-step: accepted countdown`);
        await rlStepSuite(ctx, readRlStepOptions(opts, { dim, threads, peer: opts.peer === 'torch' }));
        return;
      }
      if (suite === 'advantages') {
        await advantagesSuite(ctx, opts.estimator, batch, iterations);
        return;
      }
      // Ours and the peer alternate, one repeat each in turn, so a change of load hits both alike.
      const repeats = this.getOptionValueSource('repeats') === 'default' ? 1 : positive('--repeats', String(opts.repeats));
      const { registry } = suite === 'rollout' ? await ctx.registry() : { registry: undefined };
      const env = registry?.get('environments', opts.env);
      const trainer = await import('@policy-lab/trainer');
      const backendName = ctx.options.backend ?? 'wasm';
      const kernelsWanted = backendName === 'wasm' ? (opts.kernels === 'both' ? ['stock', 'fast'] : [opts.kernels]) : ['stock'];
      const timeKey = suite === 'train-step' ? 'msPerStep' : 'msPerCall';
      const cpuKey = suite === 'train-step' ? 'cpuMsPerStep' : 'cpuMsPerCall';
      const repeatsOf: Measurement[][] = [];
      const peers: Record<string, unknown>[] = [];
      let info: Awaited<ReturnType<typeof trainer.initBackend>> | undefined;
      let profile: Awaited<ReturnType<typeof trainer.profileWorkload>> | undefined;
      const context = model.context ?? (suite === 'decode' ? tokens + 1 : 64);
      // A model folder is loaded for each workload (the memory check first), on the backend just chosen.
      const givenPolicy = () =>
        hfModel
          ? {
              policy: trainer.openHfSpeedPolicy(
                hfModel,
                { rows: batch, sequenceLength: context, training: suite === 'train-step' },
                backendName,
              ),
            }
          : {};
      let modelSizes: { dim: number; layers: number; vocabSize: number; trainedParameters: number } | undefined;
      const workloadFor = () => {
        const given = givenPolicy();
        if (given.policy) {
          const { config, variables } = given.policy;
          modelSizes = {
            dim: config.dim,
            layers: config.layers,
            vocabSize: config.vocabSize,
            trainedParameters: variables.reduce((total, v) => total + v.size, 0),
          };
        }
        return suite === 'decode'
          ? trainer.referenceDecode({ dim, batch, tokens, ...model, ...given })
          : suite === 'rollout'
            ? trainer.referenceRollouts({ env: env as NonNullable<typeof env>, batch })
            : trainer.referenceTrainStep({ dim, batch, ...model, ...given });
      };
      for (let repeat = 0; repeat < repeats; repeat++) {
        const measurements: Measurement[] = [];
        for (const kernels of kernelsWanted) {
          info = await trainer.initBackend({
            name: backendName,
            kernels,
            threads,
            ...(opts.requireHardwareGpu ? { requireHardwareGpu: true } : {}),
            warn: (line) => io.stderr(`${line}\n`),
          });
          const workload = workloadFor();
          try {
            measurements.push({
              kernels: info.kernels,
              ...(await measure(
                () => workload.run(),
                () => workload.tokens,
                iterations,
              )),
            });
          } finally {
            workload.dispose();
          }
        }
        repeatsOf.push(measurements);
        if (opts.peer === 'torch') {
          const layersAndContext = [model.layers, model.context ?? (suite === 'decode' ? tokens + 1 : 64)].map(String);
          peers.push(
            runPeer(
              peerPython(io.env),
              suite === 'decode' ? 'torch_decode.py' : 'torch_train_step.py',
              [...(suite === 'decode' ? [dim, batch, tokens, threads] : [dim, batch, threads]).map(String), ...layersAndContext],
              threads,
            ),
          );
        }
      }
      if (opts.profile) {
        // The last kernels measured are still installed: profile a fresh workload on them.
        const workload = workloadFor();
        try {
          profile = await trainer.profileWorkload(workload, { runs: iterations });
        } finally {
          workload.dispose();
        }
      }
      const measurements = repeatsOf[repeatsOf.length - 1] as Measurement[];
      const main = measurements[measurements.length - 1] as Measurement;
      const oursMs = repeatsOf.map((m) => (m[m.length - 1] as Measurement).ms);
      const oursCpu = repeatsOf.map((m) => (m[m.length - 1] as Measurement).cpuMs);
      const document: Record<string, unknown> = {
        suite,
        backend: info?.name ?? backendName,
        kernels: main.kernels,
        threads: info?.threads ?? 1,
        dim: modelSizes?.dim ?? dim,
        batch,
        ...(suite === 'rollout' ? {} : { layers: modelSizes?.layers ?? model.layers, context }),
        ...(hfModel && modelSizes
          ? {
              model: {
                folder: hfModel.folder,
                vocabSize: modelSizes.vocabSize,
                trainedParameters: modelSizes.trainedParameters,
                ...(hfModel.lora ? { lora: hfModel.lora } : {}),
              },
            }
          : {}),
        ...(suite === 'decode' ? { tokens } : {}),
        ...(suite === 'rollout' ? { env: opts.env, episodesPerSecond: (batch / main.ms) * 1000 } : {}),
        [timeKey]: median(oursMs),
        [cpuKey]: median(oursCpu),
        tokensPerSecond: repeats === 1 ? main.tokensPerSecond : (main.tokensPerSecond * main.ms) / median(oursMs),
        samples: main.samples,
        rme: main.rme,
        machine: machine(),
        ...(info?.adapter ? { adapter: info.adapter } : {}),
        ...(info?.fallback ? { fallback: info.fallback } : {}),
      };
      if (measurements.length === 2) {
        const stock = measurements[0] as Measurement;
        document.stock = { [timeKey]: stock.ms, tokensPerSecond: stock.tokensPerSecond, samples: stock.samples, rme: stock.rme };
        document.speedupOverStock = stock.ms / main.ms;
      }
      const peer: Record<string, unknown> | undefined =
        peers.length > 0 ? { ...peers[peers.length - 1], [timeKey]: median(peers.map((p) => Number(p[timeKey]))) } : undefined;
      // CPU time: peers that report it (ours measure it always).
      const peerCpu = peers.length > 0 && peers.every((p) => typeof p[cpuKey] === 'number');
      if (peer) {
        document.peer = peer;
        document.ratioToPeer = (document[timeKey] as number) / Number(peer[timeKey]);
        if (peerCpu) {
          peer[cpuKey] = median(peers.map((p) => Number(p[cpuKey])));
          document.cpuRatioToPeer = (document[cpuKey] as number) / Number(peer[cpuKey]);
        }
      }
      if (repeats > 1) {
        document.repeats = repeats;
        document.ours = spread(oursMs);
        document.oursCpu = spread(oursCpu);
        if (peer) {
          peer.msPerRepeat = peers.map((p) => Number(p[timeKey]));
          if (peerCpu) {
            peer.cpuMsPerRepeat = peers.map((p) => Number(p[cpuKey]));
            document.cpuRatioPerRepeat = spread(peers.map((p, i) => (oursCpu[i] as number) / Number(p[cpuKey])));
          }
          document.ratioPerRepeat = spread(peers.map((p, i) => (oursMs[i] as number) / Number(p[timeKey])));
        }
      }
      if (profile) document.profile = profile;
      document.loadAverage = { before: loadBefore, after: os.loadavg() };
      if (ctx.options.json) {
        ctx.printJson('speed', document);
        return;
      }
      const shape = suite === 'rollout' ? '' : ` layers=${String(document.layers)} context=${String(document.context)}`;
      const what = hfModel
        ? `${suite} model ${hfModel.folder} D=${String(document.dim)} V=${modelSizes?.vocabSize}${hfModel.lora ? ` (LoRA rank ${hfModel.lora.rank})` : ''}`
        : `${suite} D=${dim}`;
      const lines = [
        `${suite === 'rollout' ? `rollout ${opts.env} (its recommended model)` : what} batch=${batch}${suite === 'decode' ? ` tokens=${tokens}` : ''}${shape} on ${document.backend} (${main.kernels} kernels, ${String(document.threads)} thread(s))`,
      ];
      for (const m of measurements)
        lines.push(
          `  ${m.kernels.padEnd(5)} ${m.ms.toFixed(1)} ms  ${Math.round(m.tokensPerSecond)} tokens/s  (${m.samples} samples, rme ${m.rme.toFixed(1)}%)`,
        );
      if (document.speedupOverStock)
        lines.push(`  fast kernels: ${(document.speedupOverStock as number).toFixed(2)}x the stock step`);
      if (peer) {
        lines.push(
          `  torch ${Number(peer[timeKey]).toFixed(1)} ms on ${String(peer.threads)} thread(s), ${String(peer.blas)} BLAS; ours / torch = ${(document.ratioToPeer as number).toFixed(2)}`,
        );
        if (peerCpu)
          lines.push(
            `  CPU time a ${suite === 'train-step' ? 'step' : 'call'}: ours ${(document[cpuKey] as number).toFixed(1)} ms, torch ${Number(peer[cpuKey]).toFixed(1)} ms; ours / torch = ${(document.cpuRatioToPeer as number).toFixed(2)}`,
          );
      }
      if (repeats > 1) {
        const range = (x: Spread, digits: number) =>
          `median ${x.median.toFixed(digits)} (${x.min.toFixed(digits)}-${x.max.toFixed(digits)})`;
        lines.push(`  ${repeats} repeats: ours ${range(document.ours as Spread, 1)} ms (the line above is the last repeat)`);
        if (peer) {
          lines.push(`  ${repeats} repeats: torch ${range(spread(peer.msPerRepeat as number[]), 1)} ms`);
          lines.push(`  ours / torch per repeat: ${range(document.ratioPerRepeat as Spread, 2)}`);
          if (peerCpu)
            lines.push(
              `  CPU time per repeat: ours ${range(document.oursCpu as Spread, 1)} ms, torch ${range(spread(peer.cpuMsPerRepeat as number[]), 1)} ms; ours / torch ${range(document.cpuRatioPerRepeat as Spread, 2)}`,
            );
        }
      }
      if (profile) lines.push(...profileLines(profile));
      const load = document.loadAverage as { before: number[]; after: number[] };
      lines.push(
        `  load average (1, 5, 15 min): ${load.before.map((x) => x.toFixed(2)).join(' ')} before, ${load.after.map((x) => x.toFixed(2)).join(' ')} after`,
      );
      const host = document.machine as { cpuModel: string; cpuFlags: string[] };
      lines.push(`  machine: ${host.cpuModel} (${host.cpuFlags.join(' ') || 'no flags read'})`);
      io.stdout(`${lines.join('\n')}\n`);
    });
}
