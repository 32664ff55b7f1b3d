/**
 * Robo-Dopamine's policy-invariant shaping (Tan et al. 2025, arXiv 2512.23703): a learned progress
 * model Phi(s) in [0, 1] is used as a potential, F_t = gamma Phi(s_{t+1}) - Phi(s_t) with the
 * run's gamma and Phi(terminal) = 0 (Ng, Harada & Russell 1999), never as the reward itself (the
 * paper's "semantic trap"). The model is pre-trained on expert demonstrations of training tasks
 * (a side budget, logged like the SFT start) and keeps training online on the demonstrations of
 * each step's tasks and on the step's successful rollouts; each step's rollouts are scored before
 * the model learns from them.
 */
import {
  type Demonstrations,
  defineShaper,
  type RewardShaper,
  type Rollout,
  resolveOptions,
  type ShapeContext,
} from '@policy-lab/core';
import { type ProgressExample, ProgressModel, progressExamples } from '../models/progress-model.js';
import { characters } from '../models/small-model.js';
import { applyPotential } from './potential.js';

export interface DopaminePbrsOptions {
  gamma?: number;
  pretrainTasks?: number;
  pretrainEpochs?: number;
  epochs?: number;
  hindsight?: boolean;
  replay?: number;
  features?: number;
  hidden?: number;
  learningRate?: number;
  batch?: number;
}

const OPTIONS = {
  gamma: { type: 'number', doc: "discount in F = gamma Phi(s') - Phi(s) (default: the run's estimator's gamma, else 1)" },
  pretrainTasks: { type: 'integer', default: 256, doc: 'training tasks whose demonstrations pre-train the progress model' },
  pretrainEpochs: { type: 'integer', default: 8, doc: 'passes over the pre-training states' },
  epochs: { type: 'integer', default: 1, doc: 'passes per step over the new states and as many replayed ones' },
  hindsight: { type: 'boolean', default: true, doc: "a step's successful rollouts also train the model, as demonstrations" },
  replay: { type: 'integer', default: 8192, doc: 'labelled states kept for replay' },
  features: { type: 'integer', default: 1024, doc: 'hash buckets of the state text (words and word pairs)' },
  hidden: { type: 'integer', default: 32, doc: "the progress model's hidden units" },
  learningRate: { type: 'number', default: 0.01, doc: "the progress model's Adam learning rate" },
  batch: { type: 'integer', default: 32, doc: 'states per Adam step' },
} as const;

type Resolved = Required<Omit<DopaminePbrsOptions, 'gamma'>> & Pick<DopaminePbrsOptions, 'gamma'>;

/** The expert's demonstrations a shaper needs, or an error naming what is missing. */
export function requireDemonstrations(shaper: string, ctx: ShapeContext): Demonstrations {
  if (!ctx.demonstrations)
    throw new RangeError(`${shaper}: the environment has no expert demonstrations (demonstrate); it learns its reward from them`);
  return ctx.demonstrations;
}

/** A plugin's run state, made fresh when a run starts; `current` and `restore` serve checkpoints. */
export interface PerRun<S> {
  (ctx: ShapeContext): S;
  /** The state of the run in progress (undefined before its first step). */
  current(): S | undefined;
  /** Puts a checkpoint's state in place: the next step continues it instead of starting afresh. */
  restore(state: S): void;
}

/**
 * Run state of a plugin that learns across steps: made fresh when a run starts (its first step, or
 * a step earlier than the last one seen, as when a process runs several runs with one instance),
 * unless a checkpoint's state was restored.
 */
export function perRun<S>(make: (ctx: ShapeContext) => S): PerRun<S> {
  let state: S | undefined;
  let lastStep = Number.POSITIVE_INFINITY;
  const get = (ctx: ShapeContext) => {
    if (state === undefined || ctx.step < lastStep) state = make(ctx);
    lastStep = ctx.step;
    return state;
  };
  return Object.assign(get, {
    current: () => state,
    restore: (saved: S) => {
      state = saved;
      lastStep = Number.NEGATIVE_INFINITY;
    },
  });
}

/**
 * A learned shaper's checkpoint: its run state, whose `model` saves and loads itself and whose
 * other fields are JSON (replay buffers); `load` rebuilds the model and continues that state.
 */
export function checkpointed<S extends { model: { save(): unknown; load(saved: unknown): void } }>(
  state: PerRun<S>,
  newModel: () => S['model'],
): { save(): unknown; load(saved: unknown): void } {
  return {
    save() {
      const s = state.current();
      return s && { ...s, model: s.model.save() };
    },
    load(saved) {
      const { model: weights, ...rest } = saved as Record<string, unknown>;
      const model = newModel();
      model.load(weights);
      state.restore({ ...structuredClone(rest), model } as S);
    },
  };
}

export function dopaminePbrs(options: DopaminePbrsOptions = {}): RewardShaper {
  const o = resolveOptions<Resolved>('dopamine-pbrs', OPTIONS, options as Record<string, unknown>);
  for (const key of ['pretrainEpochs', 'epochs', 'features', 'hidden', 'batch'] as const)
    if (!(o[key] >= 1)) throw new RangeError(`dopamine-pbrs: option '${key}' must be >= 1, got ${o[key]}`);
  if (!(o.pretrainTasks >= 0 && o.replay >= 0))
    throw new RangeError(`dopamine-pbrs: 'pretrainTasks' and 'replay' must be >= 0, got ${o.pretrainTasks} and ${o.replay}`);
  if (o.gamma !== undefined && !(o.gamma >= 0 && o.gamma <= 1))
    throw new RangeError(`dopamine-pbrs: option 'gamma' must be in [0, 1], got ${o.gamma}`);
  if (!(o.learningRate > 0)) throw new RangeError(`dopamine-pbrs: option 'learningRate' must be > 0, got ${o.learningRate}`);

  const newModel = () =>
    new ProgressModel({ features: o.features, hidden: o.hidden, learningRate: o.learningRate, seed: 'dopamine-pbrs' });
  const state = perRun((ctx) => {
    const model = newModel();
    const demonstrations = requireDemonstrations('dopamine-pbrs', ctx);
    const states = demonstrations
      .training(o.pretrainTasks)
      .filter((d) => d.success)
      .flatMap((d) => progressExamples(d.turns));
    // Pre-training reads data only, like the SFT start: logged as a side budget, not charged to RL.
    const loss = model.train(states, { epochs: o.pretrainEpochs, batch: o.batch, rng: ctx.rng.split('pretrain') });
    ctx.log?.('pretrainStates', states.length);
    ctx.log?.('pretrainTrainedTokens', characters(states.map((s) => s.text)) * o.pretrainEpochs);
    if (states.length) ctx.log?.('pretrainLoss', loss);
    return { model, replay: states.slice(-o.replay) as ProgressExample[] };
  });

  return defineShaper({
    name: 'dopamine-pbrs',
    summary:
      "Robo-Dopamine: a progress model Phi(s) learned from expert demonstrations, used as potential-based shaping with the run's gamma",
    paper: {
      title: 'Robo-Dopamine: General Process Reward Modeling for High-Precision Robotic Manipulation',
      arxiv: '2512.23703',
      year: 2025,
    },
    options: OPTIONS,
    resolved: o,
    requires: { multiTurn: true, demonstrations: true },
    adds: [{ name: 'shaping', weight: 1 }],
    math: "$\\Phi_\\theta(s) = \\sigma(f_\\theta(s)) \\in [0,1]$ fitted to $k/M$ on turn $k$ of an $M$-turn demonstration; $r'_t = r_t + \\gamma\\Phi_\\theta(s_{t+1}) - \\Phi_\\theta(s_t)$, $\\Phi(\\text{terminal}) = 0$, so $\\sum_t \\gamma^t F_t = -\\Phi_\\theta(s_0)$",
    unverified: [
      'adaptation: adapted. Vision becomes text: Phi reads the turn observation (gridnav: the egocentric view; webshop: the page), not camera views; a small network of its own, not a fine-tuned VLM.',
      "The paper's GRM reads multi-view images and predicts binned hops fused over three anchors; ours reads the turn's observation text and regresses progress k/M directly (a hop is a function of two progress values: `hop`).",
      'Sizes, learning rate, pre-training tasks and the hindsight use of successful rollouts are ours, not the paper’s.',
    ],
    configure: (next) => dopaminePbrs({ ...o, ...next }),
    ...checkpointed(state, newModel),
    shape(rollouts: readonly Rollout[], ctx: ShapeContext) {
      const { model, replay } = state(ctx);
      const gamma = o.gamma ?? ctx.gamma ?? 1;
      const observations = rollouts.flatMap((r) => r.turns.map((t) => t.observation));
      ctx.charge?.({ auxScoredTokens: characters(observations) });
      const phi = new Map(observations.map((text) => [text, model.phi(text)]));
      const shaped = applyPotential(rollouts, (_key, r, k) => phi.get(r.turns[k]?.observation ?? '') ?? 0, gamma);
      // Then learn from this step's demonstrations (and successes), with as many replayed states.
      const demonstrations = requireDemonstrations('dopamine-pbrs', ctx);
      const fresh = [...new Set(rollouts.map((r) => r.groupId))].flatMap((id) => {
        const demo = demonstrations.ofGroup(id);
        return demo?.success ? progressExamples(demo.turns) : [];
      });
      if (o.hindsight) for (const r of rollouts) if (r.success) fresh.push(...progressExamples(r.turns));
      const rng = ctx.rng.split('dopamine-pbrs');
      const replayed = replay.length ? Array.from({ length: Math.min(fresh.length, replay.length) }, () => rng.pick(replay)) : [];
      const batch = [...fresh, ...replayed];
      const loss = model.train(batch, { epochs: o.epochs, batch: o.batch, rng });
      ctx.charge?.({ auxTrainedTokens: characters(batch.map((s) => s.text)) * o.epochs });
      replay.push(...fresh);
      if (replay.length > o.replay) replay.splice(0, replay.length - o.replay);
      ctx.log?.('phiMean', observations.length ? [...phi.values()].reduce((a, b) => a + b, 0) / phi.size : 0);
      ctx.log?.('trainedStates', batch.length);
      if (batch.length) ctx.log?.('loss', loss);
      return shaped;
    },
  });
}
