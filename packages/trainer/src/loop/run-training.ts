/**
 * One training run. `train()` reads top to bottom: resolve plugins and configuration, start
 * from the SFT checkpoint, then repeat the step (draw tasks, roll out groups, shape rewards,
 * estimate advantages, compute the loss, optimize, charge the budget, evaluate) until the
 * next step could exceed the budget.
 *
 * Determinism: every random stream is Rng.seeded(seed).split(<step or phase>), so a step's
 * randomness depends only on (seed, step): resuming needs the weights, the optimizer state,
 * the budget consumed and the metrics so far, and nothing else.
 */
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  type AdvantageEstimator,
  type Advantages,
  BudgetMeter,
  collapsedRewardVectors,
  type Divergence,
  type Environment,
  type EstimatorContext,
  type Method,
  type PolicyLoss,
  type RewardShaper,
  Rng,
  type Rollout,
  type RowRollouts,
  RunError,
  signFlips,
  type TrainConfig,
  UsageError,
  weightedSum,
} from '@policy-lab/core';
import * as tf from '@tensorflow/tfjs-core';
import { backendInfo, initBackend } from '../backend/select-backend.js';
import { loadSafetensors, saveSafetensors, writeFileAtomic } from '../checkpoint/safetensors.js';
import { createPolicy, type TransformerPolicy } from '../model/transformer.js';
import { Adam, clipByGlobalNorm } from '../optim/adam.js';
import { CharTokenizer, EOS } from '../tokenizer/char-tokenizer.js';
import type { CurvePoint, EvalResult, TrainOptions, TrainResult } from './api.js';
import { disposeBatch, microBatchSize, rowsFromRollouts, type TrainingRow, toTensors } from './batch.js';
import { resolveTrainConfig } from './config.js';
import type { PreferencePair, UnpairedExample } from './data.js';
import { evaluate } from './evaluate.js';
import {
  checkAlphabet,
  optimizePairs,
  pairRows,
  pairsFromDemonstrations,
  pairsFromGroups,
  type TokenPair,
} from './preference.js';
import { collectRollouts, generatedTokens } from './rollouts.js';
import { demonstrationRows, sftWarmStart } from './sft.js';
import { exampleRows, type LabelledCompletion, labelledFromGroups, optimizeUnpaired, unpair } from './unpaired.js';
import { readWeights, writeWeights } from './weights.js';

type Tf = typeof tf;
type StepMetrics = Record<string, number>;

interface Resolved {
  method: Method;
  env: Environment;
  estimator: AdvantageEstimator;
  loss: PolicyLoss<Tf, tf.Tensor>;
  divergence?: Divergence<Tf, tf.Tensor>;
  shapers: RewardShaper[];
  config: TrainConfig;
  /** The teacher of distillation, for losses with needsTeacher (set once the model exists). */
  teacher?: ReturnType<TransformerPolicy['freeze']>;
}

/** Looks every plugin up through the registry (the built-ins have no private door). */
function resolvePlugins(options: TrainOptions): Resolved {
  const { registry } = options;
  if (!Number.isSafeInteger(options.seed) || options.seed < 0)
    throw new UsageError(`bad seed '${options.seed}': expected a non-negative integer`);
  const method = registry.get('methods', options.method);
  const overrides = options.overrides ?? {};
  // The environment's own options (--set envOptions.<key>=...) change its tasks and recommended sizes.
  const envOptions = overrides.envOptions as Record<string, unknown> | undefined;
  const env = registry.resolve(
    'environments',
    options.env,
    envOptions && Object.keys(envOptions).length ? envOptions : undefined,
  );
  const config = resolveTrainConfig({ method, env, seed: options.seed, budget: options.budget }, overrides);
  const estimatorOptions = (config.estimatorOptions ?? {}) as Record<string, unknown>;
  const estimator = registry.resolve(
    'estimators',
    config.estimator ?? method.estimator,
    Object.keys(estimatorOptions).length ? estimatorOptions : undefined,
  );
  const lossRef = (config.loss as string | undefined) ?? method.loss;
  const lossOptions = {
    ...(typeof lossRef === 'object' && lossRef.options ? lossRef.options : {}),
    ...(config.clipLow !== 0.2 || config.clipHigh !== 0.2 ? { clipLow: config.clipLow, clipHigh: config.clipHigh } : {}),
    ...((config.lossOptions ?? {}) as Record<string, unknown>),
  };
  const lossName = typeof lossRef === 'string' ? lossRef : lossRef.name;
  const lossPlugin = registry.get('losses', lossName);
  const loss = (
    Object.keys(lossOptions).length && lossPlugin.configure ? registry.resolve('losses', lossName, lossOptions) : lossPlugin
  ) as PolicyLoss<Tf, tf.Tensor>;
  const divergenceRef = (config.divergence as string | undefined) ?? method.divergence;
  const divergence = divergenceRef ? (registry.resolve('divergences', divergenceRef) as Divergence<Tf, tf.Tensor>) : undefined;
  if (divergence && !divergence.penalty)
    throw new UsageError(`divergence '${divergence.name}' has no tensor penalty; it cannot be used as the trainer's penalty`);
  const shapers = [...(method.shapers ?? []), ...(config.shapers ?? [])].map((ref) => registry.resolve('shapers', ref));
  if (options.preferences && !loss.pairwise && !loss.unpaired)
    throw new UsageError(
      `--data ${options.preferences.file} is a preference dataset, but method '${method.name}' trains with loss '${loss.name}', which is not a preference objective (choose a preference method, or --set loss=<a preference loss>; bench list --kind losses)`,
    );
  if (options.preferences && loss.pairwise && !options.preferences.pairs)
    throw new UsageError(
      `--data ${options.preferences.file} holds unpaired {prompt, completion, label} records, but loss '${loss.name}' trains on pairs {prompt, chosen, rejected} (use kto or kto-apo-zero-unpaired, or a paired dataset)`,
    );
  if (loss.pairsFrom === 'demonstrations' && !env.demonstrate && !options.preferences)
    throw new UsageError(
      `loss '${loss.name}' trains on the environment's expert demonstrations, and environment '${env.name}' has none (give a dataset with --data)`,
    );
  if (loss.needsTeacher && !config.teacher)
    throw new UsageError(
      `loss '${loss.name}' distils from a teacher: name one with --set teacher=<run folder> (a finished bench train --out folder on the same environment)`,
    );
  if (estimator.needsCritic && !config.model.valueHead) config.model.valueHead = true;
  return { method, env, estimator, loss, ...(divergence ? { divergence } : {}), shapers, config };
}

interface RunState {
  step: number;
  side: { episodes: number; generatedTokens: number };
  /** The divergence coefficient now (it adapts when targetDivergence is set). */
  divergenceCoef: number;
  /** TRL's adaptive entropy coefficient and the last measured entropy (null = none yet, +infinity). */
  entropy: { coef: number; last: number | null };
  /** The latest evaluation, so a run resumed after its last step does not evaluate twice. */
  lastEval?: { step: number; result: EvalResult };
  curve: CurvePoint[];
  initial?: EvalResult;
  sums: StepMetrics;
  timings: Record<string, number>;
}

export async function train(options: TrainOptions): Promise<TrainResult> {
  const plugins = resolvePlugins(options);
  const { env, estimator, config } = plugins;
  // A process starts its backend once (the CLI does it with its flags); start it here otherwise.
  const running = backendInfo();
  if (running && options.backend && running.name !== options.backend) {
    throw new UsageError(`backend ${running.name} is already running in this process; cannot train on ${options.backend}`);
  }
  const backend = running ?? (await initBackend({ name: options.backend ?? 'wasm' }));
  const started = performance.now();

  // The model, its tokenizer and the SFT starting point.
  const tokenizer = CharTokenizer.fromAlphabet(env.alphabet?.() ?? '');
  const policy = createPolicy({ ...config.model, vocabSize: tokenizer.vocabSize }, Rng.seeded(config.seed).split('init'));
  const names = policy.weightNames();
  const optimizer = new Adam(policy.variables, { learningRate: config.learningRate, weightDecay: config.weightDecay });
  const meter = new BudgetMeter(options.budget);
  const state: RunState = {
    step: 0,
    side: { episodes: 0, generatedTokens: 0 },
    divergenceCoef: config.divergenceCoef,
    entropy: { coef: config.entropyCoef, last: null },
    curve: [],
    sums: {},
    timings: { sftSeconds: 0, evalSeconds: 0, trainSeconds: 0 },
  };
  const checkpointFile = options.outDir; // checkpoints live in the run folder
  const sidecarFile = options.outDir ? path.join(options.outDir, 'checkpoint.json') : undefined;
  const metricsFile = options.outDir ? path.join(options.outDir, 'metrics.jsonl') : undefined;
  if (options.outDir) prepareOutDir(options.outDir);

  const resumed = options.resume && sidecarFile && existsSync(sidecarFile);
  if (resumed) {
    restore(
      policy,
      optimizer,
      meter,
      state,
      names,
      checkpointFile as string,
      sidecarFile as string,
      metricsFile as string,
      tokenizer,
    );
  } else {
    // A fresh start: drop metrics of an earlier attempt that never reached a checkpoint.
    if (metricsFile && existsSync(metricsFile)) truncateSync(metricsFile, 0);
  }
  if (!resumed && options.sft !== 'none') {
    options.onProgress?.({ step: 0, fraction: 0, phase: 'sft' });
    const sft = await sftWarmStart(policy, tokenizer, env, config, {
      cacheDir: options.sftCacheDir ?? path.join(process.cwd(), '.cache', 'policy-lab', 'sft'),
      names,
    });
    state.timings.sftSeconds = sft.seconds;
  }
  // The reference: a teacher run's policy when one is named (OPD reads it as refLogprobs),
  // else the frozen starting point. A loss that reads the teacher separately (G-OPD) gets both.
  const separateTeacher = plugins.loss.needsTeacher === true;
  if (separateTeacher) plugins.teacher = loadTeacher(config.teacher as string, config, tokenizer);
  const reference =
    config.teacher && !separateTeacher
      ? loadTeacher(config.teacher, config, tokenizer)
      : plugins.divergence || plugins.loss.needsReference || separateTeacher
        ? await frozenStart(policy, names, options.outDir, Boolean(resumed))
        : undefined;
  const dataset = options.preferences;
  if (dataset) checkAlphabet([...(dataset.pairs ?? []), ...(dataset.examples ?? [])], tokenizer, dataset.file, env.name);
  const testTasks = env.tasks('test', { seed: 0, count: config.evalTasks });
  const trainTasks = env.tasks('train', { seed: config.seed });
  if (trainTasks.length === 0 || testTasks.length === 0)
    throw new RunError(`environment '${env.name}' gave no ${trainTasks.length === 0 ? 'train' : 'test'} tasks`);
  const runEval = async (step: number) => {
    const t0 = performance.now();
    options.onProgress?.({ step, fraction: meter.progress(), phase: 'eval' });
    const result = await evaluate(policy, tokenizer, env, testTasks, {
      samples: config.evalSamples,
      maxNewTokens: config.maxNewTokens,
      rng: Rng.seeded(config.seed).split(`eval/${step}`),
    });
    state.timings.evalSeconds = (state.timings.evalSeconds ?? 0) + (performance.now() - t0) / 1000;
    const consumed = meter.consumed;
    state.curve.push({
      step,
      episodes: consumed.episodes,
      generatedTokens: consumed.generatedTokens,
      success: result.success,
      reward: result.reward,
    });
    state.lastEval = { step, result };
    return result;
  };
  if (!state.initial) state.initial = await runEval(0);

  // The RL loop: stop before a step that could exceed the budget.
  const episodesPerStep = config.tasksPerStep * (estimator.rolloutsPerGroup?.(config.groupSize) ?? config.groupSize);
  const worstCase = {
    episodes: episodesPerStep,
    generatedTokens: episodesPerStep * env.maxTurns * config.maxNewTokens,
    seconds: 0,
  };
  let finalEval: EvalResult | undefined;
  while (meter.canAfford({ ...worstCase, seconds: lastStepSeconds(state) })) {
    const stepStarted = performance.now();
    state.step += 1;
    const metrics = dataset
      ? await offlinePreferenceStep(state.step, plugins, dataset, policy, reference, tokenizer, optimizer, meter)
      : await trainingStep(
          state.step,
          plugins,
          policy,
          reference,
          tokenizer,
          optimizer,
          meter,
          trainTasks,
          state.divergenceCoef,
          state.side,
          appliedEntropyCoef(config, state.entropy),
        );
    metrics.divergenceCoef = state.divergenceCoef;
    if (config.entropyTarget !== undefined) {
      metrics.entropyCoef = appliedEntropyCoef(config, state.entropy);
      state.entropy = adaptEntropyCoef(state.entropy, metrics.entropy, config);
    }
    // Throughput is wall clock: it goes to the log and to timings, never into the deterministic diagnostics.
    const throughput = metrics.tokensPerSecond ?? 0;
    delete metrics.tokensPerSecond;
    state.timings.rolloutTokensPerSecond = throughput;
    state.divergenceCoef = adaptCoefficient(state.divergenceCoef, metrics.kl, config.targetDivergence);
    const seconds = (performance.now() - stepStarted) / 1000;
    meter.charge({ seconds });
    state.timings.trainSeconds = (state.timings.trainSeconds ?? 0) + seconds;
    state.timings.lastStepSeconds = seconds;
    for (const [key, value] of Object.entries(metrics)) state.sums[key] = (state.sums[key] ?? 0) + value;
    if (metricsFile)
      appendFileSync(
        metricsFile,
        `${JSON.stringify({ step: state.step, ...metrics, tokensPerSecond: throughput, consumed: meter.consumed })}\n`,
      );
    const lastStep = !meter.canAfford({ ...worstCase, seconds });
    if (state.step % config.evalEvery === 0 || lastStep) {
      const result = await runEval(state.step);
      if (lastStep) finalEval = result;
    }
    options.onProgress?.({
      step: state.step,
      fraction: meter.progress(),
      phase: 'train',
      ...(state.curve.length ? { success: state.curve[state.curve.length - 1]?.success } : {}),
    });
    if (checkpointFile && (state.step % config.checkpointEvery === 0 || lastStep)) {
      await saveCheckpoint(policy, optimizer, meter, state, names, config, tokenizer, checkpointFile, sidecarFile as string);
    }
  }
  finalEval ??= state.lastEval?.step === state.step ? state.lastEval.result : await runEval(state.step);
  options.onProgress?.({ step: state.step, fraction: 1, phase: 'done', success: finalEval.success });
  const diagnostics = Object.fromEntries(Object.entries(state.sums).map(([k, v]) => [k, state.step > 0 ? v / state.step : 0]));
  const result: TrainResult = {
    method: plugins.method.name,
    env: env.name,
    seed: config.seed,
    backend: backend.name,
    config,
    budget: { limit: options.budget, consumed: meter.consumed },
    initial: state.initial,
    final: finalEval,
    steps: state.step,
    curve: state.curve,
    diagnostics,
    sideBudget: state.side,
    timings: {
      ...state.timings,
      totalSeconds: (performance.now() - started) / 1000,
      kernels: backend.kernels === 'fast' ? 1 : 0,
      threads: backend.threads,
    },
    ...(backend.fallback ? { kernelsFallback: backend.fallback } : {}),
  };
  optimizer.dispose();
  reference?.dispose();
  policy.dispose();
  return result;
}

function lastStepSeconds(state: RunState): number {
  return state.timings.lastStepSeconds ?? 0;
}

/** One RL step; returns its metrics. */
async function trainingStep(
  step: number,
  plugins: Resolved,
  policy: TransformerPolicy,
  reference: ReturnType<TransformerPolicy['freeze']> | undefined,
  tokenizer: CharTokenizer,
  optimizer: Adam,
  meter: BudgetMeter,
  trainTasks: readonly unknown[],
  divergenceCoef: number,
  side: RunState['side'],
  entropyCoef: number = plugins.config.entropyCoef,
): Promise<StepMetrics> {
  const { env, estimator } = plugins;
  // The entropy bonus of this step (TRL's adaptive coefficient may have moved it).
  const config = { ...plugins.config, entropyCoef };
  plugins = { ...plugins, config };
  const rng = Rng.seeded(config.seed).split(`step/${step}`);
  const weights = componentWeights(env, config, plugins.shapers);
  const rolloutStarted = performance.now();

  // 1. Draw tasks. 2. Roll out one group per task. 3. Shape rewards.
  const taskRng = rng.split('tasks');
  const groupSize = estimator.rolloutsPerGroup?.(config.groupSize) ?? config.groupSize;
  const drawRequests = (count: number, prefix: string) =>
    Array.from({ length: count }, (_, k) => ({
      task: trainTasks[taskRng.int(0, trainTasks.length - 1)],
      groupId: `${prefix}g${k}`,
      count: groupSize,
    }));
  const requests = drawRequests(config.tasksPerStep, `s${step}`);
  const klValues: number[] = [];
  /** Rolls out, charges and shapes one round of groups; `tag` keeps each round's random streams apart. */
  const sampleRound = async (round: typeof requests, tag: string): Promise<Rollout[][]> => {
    let out = await collectRollouts(policy, tokenizer, env, round, {
      maxNewTokens: config.maxNewTokens,
      temperature: config.temperature,
      rng: rng.split(`rollout${tag}`),
    });
    charge(meter, out.flat());
    for (const shaper of plugins.shapers) {
      const shaped = shaper.shape(out.flat(), {
        rng: rng.split(`shape/${shaper.name}${tag}`),
        step,
        weights,
        components: env.rewardComponents.map((c) => c.name),
        maxNewTokens: config.maxNewTokens,
        charge: (cost) => meter.charge(cost),
      });
      let offset = 0;
      out = out.map((g) => {
        const next = shaped.slice(offset, offset + g.length);
        offset += g.length;
        return next;
      });
    }
    // The divergence in the reward: minus coef x the sequence's k1 sum, as its own component.
    if (config.divergencePlacement === 'reward' && reference && plugins.divergence && divergenceCoef > 0) {
      const kl = await sequenceDivergence(out.flat(), reference, plugins.divergence);
      klValues.push(...kl);
      let index = 0;
      out = out.map((g) =>
        g.map((r) => ({ ...r, reward: { ...r.reward, klPenalty: -divergenceCoef * (kl[index++] as number) } })),
      );
      weights.klPenalty = 1;
    }
    return out;
  };
  let groups = await sampleRound(requests, '');
  const tokensPerSecond = generatedTokens(groups.flat()) / Math.max(1e-9, (performance.now() - rolloutStarted) / 1000);
  const klInReward = klValues.length > 0 ? klValues : undefined;
  const scalar = (r: Rollout['reward']) => weightedSum(r, weights);
  const context: EstimatorContext = {
    rng: rng.split('estimator'),
    weights,
    scalar,
    step,
    ...(estimator.needsCritic ? { values: await turnValues(policy, groups.flat()) } : {}),
    services: {
      score: async (requests2, which) =>
        scoreTexts(which === 'reference' && reference ? reference : policy, tokenizer, requests2),
      rollouts: async ({ groupId, count, greedy, policy: which }) => {
        const request = requests.find((r) => r.groupId === groupId);
        if (!request) throw new RunError(`estimator asked for rollouts of unknown group '${groupId}'`);
        if (which === 'reference' && !reference)
          throw new RunError('estimator asked for rollouts of the reference policy, but this run has none');
        const extra = (
          await collectRollouts(
            which === 'reference' && reference ? reference : policy,
            tokenizer,
            env,
            [{ ...request, groupId: `${groupId}x`, count }],
            {
              maxNewTokens: config.maxNewTokens,
              temperature: config.temperature,
              greedy: greedy ?? false,
              rng: rng.split(`extra/${groupId}`),
            },
          )
        ).flat();
        charge(meter, extra);
        return extra;
      },
    },
  };
  // Dynamic sampling (DAPO): discarded groups are charged, and replaced by groups of new
  // tasks for up to resampleRounds rounds, while the budget affords a round.
  let discardedGroups = 0;
  if (estimator.keepGroup) {
    const keep = (list: Rollout[][]) => {
      const kept = list.filter((g) => estimator.keepGroup?.(g, context));
      discardedGroups += list.length - kept.length;
      return kept;
    };
    groups = keep(groups);
    for (let round = 1; round <= (config.resampleRounds ?? 0) && groups.length < config.tasksPerStep; round++) {
      const missing = config.tasksPerStep - groups.length;
      const cost = { episodes: missing * groupSize, generatedTokens: missing * groupSize * env.maxTurns * config.maxNewTokens };
      if (!meter.canAfford({ ...cost, seconds: 0 })) break;
      const more = drawRequests(missing, `s${step}r${round}`);
      requests.push(...more);
      groups = [...groups, ...keep(await sampleRound(more, `/r${round}`))];
    }
    groups = groups.slice(0, config.tasksPerStep);
  }

  // 4. Advantages.
  const advantages: Advantages = groups.length ? await estimator.compute(groups, context) : { rollout: [], weights: [] };
  const rows = rowsFromRollouts(groups, advantages, plugins.loss.needsRollouts ? scalar : undefined);
  const rewards = groups.flat().map((r) => scalar(r.reward));
  const metrics: StepMetrics = {
    rewardMean: mean(rewards),
    rewardStd: std(rewards),
    successRate: mean(groups.flat().map((r) => (r.success ? 1 : 0))),
    zeroStdGroupFraction: mean(groups.map((g) => (std(g.map((r) => scalar(r.reward))) === 0 ? 1 : 0))),
    zeroAdvantageFraction: zeroFraction(advantages),
    advantageMean: mean(advantages.rollout.flat()),
    advantageAbsMean: mean(advantages.rollout.flat().map(Math.abs)),
    meanActionTokens: mean(groups.flat().flatMap((r) => r.turns.map((t) => t.actionTokens.length))),
    truncationRate: mean(groups.flat().flatMap((r) => r.turns.map((t) => (t.truncated ? 1 : 0)))),
    invalidRate: mean(groups.flat().flatMap((r) => r.turns.map((t) => (t.valid ? 0 : 1)))),
    tokensPerSecond,
    ...(klInReward ? { kl: mean(klInReward) } : {}),
    ...(estimator.keepGroup ? { discardedGroups } : {}),
  };
  metrics.collapsedRewardVectors = collapsedRewardVectors(
    advantages.rollout,
    groups.map((g) => g.map((r) => r.reward)),
  );
  const signFlipEvery = config.signFlipEvery ?? 0;
  if (signFlipEvery > 0 && step % signFlipEvery === 0 && groups.length > 0) {
    // A many-rollout baseline per task on a side budget, from its own random stream: the
    // training trajectory is the same with or without it.
    const count = config.signFlipRollouts ?? 16;
    const sideRollouts = await collectRollouts(
      policy,
      tokenizer,
      env,
      groups.map((g, k) => ({
        task: requests.find((r) => r.groupId === g[0]?.groupId)?.task ?? requests[k]?.task,
        groupId: `side${k}`,
        count,
      })),
      { maxNewTokens: config.maxNewTokens, temperature: config.temperature, rng: rng.split('side') },
    );
    side.episodes += sideRollouts.flat().length;
    side.generatedTokens += generatedTokens(sideRollouts.flat());
    const baselines = sideRollouts.map((g) => mean(g.map((r) => scalar(r.reward))));
    metrics.signFlipRate = signFlips(
      advantages.rollout,
      groups.map((g) => g.map((r) => scalar(r.reward))),
      baselines,
    );
  }
  for (const { name } of env.rewardComponents) metrics[`reward.${name}`] = mean(groups.flat().map((r) => r.reward[name] ?? 0));
  for (const [key, value] of Object.entries(advantages.diagnostics ?? {})) metrics[`estimator.${key}`] = value;
  // Preference objectives train on pairs (each group's best and worst rollout, or the expert's
  // demonstration against each rollout) or on labelled rollouts instead of rows.
  if (plugins.loss.pairwise) {
    const pairs =
      plugins.loss.pairsFrom === 'demonstrations'
        ? pairsFromDemonstrations(groups, (groupId) => {
            const task = requests.find((r) => r.groupId === groupId)?.task;
            return task === undefined ? [] : demonstrationRows(env, tokenizer, [task], config, rng.split(`demo/${groupId}`));
          })
        : pairsFromGroups(groups, (r) => scalar(r.reward));
    metrics.preferencePairs = pairs.length;
    Object.assign(metrics, await trainOnPairs(pairs, plugins, policy, reference, optimizer, meter, step, rng, 'online'));
    return metrics;
  }
  if (plugins.loss.unpaired) {
    const examples = labelledFromGroups(groups, (r) => scalar(r.reward));
    metrics.preferenceExamples = examples.length;
    Object.assign(metrics, await trainOnExamples(examples, plugins, policy, reference, optimizer, meter, step, rng));
    return metrics;
  }
  if (rows.length === 0) return metrics;

  // 5-6. Loss and optimizer: epochs x minibatches over the rows.
  const learningRate = scheduledRate(config, step, meter.progress()) * (plugins.loss.learningRateScale ?? 1);
  const order = rng.split('minibatches');
  const totals: StepMetrics = {};
  let updates = 0;
  for (let epoch = 0; epoch < config.epochs; epoch++) {
    const parts = minibatchesOf(rows, config.minibatches, order, plugins.loss.needsRollouts === true);
    for (const [k, part] of parts.entries()) {
      const values = await optimizeOn(
        part,
        plugins,
        policy,
        reference,
        optimizer,
        learningRate,
        config.divergencePlacement === 'reward' ? 0 : divergenceCoef,
        rng.split(`loss/${epoch}/${k}`),
      );
      for (const [key, value] of Object.entries(values)) totals[key] = (totals[key] ?? 0) + value;
      updates += 1;
      if (epoch === 0) meter.charge({ trainedTokens: values.trainedTokens ?? 0 });
    }
  }
  for (const [key, value] of Object.entries(totals)) if (key !== 'trainedTokens') metrics[key] = value / updates;
  // A second update on earlier rollouts when the estimator asks for one (PIPO's verification).
  const verification = estimator.verification?.();
  if (verification) {
    const again = rowsFromRollouts(verification.groups, verification.advantages);
    if (again.length > 0) {
      const values = await optimizeOn(
        again,
        plugins,
        policy,
        reference,
        optimizer,
        learningRate,
        divergenceCoef,
        rng.split('loss/verification'),
      );
      meter.charge({ trainedTokens: values.trainedTokens ?? 0 });
      metrics.verificationLoss = values.loss as number;
    }
  }
  return metrics;
}

/**
 * The critic's value of the state each turn starts from: the value head's prediction at the
 * last prompt position (where the first action token is predicted), per rollout id.
 */
async function turnValues(policy: TransformerPolicy, rollouts: readonly Rollout[]): Promise<Map<string, number[]>> {
  const rows: TrainingRow[] = [];
  const owners: { id: string; turn: number }[] = [];
  for (const rollout of rollouts)
    rollout.turns.forEach((turn, t) => {
      rows.push({
        tokens: [...turn.promptTokens, ...(turn.actionTokens.length ? turn.actionTokens : [EOS])],
        actionStart: turn.promptTokens.length,
        oldLogprobs: [],
        advantage: 0,
        weight: 1,
      });
      owners.push({ id: rollout.id, turn: t });
    });
  const out = new Map<string, number[]>(rollouts.map((r) => [r.id, r.turns.map(() => 0)]));
  let offset = 0;
  for (const chunk of microBatches(rows, microBatchSize(rows, policy.config.heads, 64))) {
    const batch = toTensors(chunk);
    const scored = policy.score(batch.inputs, batch.targets, { values: true });
    const values = scored.values ? await scored.values.array() : undefined;
    tf.dispose([scored.logprobs, ...(scored.values ? [scored.values] : []), ...(scored.entropy ? [scored.entropy] : [])]);
    disposeBatch(batch);
    if (!values) throw new RunError('the estimator needs a critic, but the model has no value head');
    chunk.forEach((row, i) => {
      const owner = owners[offset + i] as { id: string; turn: number };
      (out.get(owner.id) as number[])[owner.turn] = values[i]?.[row.actionStart - 1] ?? 0;
    });
    offset += chunk.length;
  }
  return out;
}

/**
 * Epochs x minibatches of preference items (pairs or labelled completions), one optimizer
 * update per minibatch through `update`; charges trained tokens once, averages the metrics.
 */
async function trainOnItems<T>(
  items: readonly T[],
  plugins: Resolved,
  meter: BudgetMeter,
  step: number,
  order: Rng,
  update: (minibatch: readonly T[], learningRate: number) => Promise<StepMetrics>,
): Promise<StepMetrics> {
  if (items.length === 0) return {};
  const { config } = plugins;
  const learningRate = scheduledRate(config, step, meter.progress()) * (plugins.loss.learningRateScale ?? 1);
  const totals: StepMetrics = {};
  let updates = 0;
  for (let epoch = 0; epoch < config.epochs; epoch++) {
    const shuffled = order.shuffle(items);
    const size = Math.ceil(shuffled.length / Math.min(config.minibatches, shuffled.length));
    for (let start = 0; start < shuffled.length; start += size) {
      const values = await update(shuffled.slice(start, start + size), learningRate);
      for (const [key, value] of Object.entries(values)) totals[key] = (totals[key] ?? 0) + value;
      updates += 1;
      if (epoch === 0) meter.charge({ trainedTokens: values.trainedTokens ?? 0 });
    }
  }
  const out: StepMetrics = {};
  for (const [key, value] of Object.entries(totals))
    if (key !== 'trainedTokens' && key !== 'pairs' && key !== 'examples') out[key] = value / updates;
  return out;
}

/** Preference pairs through trainOnItems. */
function trainOnPairs(
  pairs: readonly TokenPair[],
  plugins: Resolved,
  policy: TransformerPolicy,
  reference: ReturnType<TransformerPolicy['freeze']> | undefined,
  optimizer: Adam,
  meter: BudgetMeter,
  step: number,
  rng: Rng,
  source: 'offline' | 'online',
): Promise<StepMetrics> {
  return trainOnItems(pairs, plugins, meter, step, rng.split('pair-minibatches'), (part, learningRate) =>
    optimizePairs(part, plugins.loss, policy, reference, optimizer, learningRate, plugins.config, source),
  );
}

/** Labelled completions (KTO) through trainOnItems. */
function trainOnExamples(
  examples: readonly LabelledCompletion[],
  plugins: Resolved,
  policy: TransformerPolicy,
  reference: ReturnType<TransformerPolicy['freeze']> | undefined,
  optimizer: Adam,
  meter: BudgetMeter,
  step: number,
  rng: Rng,
): Promise<StepMetrics> {
  return trainOnItems(examples, plugins, meter, step, rng.split('example-minibatches'), (part, learningRate) =>
    optimizeUnpaired(part, plugins.loss, policy, reference, optimizer, learningRate, plugins.config),
  );
}

/**
 * One offline step: pairs (2 episodes charged each) or labelled examples (1 each) drawn from
 * the dataset with replacement; a paired dataset feeds an unpaired objective unpaired.
 */
async function offlinePreferenceStep(
  step: number,
  plugins: Resolved,
  dataset: NonNullable<TrainOptions['preferences']>,
  policy: TransformerPolicy,
  reference: ReturnType<TransformerPolicy['freeze']> | undefined,
  tokenizer: CharTokenizer,
  optimizer: Adam,
  meter: BudgetMeter,
): Promise<StepMetrics> {
  const { config, estimator } = plugins;
  const rng = Rng.seeded(config.seed).split(`step/${step}`);
  const episodes = config.tasksPerStep * (estimator.rolloutsPerGroup?.(config.groupSize) ?? config.groupSize);
  const draw = rng.split('pairs');
  if (plugins.loss.unpaired) {
    const pool: readonly UnpairedExample[] = dataset.examples ?? unpair(dataset.pairs ?? []);
    const examples = Array.from({ length: episodes }, () =>
      exampleRows(pool[draw.int(0, pool.length - 1)] as UnpairedExample, tokenizer, config),
    );
    meter.charge({ episodes });
    return {
      preferenceExamples: episodes,
      ...(await trainOnExamples(examples, plugins, policy, reference, optimizer, meter, step, rng)),
    };
  }
  const pool = dataset.pairs ?? [];
  const count = Math.max(1, Math.floor(episodes / 2));
  const pairs = Array.from({ length: count }, () =>
    pairRows(pool[draw.int(0, pool.length - 1)] as PreferencePair, tokenizer, config),
  );
  meter.charge({ episodes: 2 * count });
  return {
    preferencePairs: count,
    ...(await trainOnPairs(pairs, plugins, policy, reference, optimizer, meter, step, rng, 'offline')),
  };
}

/**
 * The minibatches of one epoch: shuffled rows in `count` slices, or, for losses that read
 * whole groups (DRPO), shuffled groups in `count` slices with each group's rows together.
 */
function minibatchesOf(rows: readonly TrainingRow[], count: number, order: Rng, byGroup: boolean): TrainingRow[][] {
  if (!byGroup) {
    const shuffled = order.shuffle(rows);
    const size = Math.ceil(shuffled.length / count);
    const out: TrainingRow[][] = [];
    for (let start = 0; start < shuffled.length; start += size) out.push(shuffled.slice(start, start + size));
    return out;
  }
  const groups = groupRows(rows);
  const shuffled = order.shuffle(groups);
  const size = Math.ceil(shuffled.length / Math.min(count, Math.max(1, shuffled.length)));
  const out: TrainingRow[][] = [];
  for (let start = 0; start < shuffled.length; start += size) out.push(shuffled.slice(start, start + size).flat());
  return out;
}

/** Rows gathered by their rollout's group, in first-seen order. */
function groupRows(rows: readonly TrainingRow[]): TrainingRow[][] {
  const byGroup = new Map<string, TrainingRow[]>();
  for (const row of rows) {
    const key = row.owner?.group ?? '';
    byGroup.set(key, [...(byGroup.get(key) ?? []), row]);
  }
  return [...byGroup.values()];
}

/** Micro-batches that never split a group: whole groups are added while the chunk stays within `size` rows. */
function groupMicroBatches(rows: readonly TrainingRow[], size: number): TrainingRow[][] {
  const out: TrainingRow[][] = [];
  let current: TrainingRow[] = [];
  for (const group of groupRows(rows)) {
    if (current.length > 0 && current.length + group.length > size) {
      out.push(current);
      current = [];
    }
    current = [...current, ...group];
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** The batch's rollouts for losses that read them: local indices, groups, verdicts, rewards. */
function rowRollouts(rows: readonly TrainingRow[]): RowRollouts {
  const index = new Map<string, number>();
  const group: string[] = [];
  const success: boolean[] = [];
  const reward: number[] = [];
  const ofRow = rows.map((row) => {
    if (!row.owner) throw new RunError('this loss reads the rollouts of its rows, but the trainer built rows without them');
    let k = index.get(row.owner.id);
    if (k === undefined) {
      k = group.length;
      index.set(row.owner.id, k);
      group.push(row.owner.group);
      success.push(row.owner.success);
      reward.push(row.owner.reward);
    }
    return k;
  });
  return { ofRow, group, success, reward };
}

/**
 * Splits a minibatch into chunks of at most `size` rows. Long multi-turn rollouts give
 * hundreds of rows per step; one forward over all of them needs gigabytes for attention.
 */
export function microBatches<T>(rows: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let start = 0; start < rows.length; start += Math.max(1, size)) out.push(rows.slice(start, start + Math.max(1, size)));
  return out;
}

/** The rows and action tokens that count in the loss's denominators (weight > 0, some tokens). */
function activeCounts(rows: readonly TrainingRow[]): { rows: number; tokens: number } {
  let count = 0;
  let tokens = 0;
  for (const row of rows) {
    const n = row.tokens.length - row.actionStart;
    if (!(row.weight > 0) || n <= 0) continue;
    count += 1;
    tokens += n;
  }
  return { rows: count, tokens };
}

/**
 * One optimizer update on a minibatch, with the gradient accumulated over micro-batches of
 * `microBatchRows` rows. Each chunk's loss is weighted by its share of the aggregation's
 * denominator (action tokens for token-mean, rows for the sequence means), so the update equals
 * the one-pass update for the built-in aggregations; token-masked extras (penalty, value loss,
 * entropy) are weighted by the token share.
 */
async function optimizeOn(
  rows: readonly TrainingRow[],
  plugins: Resolved,
  policy: TransformerPolicy,
  reference: ReturnType<TransformerPolicy['freeze']> | undefined,
  optimizer: Adam,
  learningRate: number,
  divergenceCoef: number,
  rng: Rng,
): Promise<StepMetrics> {
  const { config } = plugins;
  const all = activeCounts(rows);
  const byGroup = plugins.loss.needsRollouts === true;
  const allGroups = byGroup ? groupRows(rows).length : 0;
  let gradSums: tf.Tensor[] | undefined;
  const sums: StepMetrics = {};
  let trainedTokens = 0;
  const size = microBatchSize(rows, config.model.heads, config.microBatchRows ?? 64);
  const chunks = byGroup ? groupMicroBatches(rows, size) : microBatches(rows, size);
  for (const [k, chunk] of chunks.entries()) {
    const part = activeCounts(chunk);
    const tokenShare = all.tokens > 0 ? part.tokens / all.tokens : 0;
    const rowShare = all.rows > 0 ? part.rows / all.rows : 0;
    // A loss over whole groups (DRPO: a mean over questions) is weighted by its share of the groups.
    const lossShare = byGroup
      ? groupRows(chunk).length / Math.max(1, allGroups)
      : config.aggregation === 'token-mean'
        ? tokenShare
        : rowShare;
    const result = chunkGradients(
      chunk,
      plugins,
      policy,
      reference,
      divergenceCoef,
      lossShare,
      tokenShare,
      rng.split(`chunk/${k}`),
    );
    if (gradSums) {
      const previous = gradSums;
      gradSums = previous.map((g, i) => tf.add(g, result.grads[i] as tf.Tensor));
      tf.dispose([...previous, ...result.grads]);
    } else gradSums = result.grads;
    for (const [key, value] of Object.entries(result.scalars)) {
      const [v] = await value.data();
      // the loss is already weighted; other metrics are averaged with the token share
      sums[key] = (sums[key] ?? 0) + (key === 'loss' ? (v as number) : (v as number) * tokenShare);
      value.dispose();
    }
    trainedTokens += result.trainedTokens;
  }
  const { clipped, norm } = clipByGlobalNorm(gradSums ?? [], config.gradClip);
  optimizer.apply(clipped, learningRate);
  const out: StepMetrics = { ...sums, gradNorm: (await norm.data())[0] as number, trainedTokens };
  tf.dispose([norm, ...clipped, ...(gradSums ?? [])]);
  for (const [key, v] of Object.entries(out))
    if (!Number.isFinite(v)) throw new RunError(`step produced a non-finite ${key} (${v}); lower the learning rate`);
  return out;
}

/** torch.quantile with linear interpolation. */
export function linearQuantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const position = q * (sorted.length - 1);
  const low = Math.floor(position);
  const high = Math.min(low + 1, sorted.length - 1);
  return (sorted[low] as number) + (position - low) * ((sorted[high] as number) - (sorted[low] as number));
}

/**
 * The "80/20" rule (catalog.md C.2): 1 on trained tokens whose entropy is at or above the
 * (1 - rho) quantile of the trained tokens' entropies, else 0; no gradient flows through it.
 */
function entropyMask(entropy: tf.Tensor, mask: tf.Tensor, rho: number): tf.Tensor {
  const h = entropy.dataSync();
  const m = mask.dataSync();
  const trained: number[] = [];
  for (let i = 0; i < m.length; i++) if ((m[i] as number) > 0) trained.push(h[i] as number);
  if (trained.length === 0) return tf.zerosLike(mask);
  const tau = linearQuantile(trained, 1 - rho);
  const out = new Float32Array(m.length);
  for (let i = 0; i < m.length; i++) out[i] = (m[i] as number) > 0 && (h[i] as number) >= tau ? 1 : 0;
  return tf.tensor(out, mask.shape);
}

/** Gradients of one micro-batch's weighted loss, and its (unweighted) metrics as scalars. */
function chunkGradients(
  rows: readonly TrainingRow[],
  plugins: Resolved,
  policy: TransformerPolicy,
  reference: ReturnType<TransformerPolicy['freeze']> | undefined,
  divergenceCoef: number,
  lossShare: number,
  tokenShare: number,
  rng: Rng,
): { grads: tf.Tensor[]; scalars: Record<string, tf.Scalar>; trainedTokens: number } {
  const { config, loss, divergence, teacher } = plugins;
  const batch = toTensors(rows);
  const normLength = config.maxNewTokens;
  const refLogprobs = reference ? reference.score(batch.inputs, batch.targets).logprobs : undefined;
  const teacherLogprobs = loss.needsTeacher && teacher ? teacher.score(batch.inputs, batch.targets).logprobs : undefined;
  const rollouts = loss.needsRollouts ? rowRollouts(rows) : undefined;
  const scalars: Record<string, tf.Scalar> = {};
  const { value, grads } = tf.variableGrads(() => {
    const valueLoss = (config.valueCoef ?? 0) > 0 && batch.returns !== undefined;
    const scored = policy.score(batch.inputs, batch.targets, { entropy: true, values: valueLoss });
    const advantages =
      (config.topEntropyQuantile ?? 1) < 1 && scored.entropy
        ? tf.mul(batch.advantages, entropyMask(scored.entropy, batch.mask, config.topEntropyQuantile as number))
        : batch.advantages;
    const result = loss.loss(
      {
        logprobs: scored.logprobs,
        oldLogprobs: batch.oldLogprobs,
        ...(refLogprobs ? { refLogprobs } : {}),
        ...(scored.entropy ? { entropy: scored.entropy } : {}),
        advantages,
        mask: batch.mask,
        weights: batch.weights,
        aggregation: config.aggregation,
        normLength,
        ...(teacherLogprobs ? { teacherLogprobs } : {}),
        ...(rollouts ? { rollouts } : {}),
        rng,
      },
      tf,
    );
    let total = tf.mul(result.loss as tf.Scalar, lossShare) as tf.Scalar;
    const masked = (x: tf.Tensor) => tf.div(tf.sum(tf.mul(x, batch.mask)), tf.maximum(tf.sum(batch.mask), 1)) as tf.Scalar;
    let extras = tf.scalar(0);
    if (divergence?.penalty && refLogprobs) {
      const penalty = masked(divergence.penalty(scored.logprobs, refLogprobs, tf));
      scalars.kl = tf.keep(tf.clone(penalty));
      if (divergenceCoef > 0) extras = tf.add(extras, tf.mul(penalty, divergenceCoef));
    }
    if (valueLoss && scored.values && batch.returns) {
      // The critic regresses the estimator's return targets on the trained tokens.
      const valueError = masked(tf.square(tf.sub(scored.values, batch.returns)));
      scalars.valueLoss = tf.keep(tf.clone(valueError));
      extras = tf.add(extras, tf.mul(valueError, config.valueCoef ?? 0));
    }
    const entropy = masked(scored.entropy as tf.Tensor);
    scalars.entropy = tf.keep(tf.clone(entropy));
    if (config.entropyCoef > 0) extras = tf.sub(extras, tf.mul(entropy, config.entropyCoef));
    for (const [key, metric] of Object.entries(result.metrics ?? {})) scalars[key] = tf.keep(tf.clone(metric as tf.Scalar));
    total = tf.add(total, tf.mul(extras, tokenShare)) as tf.Scalar;
    return total;
  }, policy.variables);
  scalars.loss = value;
  const gradients = policy.variables.map((v) => grads[v.name] ?? tf.zerosLike(v));
  const trainedTokens = batch.trainedTokens;
  tf.dispose([...(refLogprobs ? [refLogprobs] : []), ...(teacherLogprobs ? [teacherLogprobs] : [])]);
  disposeBatch(batch);
  return { grads: gradients, scalars, trainedTokens };
}

async function scoreTexts(
  policy: { score: TransformerPolicy['score'] },
  tokenizer: CharTokenizer,
  requests: readonly { context: string; continuation: string }[],
): Promise<number[][]> {
  const out: number[][] = [];
  for (const request of requests) {
    const context = [1, ...tokenizer.encode(request.context)];
    const continuation = tokenizer.encode(request.continuation);
    if (continuation.length === 0) {
      out.push([]);
      continue;
    }
    const sequence = [...context, ...continuation];
    const inputs = tf.tensor2d([sequence.slice(0, -1)], [1, sequence.length - 1], 'int32');
    const targets = tf.tensor2d([sequence.slice(1)], [1, sequence.length - 1], 'int32');
    const { logprobs } = policy.score(inputs, targets);
    out.push(Array.from(await logprobs.data()).slice(context.length - 1));
    tf.dispose([inputs, targets, logprobs]);
  }
  return out;
}

/** Learning rate after linear warm-up; cosine decays to 0 over the budget's progress. */
export function scheduledRate(config: TrainConfig, step: number, progress: number): number {
  const warm = config.warmupSteps > 0 ? Math.min(1, step / config.warmupSteps) : 1;
  const decay = config.schedule === 'cosine' ? 0.5 * (1 + Math.cos(Math.PI * Math.min(1, progress))) : 1;
  return config.learningRate * warm * decay;
}

/** TRL's adaptive entropy coefficient: the bonus applies only while the last measured entropy is at or below the target. */
export function appliedEntropyCoef(config: TrainConfig, entropy: RunState['entropy']): number {
  if (config.entropyTarget === undefined) return config.entropyCoef;
  return entropy.last !== null && entropy.last <= config.entropyTarget ? entropy.coef : 0;
}

/** One controller update after a step that measured `measured` nats: c moves by delta towards the target, clipped. */
export function adaptEntropyCoef(
  entropy: RunState['entropy'],
  measured: number | undefined,
  config: Pick<TrainConfig, 'entropyTarget' | 'entropyCoefMin' | 'entropyCoefMax' | 'entropyCoefDelta'>,
): RunState['entropy'] {
  if (config.entropyTarget === undefined || measured === undefined || !Number.isFinite(measured)) return entropy;
  const delta = config.entropyCoefDelta ?? 0.005;
  const coef =
    measured <= config.entropyTarget
      ? Math.min(entropy.coef + delta, config.entropyCoefMax ?? 1)
      : Math.max(entropy.coef - delta, config.entropyCoefMin ?? 0);
  return { coef, last: measured };
}

/** PPO's adaptive rule: x1.5 when the divergence is above 1.5 x target, /1.5 when below target / 1.5. */
export function adaptCoefficient(coef: number, measured: number | undefined, target: number | undefined): number {
  if (target === undefined || target <= 0 || measured === undefined || !Number.isFinite(measured)) return coef;
  if (measured > 1.5 * target) return coef * 1.5;
  if (measured < target / 1.5) return coef / 1.5;
  return coef;
}

/** Per rollout, the sum over its action tokens of the divergence estimate between sampling and reference log-probs. */
async function sequenceDivergence(
  rollouts: readonly Rollout[],
  reference: { score: TransformerPolicy['score'] },
  divergence: Divergence<Tf, tf.Tensor>,
): Promise<number[]> {
  const out: number[] = [];
  for (const rollout of rollouts) {
    let total = 0;
    for (const turn of rollout.turns) {
      if (turn.actionTokens.length === 0) continue;
      const sequence = [...turn.promptTokens, ...turn.actionTokens];
      const inputs = tf.tensor2d([sequence.slice(0, -1)], [1, sequence.length - 1], 'int32');
      const targets = tf.tensor2d([sequence.slice(1)], [1, sequence.length - 1], 'int32');
      const { logprobs } = reference.score(inputs, targets);
      const ref = Array.from(await logprobs.data()).slice(turn.promptTokens.length - 1);
      tf.dispose([inputs, targets, logprobs]);
      turn.logprobs.forEach((lp, i) => {
        total += divergence.estimate(lp, ref[i] as number);
      });
    }
    out.push(total);
  }
  return out;
}

function charge(meter: BudgetMeter, rollouts: readonly Rollout[]): void {
  meter.charge({
    episodes: rollouts.length,
    envSteps: rollouts.reduce((a, r) => a + r.turns.length, 0),
    generatedTokens: generatedTokens(rollouts),
  });
}

function componentWeights(env: Environment, config: TrainConfig, shapers: readonly RewardShaper[] = []): Record<string, number> {
  const weights = Object.fromEntries(env.rewardComponents.map((c) => [c.name, c.weight]));
  for (const shaper of shapers) for (const c of shaper.adds ?? []) weights[c.name] = c.weight;
  for (const [name, weight] of Object.entries(config.weights ?? {})) {
    if (!(name in weights))
      throw new UsageError(
        `--set weights.${name}: environment '${env.name}' has no reward component '${name}' (has: ${Object.keys(weights).join(', ')})`,
      );
    weights[name] = weight;
  }
  return weights;
}

function zeroFraction(advantages: Advantages): number {
  const trained = advantages.rollout.flatMap((g, i) => g.filter((_, j) => (advantages.weights[i]?.[j] ?? 1) > 0));
  return trained.length ? trained.filter((a) => Math.abs(a) <= 1e-9).length / trained.length : 0;
}

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
const std = (xs: readonly number[]) => {
  const m = mean(xs);
  return xs.length ? Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length) : 0;
};

function prepareOutDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, '.write-test'), '');
    rmSync(path.join(dir, '.write-test'));
  } catch (error) {
    throw new UsageError(`--out ${dir} is not writable (${(error as Error).message})`);
  }
}

async function saveCheckpoint(
  policy: TransformerPolicy,
  optimizer: Adam,
  meter: BudgetMeter,
  state: RunState,
  names: readonly string[],
  config: TrainConfig,
  tokenizer: CharTokenizer,
  file: string,
  sidecar: string,
): Promise<void> {
  const tensors = await readWeights(policy, names, 'model.');
  const adam = await optimizer.state();
  policy.variables.forEach((v, i) => {
    tensors[`adam.m.${names[i]}`] = { shape: [...v.shape], data: adam.m[i] as Float32Array };
    tensors[`adam.v.${names[i]}`] = { shape: [...v.shape], data: adam.v[i] as Float32Array };
  });
  // Weights first (a new file per step), then the sidecar that names them, then the old weights go:
  // a kill at any moment leaves a sidecar whose weights file exists.
  const weights = `checkpoint-step${state.step}.safetensors`;
  saveSafetensors(path.join(file, weights), tensors, { step: String(state.step) });
  writeFileAtomic(
    sidecar,
    JSON.stringify(
      {
        step: state.step,
        weights,
        divergenceCoef: state.divergenceCoef,
        entropy: state.entropy,
        side: state.side,
        adamStep: adam.step,
        consumed: meter.consumed,
        curve: state.curve,
        initial: state.initial,
        lastEval: state.lastEval,
        sums: state.sums,
        timings: state.timings,
        config,
        tokenizer: tokenizer.toJSON(),
      },
      null,
      1,
    ),
  );
  for (const name of readdirSync(file)) {
    if (/^checkpoint-step\d+\.safetensors$/.test(name) && name !== weights) rmSync(path.join(file, name), { force: true });
  }
}

/**
 * The frozen starting point (after SFT), the reference of penalties and reference-based losses.
 * A run folder keeps it (reference.safetensors) so that a resumed run regularises toward the
 * same policy, not toward the one it resumed from.
 */
async function frozenStart(
  policy: TransformerPolicy,
  names: readonly string[],
  outDir: string | undefined,
  resumed: boolean,
): Promise<ReturnType<TransformerPolicy['freeze']>> {
  const frozen = policy.freeze();
  if (!outDir) return frozen;
  const file = path.join(outDir, 'reference.safetensors');
  if (resumed && existsSync(file)) writeWeights(frozen, names, loadSafetensors(file).tensors, file, 'model.');
  else if (!resumed) saveSafetensors(file, await readWeights(frozen, names, 'model.'), {});
  return frozen;
}

/** A finished run's policy (its last checkpoint), frozen, as the reference: the teacher of distillation. */
function loadTeacher(folder: string, config: TrainConfig, tokenizer: CharTokenizer): ReturnType<TransformerPolicy['freeze']> {
  const sidecar = path.join(folder, 'checkpoint.json');
  let saved: { weights: string; config: TrainConfig; tokenizer: unknown };
  try {
    saved = JSON.parse(readFileSync(sidecar, 'utf8'));
  } catch (error) {
    throw new UsageError(
      `teacher ${folder}: cannot read ${sidecar} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); train the teacher with --out first`,
    );
  }
  for (const key of ['dim', 'layers', 'heads', 'contextLength', 'mlpRatio'] as const)
    if (saved.config.model[key] !== config.model[key])
      throw new UsageError(
        `teacher ${folder}: model.${key} is ${saved.config.model[key]}, this run's is ${config.model[key]} (they must match)`,
      );
  if (JSON.stringify(saved.tokenizer) !== JSON.stringify(tokenizer.toJSON()))
    throw new UsageError(
      `teacher ${folder}: its alphabet differs from this environment's (train the teacher on the same environment)`,
    );
  const teacher = createPolicy(
    { ...config.model, valueHead: saved.config.model.valueHead, vocabSize: tokenizer.vocabSize },
    Rng.seeded(0),
  );
  const { tensors } = loadSafetensors(path.join(folder, saved.weights));
  writeWeights(teacher, teacher.weightNames(), tensors, folder, 'model.');
  const frozen = teacher.freeze();
  teacher.dispose();
  return frozen;
}

function restore(
  policy: TransformerPolicy,
  optimizer: Adam,
  meter: BudgetMeter,
  state: RunState,
  names: readonly string[],
  file: string,
  sidecar: string,
  metricsFile: string,
  tokenizer: CharTokenizer,
): void {
  let saved: {
    step: number;
    weights: string;
    divergenceCoef: number;
    side: RunState['side'];
    adamStep: number;
    consumed: BudgetMeter['consumed'];
    curve: CurvePoint[];
    initial: EvalResult;
    lastEval?: RunState['lastEval'];
    sums: StepMetrics;
    timings: Record<string, number>;
  };
  try {
    saved = JSON.parse(readFileSync(sidecar, 'utf8'));
  } catch (error) {
    throw new RunError(`${sidecar}: cannot read the checkpoint sidecar (${(error as Error).message})`);
  }
  const sidecarConfig = saved as unknown as { config?: TrainConfig; tokenizer?: unknown };
  if (sidecarConfig.tokenizer !== undefined && JSON.stringify(sidecarConfig.tokenizer) !== JSON.stringify(tokenizer.toJSON()))
    throw new RunError(
      `${sidecar}: this checkpoint was made with another alphabet (the environment changed); continue it with the same environment, or start over in another folder`,
    );
  const weightsFile = path.join(file, saved.weights);
  const { tensors, metadata } = loadSafetensors(weightsFile);
  if (Number(metadata.step) !== saved.step)
    throw new RunError(`${file}: holds step ${metadata.step} but ${sidecar} says ${saved.step}`);
  writeWeights(policy, names, tensors, file, 'model.');
  optimizer.restore({
    step: saved.adamStep,
    m: names.map((n) => (tensors[`adam.m.${n}`] as { data: Float32Array }).data),
    v: names.map((n) => (tensors[`adam.v.${n}`] as { data: Float32Array }).data),
  });
  meter.charge(saved.consumed);
  state.step = saved.step;
  state.divergenceCoef = saved.divergenceCoef;
  state.entropy = (saved as unknown as { entropy?: RunState['entropy'] }).entropy ?? state.entropy;
  state.side = saved.side;
  state.curve = saved.curve;
  state.initial = saved.initial;
  if (saved.lastEval) state.lastEval = saved.lastEval;
  state.sums = saved.sums;
  state.timings = saved.timings;
  // The metrics log keeps only the steps the checkpoint covers.
  if (existsSync(metricsFile)) {
    const lines = readFileSync(metricsFile, 'utf8').split('\n').filter(Boolean);
    const kept = lines.filter((line) => (JSON.parse(line) as { step: number }).step <= saved.step);
    truncateSync(metricsFile, 0);
    if (kept.length) appendFileSync(metricsFile, `${kept.join('\n')}\n`);
  }
}

export { tf as tfjs };
