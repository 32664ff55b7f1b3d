/**
 * One training run: resolve the plugins and configuration, start (model, SFT warm start or
 * checkpoint, reference, tasks), loop over steps until the next one could exceed the budget,
 * finish (final evaluation, result). One step is `runStep` (step.ts).
 *
 * Determinism: every random stream is Rng.seeded(seed).split(<step or phase>), so a step's
 * randomness depends only on (seed, step): resuming needs the weights, the optimizer state,
 * the budget consumed and the run state, and nothing else.
 */
import path from 'node:path';
import {
  type BudgetConsumption,
  BudgetMeter,
  type PolicyLoss,
  Rng,
  type Rollout,
  RunError,
  type SelfJudge,
  UsageError,
} from '@policy-lab/core';
import { backendInfo, initBackend } from '../backend/select-backend.js';
import { openHfRun } from '../hf/run.js';
import type { PolicyModel } from '../model/policy.js';
import { createPolicy } from '../model/transformer.js';
import { Adam } from '../optim/adam.js';
import { CharTokenizer } from '../tokenizer/char-tokenizer.js';
import type { PolicyTokenizer } from '../tokenizer/policy-tokenizer.js';
import type { EvalResult, RunExtensions, TrainOptions, TrainResult } from './api.js';
import { chargedModel } from './charged-model.js';
import { type ExtraModel, frozenStart, type NamedPolicy, RunFolder, type RunState } from './checkpoint.js';
import { evaluate } from './evaluate.js';
import { hookServices } from './hook-services.js';
import { checkAlphabet } from './pairs.js';
import { type Resolved, resolvePlugins } from './plugins.js';
import { buildRewardModel, type OwnedRewardModel } from './reward-models.js';
import { pretrainRewardModel } from './reward-pretraining.js';
import { adaptCoefficient, adaptEntropyCoef, appliedEntropyCoef } from './schedules.js';
import { judgePairs, selfJudgeEvaluation } from './self-judge.js';
import { sftWarmStart } from './sft.js';
import {
  conditionedPolicy,
  conditionedReference,
  createSoftPrompt,
  encoderExtra,
  softPromptExtra,
  softPromptReport,
  trainedVariables,
} from './soft-prompt.js';
import { rolloutsPerGroup } from './stages/sample.js';
import { readStartEval, startEvalKey, writeStartEval } from './start-eval-cache.js';
import { runOfflineStep, runStep, worstCaseStep } from './step.js';
import { type RunContext, stepContext } from './step-context.js';
import { stepHooks } from './step-hooks.js';
import { openTaskStream } from './task-stream.js';
import { loadTeacher } from './teacher.js';
import { createTrajectoryEncoder } from './trajectory-encoder.js';
import { PairEstimator } from './upo-estimator.js';

export async function train(options: TrainOptions): Promise<TrainResult> {
  const plugins = resolvePlugins(options);
  const { env, config } = plugins;
  const backend = await startBackend(options.backend);
  const started = performance.now();
  // A user's Hugging Face model (--model) brings its own tokenizer; else the character transformer over the environment's alphabet.
  const sftMode = options.sft ?? (options.model ? 'none' : 'cache');
  const hf = options.model ? openHfRun(options.model, plugins, backend.name, sftMode !== 'none') : undefined;
  const tokenizer: PolicyTokenizer = hf?.tokenizer ?? CharTokenizer.fromAlphabet(env.alphabet?.() ?? '');
  const policy: NamedPolicy =
    hf?.policy ?? createPolicy({ ...config.model, vocabSize: tokenizer.vocabSize }, Rng.seeded(config.seed).split('init'));
  // With a soft prompt the run uses the conditioned policy everywhere (rollouts, updates,
  // evaluation); the SFT warm start trains the policy's weights under the starting vectors and
  // the reference reads them too; checkpoints hold the weights and the vectors apart.
  const softPrompt = createSoftPrompt(config, config.model.dim);
  // OPPO: a trajectory encoder gives each completion its own context; the soft prompt is z*.
  const encoder =
    softPrompt && plugins.loss.kind === 'pairs' && plugins.loss.needs?.context
      ? createTrajectoryEncoder(
          { vocabSize: tokenizer.vocabSize, length: config.softPrompt as number, dim: config.model.dim },
          config.seed,
        )
      : undefined;
  const conditioned = softPrompt ? conditionedPolicy(policy, softPrompt, encoder) : policy;
  const trained = softPrompt ? trainedVariables(policy.weightNames(), policy, softPrompt, encoder) : undefined;
  const optimizer = new Adam(conditioned.variables, { learningRate: config.learningRate, weightDecay: config.weightDecay });
  const meter = new BudgetMeter(options.budget);
  // A reward model's pre-training phase sends its charges to its own report (a side budget), not the meter.
  let rewardModelSink: ((cost: Partial<BudgetConsumption>) => void) | undefined;
  const rewardModels = plugins.rewardModels.map((p) =>
    buildRewardModel(p, config, tokenizer, (cost) => (rewardModelSink ? rewardModelSink(cost) : meter.charge(cost)), policy),
  );
  // The same models before any training, for evaluation's "better than untrained?" (never trained, never charged).
  const untrainedRewardModels = plugins.rewardModels.map((p) => buildRewardModel(p, config, tokenizer, () => {}, policy));
  const modelExtras: ExtraModel[] = rewardModels.map((m) => ({
    prefix: `rewardModel.${m.plugin.name}.`,
    model: m.weights,
    names: m.names,
    optimizer: m.optimizer,
  }));
  if (softPrompt) modelExtras.push(softPromptExtra(softPrompt)); // its vectors; their Adam moments sit with the policy's
  if (encoder) modelExtras.push(encoderExtra(encoder));
  const folder = options.outDir ? new RunFolder(options.outDir, hf && (() => hf.fingerprint())) : undefined;
  const notice = (message: string) => options.onNotice?.(message);
  const resumed = folder?.prepare({ resume: Boolean(options.resume), force: Boolean(options.force) }, notice) ?? false;
  let state = freshState(config.divergenceCoef, config.entropyCoef);
  const saved = folder && resumed ? folder.readSidecar(config, tokenizer) : undefined;
  if (folder && saved) {
    state = folder.restore(saved, policy, optimizer, meter, modelExtras, trained);
    // Written before counts were kept: every key so far was logged by every step.
    state.counts ??= Object.fromEntries(Object.keys(state.sums).map((key) => [key, state.step]));
    for (const m of rewardModels) m.loadReplay(state.rewardModelReplay?.[m.plugin.name]);
  } else if (sftMode !== 'none') {
    options.onProgress?.({ step: 0, fraction: 0, phase: 'sft' });
    // A pretrained model's warm start is cached only where a cache folder is given (a comparison's, shared
    // by its methods per seed), keyed by the model's content and LoRA settings; else it runs in the run.
    const cacheDir = hf ? options.sftCacheDir : (options.sftCacheDir ?? path.join(process.cwd(), '.cache', 'policy-lab', 'sft'));
    const warmStart = plugins.taskSource?.warmStart?.bind(plugins.taskSource);
    const sft = await sftWarmStart(policy, tokenizer, env, config, {
      cacheDir,
      names: policy.weightNames(),
      ...(softPrompt ? { prefix: softPrompt.start } : {}),
      ...(warmStart ? { extra: warmStart } : {}),
      ...(plugins.env !== plugins.baseEnv ? { base: plugins.baseEnv } : {}),
      ...(hf && cacheDir ? { modelKey: JSON.stringify(hf.fingerprint()) } : {}),
    });
    state.timings.sftSeconds = sft.seconds;
    // Extra rows (a source's warm-start items, or tasks its environment adds to the split) make a start of the run's own.
    if (plugins.taskSource && (sft.extraRows ?? 0) > 0)
      state.sftStart = {
        steps: sft.steps,
        rows: sft.rows ?? 0,
        extraRows: sft.extraRows ?? 0,
        source: plugins.taskSource.name,
      };
  }
  // A reward model that starts as the policy (an implicit PRM) copies it here, after the SFT warm start;
  // a resumed run restored its trained weights instead.
  if (!(folder && saved)) for (const m of [...rewardModels, ...untrainedRewardModels]) m.startFrom(policy);
  // POLAR: a reward model pre-trained on a policy zoo before RL (a resumed run restored its weights and report).
  if (!(folder && saved))
    for (const [i, m] of rewardModels.entries()) {
      if (!m.plugin.pretraining) continue;
      options.onProgress?.({ step: 0, fraction: 0, phase: 'pretrain' });
      const report = await pretrainRewardModel({
        owned: m,
        untrained: untrainedRewardModels[i] as OwnedRewardModel,
        spec: m.plugin.pretraining,
        start: conditioned,
        env,
        config,
        tokenizer,
        route: (sink) => {
          rewardModelSink = sink;
        },
      });
      state.rewardModelPretraining = { ...state.rewardModelPretraining, [m.plugin.name]: report };
      state.timings.pretrainSeconds = (state.timings.pretrainSeconds ?? 0) + report.seconds;
    }
  const frozen = await referencesOf(plugins, policy, tokenizer, folder, resumed);
  const charge = (cost: Partial<BudgetConsumption>) => meter.charge(cost);
  // The start as the run deploys it: with a soft prompt, the starting weights under the starting vectors
  // (a teacher run's policy stays unconditioned).
  const startReference =
    frozen.reference && softPrompt && !config.teacher ? conditionedReference(frozen.reference, softPrompt) : undefined;
  const reference = frozen.reference ? chargedModel(startReference ?? frozen.reference, charge) : undefined;
  const teacher = frozen.teacher ? chargedModel(frozen.teacher, charge) : undefined;
  const referenceExtra: ExtraModel[] = reference
    ? [
        { prefix: 'reference.', model: reference, names: policy.weightNames() },
        ...(startReference
          ? [{ prefix: 'reference.softPrompt.', model: { variables: [startReference.vectors] }, names: ['vectors'] }]
          : []),
      ]
    : [];
  // A hook reset the reference before the checkpoint: the checkpoint holds that reference.
  if (folder && saved && state.referenceResetStep !== undefined) folder.restoreExtras(saved, referenceExtra);
  const dataset = options.preferences;
  if (dataset) checkAlphabet([...(dataset.pairs ?? []), ...(dataset.examples ?? [])], tokenizer, dataset.file, env.name);
  const testTasks = env.tasks('test', { seed: 0, count: config.evalTasks });
  if (testTasks.length > 0 && testTasks.length < config.evalTasks) {
    // Asked for by name: an error; a default larger than a small split (a user's --data): capped, and said.
    if (options.overrides?.evalTasks !== undefined)
      throw new UsageError(
        `--set evalTasks=${config.evalTasks}: environment '${env.name}' has ${testTasks.length} test tasks (at most ${testTasks.length})`,
      );
    notice(
      `evalTasks is ${config.evalTasks} by default, but environment '${env.name}' has ${testTasks.length} test tasks: evaluating ${testTasks.length}`,
    );
  }
  const trainTasks = env.tasks('train', { seed: config.seed });
  if (trainTasks.length === 0 || testTasks.length === 0)
    throw new RunError(`environment '${env.name}' gave no ${trainTasks.length === 0 ? 'train' : 'test'} tasks`);
  const tasks = openTaskStream(plugins.taskSource, trainTasks, env);
  if (state.taskStream !== undefined) tasks.load?.(state.taskStream);
  const pairEstimator = pairEstimatorOf(plugins.loss, config.seed);
  if (pairEstimator && state.pairEstimator) pairEstimator.load(state.pairEstimator);
  for (const shaper of plugins.shapers) {
    const saved = state.shapers?.[shaper.name];
    if (saved !== undefined) shaper.load?.(saved);
  }
  const run: RunContext = {
    plugins,
    ...(pairEstimator ? { pairEstimator } : {}),
    policy: conditioned,
    ...(reference ? { reference } : {}),
    ...(teacher ? { teacher } : {}),
    tokenizer,
    optimizer,
    meter,
    tasks,
    rewardModels,
    side: state.side,
  };
  // A decode-time sampler (VAS) decodes evaluation's sampled success; others leave evaluation plain.
  const evalSampler =
    plugins.sampler && plugins.sampler.decodes !== undefined && plugins.sampler.decodes !== 'training'
      ? plugins.sampler
      : undefined;
  // SPARK: the policy judges its own answers at evaluation, against itself at the start of the run.
  const selfJudge = env.maxTurns === 1 ? plugins.taskSource?.selfJudge?.(env) : undefined;
  const judgeStart = selfJudge ? await frozenStart(policy, folder, resumed) : undefined;
  // Its held-out pairs are fixed at the first evaluation (the start policy's verified samples on test tasks).
  const selfJudging = (sampled: readonly (readonly Rollout[])[]): Promise<Partial<EvalResult>> => {
    state.selfJudgePairs ??= judgePairs(sampled, selfJudge as SelfJudge);
    return selfJudgeEvaluation(
      state.selfJudgePairs,
      sampled,
      selfJudge as SelfJudge,
      { now: conditioned, start: judgeStart as PolicyModel },
      tokenizer,
      config.model.contextLength - config.maxNewTokens,
    ).then(({ accuracy, rerank }) => ({ rewardModels: { [(selfJudge as SelfJudge).name]: accuracy }, selfRerank: rerank }));
  };
  const evaluateAt = async (step: number): Promise<EvalResult> => {
    const t0 = performance.now();
    options.onProgress?.({ step, fraction: meter.progress(), phase: 'eval' });
    const result = await evaluate(conditioned, tokenizer, env, testTasks, {
      samples: config.evalSamples,
      maxNewTokens: config.maxNewTokens,
      rng: Rng.seeded(config.seed).split(`eval/${step}`),
      judges: rewardModels.map((m, i) => ({ trained: m, untrained: untrainedRewardModels[i] as OwnedRewardModel })),
      ...(evalSampler
        ? { sampler: evalSampler, rewardModels: Object.fromEntries(rewardModels.map((m) => [m.plugin.name, m.handle])) }
        : {}),
      ...(selfJudge ? { extra: selfJudging } : {}),
    });
    state.timings.evalSeconds = (state.timings.evalSeconds ?? 0) + (performance.now() - t0) / 1000;
    return recordEval(step, result);
  };
  const recordEval = (step: number, result: EvalResult): EvalResult => {
    const { episodes, generatedTokens } = meter.consumed;
    state.curve.push({ step, episodes, generatedTokens, success: result.success, reward: result.reward });
    state.lastEval = { step, result };
    return result;
  };
  // A comparison's runs share the start's evaluation where evaluation is the plain policy's (start-eval-cache.ts).
  const shareStart =
    options.sftCacheDir !== undefined && !hf && !softPrompt && !evalSampler && !selfJudge && rewardModels.length === 0;
  if (!state.initial && shareStart) {
    const dir = options.sftCacheDir as string;
    const key = startEvalKey({
      policy,
      env,
      taskIds: testTasks.map((task) => env.taskId(task)),
      seed: config.seed,
      evalSamples: config.evalSamples,
      maxNewTokens: config.maxNewTokens,
      backend: { name: backend.name, kernels: backend.kernels, threads: backend.threads },
    });
    const stored = readStartEval(dir, key);
    state.initial = stored ? recordEval(0, stored) : await evaluateAt(0);
    if (!stored) writeStartEval(dir, key, state.initial);
  }
  state.initial ??= await evaluateAt(0);

  // The RL loop: stop before a step that could exceed the budget.
  const worstCase = worstCaseStep(config, config.tasksPerStep * rolloutsPerGroup({ plugins, config }), env.maxTurns);
  if (state.step === 0 && !meter.canAfford({ ...worstCase, seconds: 0 }))
    throw new UsageError(
      `the budget affords no training step: one step may use ${worstCase.episodes} episodes and ${worstCase.generatedTokens} generated tokens (tasksPerStep x rollouts per group, x maxTurns x maxNewTokens); raise --budget or lower tasksPerStep/groupSize`,
    );
  let finalEval: EvalResult | undefined;
  // Seconds, the other models' work and the episodes a stage draws beyond the sampled groups
  // (PAV's prefix rollouts, ReasonFlux-PRM's template episodes) cannot be bounded before a step:
  // the last step's stand in, added to the sampled worst case.
  const nextStepCost = () => {
    const extraEpisodes = state.lastStepAux?.extraEpisodes ?? 0;
    return {
      seconds: state.timings.lastStepSeconds ?? 0,
      auxScoredTokens: state.lastStepAux?.auxScoredTokens ?? 0,
      auxTrainedTokens: state.lastStepAux?.auxTrainedTokens ?? 0,
      episodes: worstCase.episodes + extraEpisodes,
      generatedTokens: worstCase.generatedTokens + extraEpisodes * env.maxTurns * config.maxNewTokens,
    };
  };
  while (meter.canAfford(nextStepCost())) {
    const before = meter.consumed;
    state.step += 1;
    const coefficients = {
      divergenceCoef: state.divergenceCoef,
      entropyCoef: state.hookEntropyCoef ?? appliedEntropyCoef(config, state.entropy),
      temperature: state.hookTemperature ?? config.temperature,
    };
    const hookLogged: Record<string, number> = {};
    const hooks = stepHooks(
      plugins.hooks,
      state,
      coefficients,
      config,
      {
        reset: async () => {
          if (!reference)
            throw new RunError(
              'a hook reset the reference, but this run has none (it needs a divergence or a loss that reads one)',
            );
          reference.copyFrom(policy);
          state.referenceResetStep = state.step;
        },
      },
      () => meter.progress(),
      hookServices(run, trainTasks, worstCase, (key, value) => {
        hookLogged[key] = value;
      }),
    );
    await hooks.run('onStepStart');
    const ctx = stepContext(run, state.step, coefficients);
    const { metrics, timing } = dataset ? await runOfflineStep(ctx, dataset) : await runStep(ctx);
    await hooks.run('onStepEnd', metrics);
    Object.assign(metrics, hookLogged);
    if (config.entropyTarget !== undefined) {
      metrics.entropyCoef = ctx.config.entropyCoef;
      state.entropy = adaptEntropyCoef(state.entropy, metrics.entropy, config);
    }
    state.divergenceCoef = adaptCoefficient(state.divergenceCoef, metrics.kl, config.targetDivergence);
    state.timings.rolloutTokensPerSecond = timing.tokensPerSecond;
    state.timings.trainSeconds = (state.timings.trainSeconds ?? 0) + timing.seconds;
    state.timings.rolloutSeconds = (state.timings.rolloutSeconds ?? 0) + (timing.rolloutSeconds ?? 0);
    state.timings.updateSeconds = (state.timings.updateSeconds ?? 0) + (timing.updateSeconds ?? 0);
    state.timings.lastStepSeconds = timing.seconds;
    state.lastStepAux = {
      auxScoredTokens: meter.consumed.auxScoredTokens - before.auxScoredTokens,
      auxTrainedTokens: meter.consumed.auxTrainedTokens - before.auxTrainedTokens,
      extraEpisodes: Math.max(0, meter.consumed.episodes - before.episodes - worstCase.episodes),
    };
    state.counts ??= {};
    const counts = state.counts;
    for (const [key, value] of Object.entries(metrics)) {
      state.sums[key] = (state.sums[key] ?? 0) + value;
      counts[key] = (counts[key] ?? 0) + 1;
    }
    folder?.appendMetrics(state.step, metrics, meter.consumed);
    folder?.appendTiming(state.step, timing, meter.consumed.seconds);
    const lastStep = !meter.canAfford(nextStepCost());
    if (state.step % config.evalEvery === 0 || lastStep) {
      const result = await evaluateAt(state.step);
      if (lastStep) finalEval = result;
    }
    const success = state.curve.at(-1)?.success;
    options.onProgress?.({
      step: state.step,
      fraction: meter.progress(),
      phase: 'train',
      ...(success !== undefined ? { success } : {}),
    });
    if (folder && (state.step % config.checkpointEvery === 0 || lastStep)) {
      const taskState = tasks.save?.();
      if (taskState !== undefined) state.taskStream = taskState;
      if (pairEstimator) state.pairEstimator = pairEstimator.save();
      const shaperStates = plugins.shapers.flatMap((s) => {
        const saved = s.save?.();
        return saved === undefined ? [] : [[s.name, saved] as const];
      });
      if (shaperStates.length) state.shapers = Object.fromEntries(shaperStates);
      const replays = rewardModels.filter((m) => m.plugin.replay);
      if (replays.length) state.rewardModelReplay = Object.fromEntries(replays.map((m) => [m.plugin.name, m.saveReplay()]));
      await folder.save(
        policy,
        optimizer,
        meter,
        state,
        config,
        tokenizer,
        [...modelExtras, ...(state.referenceResetStep !== undefined ? referenceExtra : [])],
        trained,
      );
    }
  }
  finalEval ??= state.lastEval?.step === state.step ? state.lastEval.result : await evaluateAt(state.step);
  if (hf && options.outDir) await hf.save(options.outDir);
  options.onProgress?.({ step: state.step, fraction: 1, phase: 'done', success: finalEval.success });
  const result: TrainResult = {
    method: plugins.method.name,
    env: env.name,
    seed: config.seed,
    backend: backend.name,
    config,
    ...extensionsOf(plugins),
    ...(softPrompt ? { softPrompt: await softPromptReport(softPrompt) } : {}),
    ...(state.sftStart ? { sftStart: state.sftStart } : {}),
    ...(state.rewardModelPretraining ? { rewardModelPretraining: state.rewardModelPretraining } : {}),
    ...(hf ? { model: hf.report } : {}),
    budget: { limit: options.budget, consumed: meter.consumed },
    initial: state.initial,
    final: finalEval,
    steps: state.step,
    curve: state.curve,
    diagnostics: diagnosticMeans(state),
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
  for (const m of [...rewardModels, ...untrainedRewardModels]) m.dispose();
  reference?.dispose();
  teacher?.dispose();
  judgeStart?.dispose();
  conditioned.dispose();
  return result;
}

function extensionsOf({ sampler, taskSource, rewardModels, hooks }: Resolved): { extensions?: RunExtensions } {
  const extensions: RunExtensions = {
    ...(sampler ? { sampler: sampler.name } : {}),
    ...(taskSource ? { taskSource: taskSource.name } : {}),
    ...(rewardModels.length ? { rewardModels: rewardModels.map((m) => m.name) } : {}),
    ...(hooks.length ? { hooks: hooks.map((h) => h.name) } : {}),
  };
  return Object.keys(extensions).length ? { extensions } : {};
}

/** A process starts its backend once (the CLI does it with its flags); start it here otherwise. */
async function startBackend(name: string | undefined) {
  const running = backendInfo();
  if (running && name && running.name !== name)
    throw new UsageError(`backend ${running.name} is already running in this process; cannot train on ${name}`);
  return running ?? (await initBackend({ name: name ?? 'wasm' }));
}

/**
 * Each diagnostic's mean over the steps that logged it: a key some steps leave out (a self-referee's
 * agreement on a step without a pair to judge) is not averaged with zeros.
 */
export function diagnosticMeans(state: Pick<RunState, 'sums' | 'counts' | 'step'>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(state.sums).map(([key, sum]) => {
      // A checkpoint from before counts were kept: every step logged every key.
      const steps = state.counts?.[key] ?? state.step;
      return [key, steps > 0 ? sum / steps : 0];
    }),
  );
}

function freshState(divergenceCoef: number, entropyCoef: number): RunState {
  return {
    step: 0,
    side: { episodes: 0, generatedTokens: 0 },
    divergenceCoef,
    entropy: { coef: entropyCoef, last: null },
    curve: [],
    sums: {},
    counts: {},
    timings: { sftSeconds: 0, evalSeconds: 0, trainSeconds: 0 },
  };
}

/**
 * The reference: a teacher run's policy when one is named (OPD reads it as refLogprobs), else
 * the frozen starting point when a loss or divergence reads one. A loss that reads the teacher
 * apart from the reference (G-OPD) gets both.
 */
async function referencesOf(
  { loss, divergence, estimator, config, stages }: Resolved,
  policy: NamedPolicy,
  tokenizer: PolicyTokenizer,
  folder: RunFolder | undefined,
  resumed: boolean,
): Promise<{ reference?: PolicyModel; teacher?: PolicyModel }> {
  const separateTeacher = (loss.kind === 'rows' && loss.needs?.teacher === true) || estimator.needsTeacher === true;
  const teacher = separateTeacher ? loadTeacher(config.teacher as string, config, tokenizer) : undefined;
  const reference =
    config.teacher && !separateTeacher
      ? loadTeacher(config.teacher, config, tokenizer)
      : divergence ||
          loss.needs?.reference ||
          stages?.some((stage) => stage.loss.needs?.reference) ||
          separateTeacher ||
          estimator.needsReference
        ? await frozenStart(policy, folder, resumed)
        : undefined;
  return { ...(reference ? { reference } : {}), ...(teacher ? { teacher } : {}) };
}

/** UPO's pair estimator, seeded by the run's seed, when the loss selects online pairs by uncertainty. */
function pairEstimatorOf(loss: PolicyLoss, seed: number): PairEstimator | undefined {
  const selection = loss.kind === 'pairs' ? loss.needs?.uncertainty : undefined;
  if (!selection) return undefined;
  return new PairEstimator({
    buckets: 128,
    hidden: selection.hidden,
    dropout: selection.dropout,
    learningRate: 3e-3,
    rng: Rng.seeded(seed).split('upo-estimator'),
  });
}
