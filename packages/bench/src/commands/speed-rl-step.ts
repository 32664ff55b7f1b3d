/**
 * `bench speed rl-step`: one GRPO step on countdown, timed whole: sample tasksPerStep x G rollouts
 * at temperature 1 with the KV cache, score them, group-relative advantages, one PPO-clip update
 * (token-mean, global-norm clipping, Adam), each repeat from the same starting weights; ours is the
 * trainer's own step (`rlStep`: its sample stage, estimator and row update), timed here. With
 * `--peer torch` the same step runs in PyTorch (peers/torch_rl_step.py) from the same safetensors
 * checkpoint and task list, written to a temporary folder; before any timing the peer re-scores
 * our sampled rollouts, and a peer that computes something else fails the run.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_TRAIN_CONFIG, Rng, type Rollout, RunError, UsageError, weightedSum } from '@policy-lab/core';
import * as tf from '@tensorflow/tfjs-core';
import { Option } from 'commander';
import type { CommandContext } from '../context.js';
import { machine, peerPython, runPeer } from './speed-peer.js';

type Trainer = typeof import('@policy-lab/trainer');
type Policy = ReturnType<Trainer['createPolicy']>;

/** Countdown's recommended model (the shape every countdown run trains). */
const MODEL = { layers: 2, heads: 4, contextLength: 48, mlpRatio: 4 };
/** The trainer's Adam defaults (optim/adam.ts), told to the peer. */
const ADAM = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };

/**
 * Where ours and the peer must agree on the same rollouts (absolute for log-prob sums and
 * advantages, relative for the update's loss, gradient norm and entropy); float32 on both sides.
 */
export const TOLERANCES = {
  sampledLogprobs: 1e-4,
  scoredLogprobs: 1e-4,
  advantages: 1e-6,
  loss: 1e-3,
  gradNorm: 1e-3,
  entropy: 1e-3,
};

export interface RlStepOptions {
  tasksPerStep: number;
  groupSize: number;
  maxNewTokens: number;
  learningRate: number;
  repeats: number;
  seed: number;
  dim: number;
  threads: number;
  kernels: string;
  checkpoint?: string;
  peer: boolean;
}

/** The options only rl-step reads (added to `bench speed`). */
export function rlStepOptions(): Option[] {
  return [
    new Option('--tasks-per-step <n>', 'rl-step: tasks per step').default(String(DEFAULT_TRAIN_CONFIG.tasksPerStep)),
    new Option('--group-size <n>', 'rl-step: rollouts per task (G, at least 2)').default(String(DEFAULT_TRAIN_CONFIG.groupSize)),
    new Option('--max-new-tokens <n>', 'rl-step: action token limit').default(String(DEFAULT_TRAIN_CONFIG.maxNewTokens)),
    new Option('--learning-rate <x>', "rl-step: Adam's learning rate").default(String(DEFAULT_TRAIN_CONFIG.learningRate)),
    new Option(
      '--repeats <n>',
      'timed repeats per side, ours and the peer alternating (rl-step: steps, default 5; train-step and decode: measurements of --iterations each, default 1)',
    ).default('5'),
    new Option('--seed <n>', 'rl-step: tasks, random init and sampling seed').default('0'),
    new Option(
      '--checkpoint <file>',
      "rl-step: start from this policy safetensors (the trainer's weight names, bare or 'model.'-prefixed: an SFT cache file or a run's weights); default a random init",
    ),
  ];
}

function integer(flag: string, text: string, min: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new UsageError(`bad ${flag} '${text}': expected an integer >= ${min}`);
  return value;
}

/** Validated rl-step options from the command's raw ones (exit 2 on a bad value). */
export function readRlStepOptions(
  raw: Record<string, string | boolean | undefined>,
  shared: { dim: number; threads: number; peer: boolean },
): RlStepOptions {
  const learningRate = Number(raw.learningRate);
  if (!(Number.isFinite(learningRate) && learningRate > 0))
    throw new UsageError(`bad --learning-rate '${String(raw.learningRate)}': expected a number > 0`);
  if (raw.kernels === 'both')
    throw new UsageError("bad --kernels 'both' for rl-step: accepted fast, stock (one step is timed against the peer)");
  return {
    tasksPerStep: integer('--tasks-per-step', String(raw.tasksPerStep), 1),
    groupSize: integer('--group-size', String(raw.groupSize), 2),
    maxNewTokens: integer('--max-new-tokens', String(raw.maxNewTokens), 1),
    learningRate,
    repeats: integer('--repeats', String(raw.repeats), 1),
    seed: integer('--seed', String(raw.seed), 0),
    kernels: String(raw.kernels),
    ...(typeof raw.checkpoint === 'string' ? { checkpoint: raw.checkpoint } : {}),
    ...shared,
  };
}

// ---------------------------------------------------------------------------------------------
// The starting weights

interface Start {
  policy: Policy;
  names: string[];
  /** The starting weights, by name, restored before every step. */
  weights: Record<string, { shape: number[]; data: Float32Array }>;
  description: string;
}

/** The model a checkpoint holds: V, D, T from the embeddings, L from the layers, the MLP ratio from w1. */
function startFrom(trainer: Trainer, options: RlStepOptions, vocabSize: number): Start {
  const config = { ...MODEL, vocabSize, dim: options.dim, valueHead: false };
  if (!options.checkpoint) {
    const policy = trainer.createPolicy(config, Rng.seeded(options.seed).split('init'));
    return {
      policy,
      names: policy.weightNames(),
      weights: readWeights(policy),
      description: `random init, seed ${options.seed}`,
    };
  }
  const file = options.checkpoint;
  const loaded = trainer.loadSafetensors(file).tensors;
  const tensors = Object.fromEntries(Object.entries(loaded).map(([name, t]) => [name.replace(/^model\./, ''), t]));
  const shape = (name: string) => {
    const tensor = tensors[name];
    if (!tensor) throw new UsageError(`${file}: no tensor '${name}' (not a policy checkpoint of the trainer)`);
    return tensor.shape;
  };
  const [V, D] = shape('token_embedding') as [number, number];
  if (V !== vocabSize)
    throw new UsageError(`${file}: a vocabulary of ${V} tokens; countdown's tokenizer has ${vocabSize} (not a countdown policy)`);
  const layers = Object.keys(tensors).filter((name) => /^layer\d+\.wq$/.test(name)).length;
  const checkpointConfig = {
    ...config,
    vocabSize: V,
    dim: D,
    layers,
    contextLength: shape('position_embedding')[0] as number,
    mlpRatio: (shape('layer0.w1')[1] as number) / D,
  };
  if (D % MODEL.heads !== 0) throw new UsageError(`${file}: width ${D} is not divisible by ${MODEL.heads} heads`);
  let policy: Policy;
  try {
    policy = trainer.createPolicy(checkpointConfig, Rng.seeded(0));
  } catch (error) {
    throw new UsageError(`${file}: its tensors make no model of the trainer (${(error as Error).message})`);
  }
  const names = policy.weightNames();
  const weights: Start['weights'] = {};
  for (const name of names) {
    shape(name); // names the missing tensor
    weights[name] = tensors[name] as Start['weights'][string];
  }
  policy.variables.forEach((v, i) => {
    const saved = weights[names[i] as string] as Start['weights'][string];
    if (saved.shape.join(',') !== v.shape.join(','))
      throw new UsageError(`${file}: tensor '${names[i]}' is [${saved.shape}], the model needs [${v.shape}]`);
  });
  restore(policy, names, weights);
  return { policy, names, weights, description: `checkpoint ${file}` };
}

function readWeights(policy: Policy): Start['weights'] {
  const names = policy.weightNames();
  return Object.fromEntries(
    policy.variables.map((v, i) => [names[i] as string, { shape: [...v.shape], data: v.dataSync() as Float32Array }]),
  );
}

function restore(policy: Policy, names: readonly string[], weights: Start['weights']): void {
  policy.variables.forEach((v, i) => {
    const saved = weights[names[i] as string] as Start['weights'][string];
    tf.tidy(() => v.assign(tf.tensor(saved.data, saved.shape)));
  });
}

// ---------------------------------------------------------------------------------------------
// Our step

interface Workload {
  trainer: Trainer;
  setup: Parameters<Trainer['rlStep']>[0];
  resolved: Parameters<Trainer['rlStep']>[1];
  scalar: (reward: Rollout['reward']) => number;
}

/** What a step computed; the check compares it with the peer's re-scoring of the same rollouts. */
interface StepRecord {
  /** Each episode's prompt (as the sample stage built it), its sampled tokens and their log-probs. */
  promptTokens: number[][];
  actionTokens: number[][];
  logprobs: number[][];
  rewards: Record<string, number>[];
  scalarRewards: number[];
  advantages: number[];
  loss: number;
  gradNorm: number;
  entropy: number;
  generatedTokens: number;
  trainedTokens: number;
  /** Wall time of sampling, scoring and advantages, and of the update (the trainer's rollout and update seconds). */
  rolloutMs: number;
  updateMs: number;
}

/** The trainer's own step (sample stage rollouts, the registered estimator, the update stage's row update). */
async function ourStep(w: Workload, optimizer: InstanceType<Trainer['Adam']>): Promise<StepRecord> {
  const step = await w.trainer.rlStep(w.setup, w.resolved, optimizer);
  const rollouts = step.groups.flat();
  const turn = (r: Rollout) => r.turns[0] as Rollout['turns'][number];
  const metric = (name: string) => {
    const value = step.metrics[name];
    if (typeof value !== 'number' || !Number.isFinite(value))
      throw new RunError(`our step produced no finite '${name}' (${String(value)})`);
    return value;
  };
  return {
    promptTokens: rollouts.map((r) => [...turn(r).promptTokens]),
    actionTokens: rollouts.map((r) => [...turn(r).actionTokens]),
    logprobs: rollouts.map((r) => [...turn(r).logprobs]),
    rewards: rollouts.map((r) => ({ ...r.reward })),
    scalarRewards: rollouts.map((r) => w.scalar(r.reward)),
    advantages: step.advantages.rollout.flat(),
    loss: metric('loss'),
    gradNorm: metric('gradNorm'),
    entropy: metric('entropy'),
    generatedTokens: rollouts.reduce((n, r) => n + turn(r).actionTokens.length, 0),
    trainedTokens: metric('trainedTokens'),
    rolloutMs: step.rolloutMs,
    updateMs: step.updateMs,
  };
}

// ---------------------------------------------------------------------------------------------
// The cross-check

export interface CheckField {
  /** Largest difference: absolute for per-sequence values, relative (absolute below 1e-3) for the update's scalars. */
  maxDifference: number;
  tolerance: number;
}

/** Ours against the peer's re-scoring of our rollouts; every field within its tolerance, rewards equal. */
export function compareWithPeer(ours: StepRecord, peer: Record<string, unknown>) {
  const list = (key: string) => {
    const values = peer[key];
    if (!Array.isArray(values) || values.length !== ours.actionTokens.length)
      throw new RunError(`the PyTorch peer's check gave no '${key}' for the ${ours.actionTokens.length} rollouts`);
    return values as number[];
  };
  const maxAbs = (a: readonly number[], b: readonly number[]) =>
    a.reduce((m, x, i) => Math.max(m, Math.abs(x - (b[i] as number))), 0);
  // Relative, but absolute below 1e-3: GRPO's advantages sum to zero in a group, so with answers of
  // equal length the token-mean loss cancels to ~1e-9, where float32 rounding is all that differs.
  const relative = (a: number, b: unknown) => Math.abs(a - Number(b)) / Math.max(Math.abs(a), 1e-3);
  const sums = ours.logprobs.map((l) => l.reduce((s, x) => s + x, 0));
  const fields: Record<keyof typeof TOLERANCES, CheckField> = {
    sampledLogprobs: { maxDifference: maxAbs(sums, list('sampledLogprobs')), tolerance: TOLERANCES.sampledLogprobs },
    // Ours are the sampler's: at the step's one update the training pass reads the same weights.
    scoredLogprobs: { maxDifference: maxAbs(sums, list('scoredLogprobs')), tolerance: TOLERANCES.scoredLogprobs },
    advantages: { maxDifference: maxAbs(ours.advantages, list('advantages')), tolerance: TOLERANCES.advantages },
    loss: { maxDifference: relative(ours.loss, peer.loss), tolerance: TOLERANCES.loss },
    gradNorm: { maxDifference: relative(ours.gradNorm, peer.gradNorm), tolerance: TOLERANCES.gradNorm },
    entropy: { maxDifference: relative(ours.entropy, peer.entropy), tolerance: TOLERANCES.entropy },
  };
  const peerRewards = list('rewards') as unknown as Record<string, number>[];
  const rewardMismatches = ours.rewards.filter((r, i) =>
    Object.entries(r).some(([k, v]) => (peerRewards[i] as Record<string, number>)[k] !== v),
  ).length;
  const scalars: Record<string, [number, unknown]> = {
    loss: [ours.loss, peer.loss],
    gradNorm: [ours.gradNorm, peer.gradNorm],
    entropy: [ours.entropy, peer.entropy],
  };
  const failed = Object.entries(fields)
    .filter(([, f]) => !(f.maxDifference <= f.tolerance))
    .map(([name, f]) => {
      const values = scalars[name];
      const both = values ? `: ours ${values[0]}, the peer's ${String(values[1])}` : '';
      return `${name} differs by ${f.maxDifference.toExponential(2)} (tolerance ${f.tolerance}${both})`;
    });
  if (rewardMismatches > 0) failed.push(`${rewardMismatches} of ${ours.rewards.length} reward vectors differ`);
  return {
    rollouts: ours.actionTokens.length,
    rewardMismatches,
    fields,
    loss: ours.loss,
    gradNorm: ours.gradNorm,
    failed,
    passed: failed.length === 0,
  };
}

// ---------------------------------------------------------------------------------------------
// Statistics of the repeats

/** Student's t 0.975 quantiles for 1..30 degrees of freedom (a 95% interval), as tinybench reports rme. */
const T_975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101,
  2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

export function summary(values: readonly number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const middle = Math.floor(n / 2);
  const median = n % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
  const mean = sorted.reduce((s, x) => s + x, 0) / n;
  const sd = n > 1 ? Math.sqrt(sorted.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1)) : 0;
  const rme = n > 1 ? (((T_975[Math.min(n - 2, T_975.length - 1)] as number) * sd) / Math.sqrt(n) / mean) * 100 : 0;
  return { median, min: sorted[0] as number, max: sorted[n - 1] as number, rme };
}

// ---------------------------------------------------------------------------------------------
// The suite

export async function rlStepSuite(ctx: CommandContext, options: RlStepOptions): Promise<void> {
  const { registry } = await ctx.registry();
  const env = registry.get('environments', 'countdown');
  const trainer = await import('@policy-lab/trainer');
  const backendName = ctx.options.backend ?? 'wasm';
  const info = await trainer.initBackend({
    name: backendName,
    kernels: options.kernels,
    threads: options.threads,
    warn: (line) => ctx.io.stderr(`${line}\n`),
  });
  const tokenizer = trainer.CharTokenizer.fromAlphabet(env.alphabet?.() ?? '');
  const start = startFrom(trainer, options, tokenizer.vocabSize);
  const { policy } = start;
  const tasks = env.tasks('train', { seed: options.seed, count: options.tasksPerStep });
  if (tasks.length < options.tasksPerStep)
    throw new UsageError(`bad --tasks-per-step '${options.tasksPerStep}': countdown has ${tasks.length} train tasks`);
  const longest = Math.max(...tasks.map((task) => tokenizer.encode(env.start(task, Rng.seeded(0)).observation()).length + 2));
  if (longest > policy.config.contextLength - options.maxNewTokens)
    throw new UsageError(
      `bad --max-new-tokens '${options.maxNewTokens}': prompts of ${longest} tokens leave ${policy.config.contextLength - longest} of the context ${policy.config.contextLength}`,
    );
  const setup = { registry, method: 'grpo', env: 'countdown', ...options, policy, tokenizer, tasks };
  const resolved = trainer.resolveRlStep(setup);
  const { config } = resolved;
  const weights = Object.fromEntries(env.rewardComponents.map((c) => [c.name, c.weight]));
  const w: Workload = { trainer, setup, resolved, scalar: (reward) => weightedSum(reward, weights) };
  const episodes = options.tasksPerStep * options.groupSize;
  // The optimizer a run makes (the trainer's Adam with its defaults).
  const newOptimizer = () => new trainer.Adam(policy.variables, { learningRate: config.learningRate });
  const folder = options.peer ? mkdtempSync(path.join(os.tmpdir(), 'policy-lab-rl-step-')) : undefined;
  const python = peerPython(ctx.io.env);
  const ours: StepRecord[] = [];
  const oursMs: number[] = [];
  const peerSteps: Record<string, number>[] = [];
  let peerInfo: Record<string, unknown> | undefined;
  let check: ReturnType<typeof compareWithPeer> | undefined;
  const loadBefore = os.loadavg();
  try {
    // Untimed warm-up; its rollouts are every timed step's too (the same seed and weights), and the check's.
    let optimizer = newOptimizer();
    const warm = await ourStep(w, optimizer);
    optimizer.dispose();
    if (folder) {
      writeFileSync(
        path.join(folder, 'spec.json'),
        JSON.stringify({
          checkpoint: 'policy.safetensors',
          model: { ...MODEL, ...pickModel(policy.config) },
          vocabulary: tokenizer.vocabulary(),
          specials: { pad: trainer.PAD, bos: trainer.BOS, eos: trainer.EOS, sep: trainer.SEP, unk: trainer.UNK },
          // Each task's prompt as the sample stage built it (the first episode of its group).
          tasks: tasks.map((task, k) => ({ ...(task as object), prompt: warm.promptTokens[k * options.groupSize] })),
          groupSize: options.groupSize,
          maxNewTokens: options.maxNewTokens,
          rewardWeights: weights,
          grpo: (({ std, eps }) => ({ std, eps }))((resolved.estimator.resolved ?? {}) as { std?: string; eps?: number }),
          // The resolved run's settings, so the peer computes what the trainer's step computes.
          loss: { clipLow: config.clipLow, clipHigh: config.clipHigh, aggregation: config.aggregation },
          optimizer: { learningRate: config.learningRate, ...ADAM, gradClip: config.gradClip },
          seed: options.seed,
          steps: 1,
        }),
      );
      writeFileSync(path.join(folder, 'policy.safetensors'), trainer.encodeSafetensors(start.weights));
      writeFileSync(
        path.join(folder, 'ours.json'),
        JSON.stringify({
          episodes: warm.actionTokens.map((actionTokens, i) => ({ actionTokens, logprobs: warm.logprobs[i] })),
          // What our step computed from them, for a reader of the folder; the peer recomputes all of it.
          ours: {
            rewards: warm.rewards,
            advantages: warm.advantages,
            loss: warm.loss,
            gradNorm: warm.gradNorm,
            entropy: warm.entropy,
          },
        }),
      );
      // The peer's BLAS check runs here, before anything is timed.
      const peerCheck = runPeer(python, 'torch_rl_step.py', [folder, String(options.threads), 'check'], options.threads);
      check = compareWithPeer(warm, peerCheck);
      if (!check.passed)
        throw new RunError(
          `the PyTorch peer computes a different step on our rollouts: ${check.failed.join('; ')}; no timing was done`,
        );
    }
    for (let repeat = 0; repeat < options.repeats; repeat++) {
      restore(policy, start.names, start.weights);
      optimizer = newOptimizer();
      const started = performance.now();
      ours.push(await ourStep(w, optimizer));
      oursMs.push(performance.now() - started);
      optimizer.dispose();
      if (folder) {
        // Alternating with ours, one process a repeat: a load change on the shared machine hits both sides alike.
        peerInfo = runPeer(python, 'torch_rl_step.py', [folder, String(options.threads), 'time'], options.threads);
        const step = (peerInfo.steps as Record<string, number>[] | undefined)?.[0];
        if (!(step && Number(step.ms) > 0)) throw new RunError('the PyTorch peer reported no timed step');
        peerSteps.push(step);
      }
    }
  } finally {
    if (folder) rmSync(folder, { recursive: true, force: true });
    policy.dispose();
  }
  const loadAfter = os.loadavg();
  const oursSummary = summary(oursMs);
  const perSecond = (ms: number) => (episodes / ms) * 1000;
  const last = ours[ours.length - 1] as StepRecord;
  const document: Record<string, unknown> = {
    suite: 'rl-step',
    backend: info.name,
    kernels: info.kernels,
    threads: info.threads ?? 1,
    env: 'countdown',
    estimator: 'grpo',
    start: start.description,
    model: pickModel(policy.config),
    tasksPerStep: options.tasksPerStep,
    groupSize: options.groupSize,
    episodes,
    maxNewTokens: options.maxNewTokens,
    learningRate: options.learningRate,
    repeats: options.repeats,
    msPerStep: oursSummary.median,
    episodesPerSecond: perSecond(oursSummary.median),
    tokensPerSecond: (last.generatedTokens / oursSummary.median) * 1000,
    samples: options.repeats,
    rme: oursSummary.rme,
    ours: sideReport(oursMs, ours, perSecond),
    loadAverage: { before: loadBefore, after: loadAfter },
    machine: machine(),
    ...(info.fallback ? { fallback: info.fallback } : {}),
  };
  if (peerInfo && check) {
    const peerMs = peerSteps.map((s) => Number(s.ms));
    const ratios = oursMs.map((ms, i) => ms / (peerMs[i] as number));
    const peerSummary = summary(peerMs);
    const { steps: _steps, mode: _mode, ...about } = peerInfo;
    document.peer = {
      ...about,
      ...sideReport(
        peerMs,
        peerSteps.map((s) => ({
          generatedTokens: s.generatedTokens ?? 0,
          trainedTokens: s.trainedTokens ?? 0,
          rolloutMs: s.rolloutMs ?? Number.NaN,
          updateMs: s.updateMs ?? Number.NaN,
        })),
        perSecond,
      ),
    };
    document.ratioToPeer = oursSummary.median / peerSummary.median;
    document.ratioPerRepeat = { ...summary(ratios), values: ratios };
    document.check = check;
  }
  if (ctx.options.json) {
    ctx.printJson('speed', document);
    return;
  }
  ctx.io.stdout(`${describe(document, options).join('\n')}\n`);
}

function pickModel(config: Policy['config']) {
  const { vocabSize, dim, layers, heads, contextLength, mlpRatio } = config;
  return { vocabSize, dim, layers, heads, contextLength, mlpRatio };
}

/** One side's timings and its work per step (the peer samples with its own random stream). */
function sideReport(
  ms: readonly number[],
  steps: readonly Pick<StepRecord, 'generatedTokens' | 'trainedTokens' | 'rolloutMs' | 'updateMs'>[],
  perSecond: (ms: number) => number,
) {
  const s = summary(ms);
  return {
    msPerStep: ms,
    medianMs: s.median,
    episodesPerSecond: { median: perSecond(s.median), min: perSecond(s.max), max: perSecond(s.min) },
    /** Medians of the step's two halves: sampling, scoring and advantages; the update. */
    medianRolloutMs: summary(steps.map((x) => x.rolloutMs)).median,
    medianUpdateMs: summary(steps.map((x) => x.updateMs)).median,
    generatedTokens: steps.map((x) => x.generatedTokens),
    trainedTokens: steps.map((x) => x.trainedTokens),
  };
}

function describe(document: Record<string, unknown>, options: RlStepOptions): string[] {
  type Side = ReturnType<typeof sideReport>;
  const ours = document.ours as Side;
  const range = (side: Side) =>
    `median ${side.medianMs.toFixed(1)} ms, ${side.episodesPerSecond.median.toFixed(1)} episodes/s (${side.episodesPerSecond.min.toFixed(1)}-${side.episodesPerSecond.max.toFixed(1)} over ${side.msPerStep.length} repeats; rollouts ${side.medianRolloutMs.toFixed(1)} ms, update ${side.medianUpdateMs.toFixed(1)} ms), ${Math.round(side.generatedTokens.reduce((a, b) => a + b, 0) / side.generatedTokens.length)} tokens generated a step`;
  const lines = [
    `rl-step countdown, grpo: ${options.tasksPerStep} tasks x ${options.groupSize} rollouts, ${options.maxNewTokens} new tokens, ${String(document.start)}, on ${String(document.backend)} (${String(document.kernels)} kernels, ${String(document.threads)} thread(s))`,
    `  ours  ${range(ours)}`,
  ];
  if (document.peer) {
    const peer = document.peer as Side & Record<string, unknown>;
    const ratios = document.ratioPerRepeat as ReturnType<typeof summary>;
    const check = document.check as ReturnType<typeof compareWithPeer>;
    lines.push(
      `  torch ${range(peer)}; ${String(peer.threads)} thread(s), ${String(peer.blas)} BLAS, torch ${String(peer.torch)}`,
      `  ours / torch = ${(document.ratioToPeer as number).toFixed(2)} (time a step; per repeat ${ratios.min.toFixed(2)}-${ratios.max.toFixed(2)})`,
      `  check on our ${check.rollouts} rollouts: the peer's log-probs within ${Math.max(check.fields.sampledLogprobs.maxDifference, check.fields.scoredLogprobs.maxDifference).toExponential(1)}, rewards equal, advantages within ${check.fields.advantages.maxDifference.toExponential(1)}, loss and gradient norm within ${Math.max(check.fields.loss.maxDifference, check.fields.gradNorm.maxDifference).toExponential(1)} (relative)`,
    );
  }
  const load = document.loadAverage as { before: number[]; after: number[] };
  const host = document.machine as { cpuModel: string; cpuFlags: string[]; cpus: number };
  lines.push(
    `  load average ${load.before.map((x) => x.toFixed(2)).join(' ')} before, ${load.after.map((x) => x.toFixed(2)).join(' ')} after, on ${host.cpus} cores`,
    `  machine: ${host.cpuModel} (${host.cpuFlags.join(' ') || 'no flags read'})`,
  );
  return lines;
}
