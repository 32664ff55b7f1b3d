import { RunError, UsageError } from '@policy-lab/core';
import { Argument, type Command, Option } from 'commander';
import { Bench } from 'tinybench';
import { CommandContext } from '../context.js';
import type { Io } from '../io.js';
import { machine, peerPython, runPeer } from './speed-peer.js';
import { readRlStepOptions, rlStepOptions, rlStepSuite } from './speed-rl-step.js';

const SUITES = ['train-step', 'decode', 'rollout', 'advantages', 'rl-step'] as const;

interface Measurement {
  kernels: string;
  ms: number;
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
  bench.add('workload', run);
  await bench.run();
  const result = bench.tasks[0]?.result;
  if (result?.state !== 'completed') throw new RunError(`benchmark did not complete (${result?.state ?? 'no result'})`);
  const ms = result.latency.p50 ?? result.latency.mean;
  return { ms, tokensPerSecond: (tokens() / ms) * 1000, samples: result.latency.samplesCount, rme: result.latency.rme };
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
    .option('--require-hardware-gpu', 'with --backend webgpu: refuse a software adapter');
  for (const option of rlStepOptions()) command.addOption(option);
  command
    .addHelpText(
      'after',
      '\nExamples:\n  bench speed train-step --dim 64 --batch 32 --kernels both --json\n  bench speed decode --dim 64 --batch 32 --tokens 64\n  bench speed --peer torch --json\n  bench speed --backend webgpu\n  bench speed rl-step --peer torch --threads 1 --repeats 5',
    )
    .action(async function (
      this: Command,
      suite: string,
      opts: {
        dim: string;
        batch: string;
        tokens: string;
        env: string;
        estimator: string;
        iterations: string;
        kernels: string;
        threads: string;
        peer?: string;
        requireHardwareGpu?: boolean;
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
      if (suite === 'rl-step') {
        if (opts.env !== 'countdown') throw new UsageError(`bad --env '${opts.env}' for rl-step: accepted countdown`);
        await rlStepSuite(ctx, readRlStepOptions(opts, { dim, threads, peer: opts.peer === 'torch' }));
        return;
      }
      if (suite === 'advantages') {
        await advantagesSuite(ctx, opts.estimator, batch, iterations);
        return;
      }
      const { registry } = suite === 'rollout' ? await ctx.registry() : { registry: undefined };
      const env = registry?.get('environments', opts.env);
      const trainer = await import('@policy-lab/trainer');
      const backendName = ctx.options.backend ?? 'wasm';
      const kernelsWanted = backendName === 'wasm' ? (opts.kernels === 'both' ? ['stock', 'fast'] : [opts.kernels]) : ['stock'];
      const measurements: Measurement[] = [];
      let info: Awaited<ReturnType<typeof trainer.initBackend>> | undefined;
      for (const kernels of kernelsWanted) {
        info = await trainer.initBackend({
          name: backendName,
          kernels,
          threads,
          ...(opts.requireHardwareGpu ? { requireHardwareGpu: true } : {}),
          warn: (line) => io.stderr(`${line}\n`),
        });
        const workload =
          suite === 'decode'
            ? trainer.referenceDecode({ dim, batch, tokens })
            : suite === 'rollout'
              ? trainer.referenceRollouts({ env: env as NonNullable<typeof env>, batch })
              : trainer.referenceTrainStep({ dim, batch });
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
      const main = measurements[measurements.length - 1] as Measurement;
      const timeKey = suite === 'train-step' ? 'msPerStep' : 'msPerCall';
      const document: Record<string, unknown> = {
        suite,
        backend: info?.name ?? backendName,
        kernels: main.kernels,
        threads: info?.threads ?? 1,
        dim,
        batch,
        ...(suite === 'decode' ? { tokens } : {}),
        ...(suite === 'rollout' ? { env: opts.env, episodesPerSecond: (batch / main.ms) * 1000 } : {}),
        [timeKey]: main.ms,
        tokensPerSecond: main.tokensPerSecond,
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
      if (opts.peer === 'torch') {
        const peer = runPeer(
          peerPython(io.env),
          suite === 'decode' ? 'torch_decode.py' : 'torch_train_step.py',
          suite === 'decode' ? [dim, batch, tokens, threads].map(String) : [dim, batch, threads].map(String),
          threads,
        );
        document.peer = peer;
        document.ratioToPeer = main.ms / Number(peer[timeKey]);
      }
      if (ctx.options.json) {
        ctx.printJson('speed', document);
        return;
      }
      const lines = [
        `${suite === 'rollout' ? `rollout ${opts.env} (its recommended model)` : `${suite} D=${dim}`} batch=${batch}${suite === 'decode' ? ` tokens=${tokens}` : ''} on ${document.backend} (${main.kernels} kernels, ${String(document.threads)} thread(s))`,
      ];
      for (const m of measurements)
        lines.push(
          `  ${m.kernels.padEnd(5)} ${m.ms.toFixed(1)} ms  ${Math.round(m.tokensPerSecond)} tokens/s  (${m.samples} samples, rme ${m.rme.toFixed(1)}%)`,
        );
      if (document.speedupOverStock)
        lines.push(`  fast kernels: ${(document.speedupOverStock as number).toFixed(2)}x the stock step`);
      if (document.peer) {
        const peer = document.peer as Record<string, unknown>;
        lines.push(
          `  torch ${Number(peer[timeKey]).toFixed(1)} ms on ${String(peer.threads)} thread(s), ${String(peer.blas)} BLAS; ours / torch = ${(document.ratioToPeer as number).toFixed(2)}`,
        );
      }
      const host = document.machine as { cpuModel: string; cpuFlags: string[] };
      lines.push(`  machine: ${host.cpuModel} (${host.cpuFlags.join(' ') || 'no flags read'})`);
      io.stdout(`${lines.join('\n')}\n`);
    });
}
