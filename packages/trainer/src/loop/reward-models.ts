/**
 * Learned reward models: for each RewardModel plugin the trainer builds a transformer of the
 * declared size with a scalar head, or a scalar head on the policy's trunk (seeded by the run's
 * seed and the plugin's name), its own Adam, and a handle that scores texts and trains on examples. Its compute is charged as
 * auxScoredTokens and auxTrainedTokens (padded rows x length, the work actually done).
 */
import {
  type BudgetConsumption,
  REWARD_MODEL_ARCHITECTURES,
  type RewardExamples,
  type RewardModel,
  type RewardModelHandle,
  Rng,
  type Rollout,
  RunError,
  rolloutText,
  type ScoredText,
  type TrainConfig,
  UsageError,
} from '@policy-lab/core';
import * as tf from '@tensorflow/tfjs-core';
import type { PolicyModel } from '../model/policy.js';
import { createPolicy } from '../model/transformer.js';
import { Adam } from '../optim/adam.js';
import { SEP, UNK } from '../tokenizer/char-tokenizer.js';
import type { PolicyTokenizer } from '../tokenizer/policy-tokenizer.js';
import { packByRows } from './batch.js';
import type { Weighted } from './weights.js';

/** The most padded tokens (rows x contextLength) one scoring pass of a reward model reads. */
const SCORE_CHUNK_TOKENS = 1 << 16;
/** Padded tokens (rows x contextLength) in one training pass of a reward model. */
const TRAIN_CHUNK_TOKENS = 1 << 14;
export interface OwnedRewardModel {
  plugin: RewardModel;
  /** The weights it trains and checkpoints save (a transformer's, or the head's alone), by name. */
  weights: Weighted;
  names: string[];
  optimizer: Adam;
  /** What plugins get: scoring and training, both charged to the budget. */
  handle: RewardModelHandle;
  /** Scores for evaluation, which (like all evaluation) is not charged. */
  evaluate(texts: readonly ScoredText[]): Promise<number[]>;
  /**
   * Called once when RL starts (after the SFT warm start, not on resume): a 'policy-copy' model
   * copies the policy's weights; other architectures ignore it.
   */
  startFrom(policy: PolicyModel): void;
  /** The replay buffer as JSON for checkpoints (undefined without replay), and its restore. */
  saveReplay(): unknown;
  loadReplay(state: unknown): void;
  dispose(): void;
}

/** What a rollout is scored as: the plugin's `text`, or core's `rolloutText`. */
export function textOf(plugin: RewardModel, rollout: Rollout): ScoredText {
  return plugin.text ? plugin.text(rollout) : rolloutText(rollout);
}

/**
 * The network behind a reward model: `hidden` gives the final hidden state [rows, T, D] of the
 * encoded texts (the model's own, or the policy's trunk), `head` the scalar head [D, 1] on it.
 */
interface Network {
  variables: tf.Variable[];
  names: string[];
  hidden(inputs: tf.Tensor2D): tf.Tensor3D;
  head: tf.Variable;
  /** The generative judge's next-token log-probabilities (a transformer of its own only). */
  logprobs?(inputs: tf.Tensor2D, targets: tf.Tensor2D): tf.Tensor2D;
  /** The same log-probabilities under the policy (an implicit PRM's reference), never differentiated. */
  referenceLogprobs?(inputs: tf.Tensor2D, targets: tf.Tensor2D): tf.Tensor2D;
  /** A policy copy's start: the policy's weights. */
  startFrom?(policy: PolicyModel): void;
  dispose(): void;
}

/**
 * Builds the reward model a plugin declares. `trunk` is the policy, read by a head on its trunk
 * (the policy's weights are neither trained nor saved here: they are the run's).
 */
export function buildRewardModel(
  plugin: RewardModel,
  config: TrainConfig,
  tokenizer: PolicyTokenizer,
  charge: (cost: Partial<BudgetConsumption>) => void,
  trunk?: PolicyModel,
): OwnedRewardModel {
  const rng = Rng.seeded(config.seed).split(`reward-model/${plugin.name}`);
  const network = buildNetwork(plugin, config, tokenizer, rng, trunk);
  const { head } = network;
  // The scalar head starts random (a zero head, like the policy's value head, would score every text alike).
  const headRng = rng.split('head');
  const width = head.shape[0] as number;
  head.assign(
    tf.tensor(
      Float32Array.from({ length: width }, () => headRng.normal() / Math.sqrt(width)),
      head.shape,
    ),
  );
  // A head the objective does not use (the language-model head under a scalar objective, the scalar
  // head under the generative one) gets a zero gradient, so Adam leaves it as it is.
  const optimizer = new Adam(network.variables, { learningRate: plugin.learningRate });
  const limit = config.model.contextLength;
  const encode = (item: ScoredText): number[] => {
    const context = tokenizer.encode(item.context);
    const { bos, eos, sep } = tokenizer.specials;
    const text = [...tokenizer.encode(item.text), eos];
    const full = [bos, ...context, sep, ...text];
    return full.length <= limit ? full : [bos, ...full.slice(full.length - (limit - 1))];
  };
  const batchOf = (items: readonly ScoredText[]) => {
    const rows = items.map(encode);
    const T = Math.max(...rows.map((r) => r.length));
    const inputs = tf.tensor2d(
      rows.map((r) => [...r, ...new Array(T - r.length).fill(0)]),
      [rows.length, T],
      'int32',
    );
    const lastIndex = tf.tensor1d(
      rows.map((r) => r.length - 1),
      'int32',
    );
    return { rows, T, inputs, last: tf.oneHot(lastIndex, T), lastIndex };
  };
  /**
   * The implicit PRM's reward of each text, beta * sum over the text's tokens (its end token
   * included) of log pi_prm - log pi_policy, differentiable in the PRM; the policy's pass is a
   * scoring pass (`scoredTokens`).
   */
  const implicit = (items: readonly ScoredText[]): Forward => {
    const { rows, T, inputs } = batchOf(items);
    const encoded = rows.map((r) => [...r.slice(1), ...new Array<number>(T - r.length + 1).fill(0)]);
    const targets = tf.tensor2d(encoded, [rows.length, T], 'int32');
    // A row ends with the text and EOS: positions predicting them are the last (text length + 1) before the row's end.
    const textLengths = items.map((item) => tokenizer.encode(item.text).length + 1);
    const mask = tf.tensor2d(
      rows.map((r, i) => {
        const start = Math.max(0, r.length - 1 - (textLengths[i] as number));
        return Array.from({ length: T }, (_, t) => (t >= start && t < r.length - 1 ? 1 : 0));
      }),
      [rows.length, T],
    );
    const own = (network.logprobs as NonNullable<Network['logprobs']>)(inputs, targets);
    // The policy's variables are not in the gradient's list: the reference is a constant of the PRM's update.
    const reference = (network.referenceLogprobs as NonNullable<Network['referenceLogprobs']>)(inputs, targets);
    const ratio = tf.sum(tf.mul(tf.sub(own, reference), mask), 1) as tf.Tensor1D;
    return { scores: tf.mul(ratio, plugin.beta ?? 1) as tf.Tensor1D, tokens: rows.length * T, scoredTokens: rows.length * T };
  };
  /**
   * The generative judge's log-probabilities of the two verdict tokens after the text (the
   * model predicts the token after the text's end): accept and reject, [rows] each.
   */
  const verdicts = (items: readonly ScoredText[]): Verdicts => {
    const { rows, T, inputs, last, lastIndex } = batchOf(items);
    const logprobs = network.logprobs as NonNullable<Network['logprobs']>;
    const logprobOf = (verdict: number) => {
      const targets = tf.oneHot(lastIndex, T, verdict, 0) as tf.Tensor2D;
      return tf.sum(tf.mul(logprobs(inputs, targets), last), 1) as tf.Tensor1D;
    };
    return { accept: logprobOf(ACCEPT), reject: logprobOf(REJECT), tokens: 2 * rows.length * T };
  };
  /** Scores [rows] of the texts (differentiable), and the tokens the pass read. */
  const forward = (items: readonly ScoredText[]): Forward => {
    if (plugin.objective === 'implicit-prm') return implicit(items);
    if (plugin.objective === 'generative') {
      const v = verdicts(items);
      return { scores: tf.sub(v.accept, v.reject) as tf.Tensor1D, tokens: v.tokens };
    }
    const { rows, T, inputs, last } = batchOf(items);
    // The hidden state at each text's last token [rows, D], then the head.
    const atLast = tf.sum(tf.mul(network.hidden(inputs), tf.expandDims(last, 2)), 1) as tf.Tensor2D;
    const scores = tf.reshape(tf.matMul(atLast, head), [rows.length]) as tf.Tensor1D;
    return { scores, tokens: rows.length * T };
  };
  // One forward pass over every text at once can outgrow the wasm heap and abort the process (VAS
  // scores 20 candidates for each of an evaluation's 800 rows at every position: 16,000 texts);
  // passes of at most SCORE_CHUNK_TOKENS padded tokens (rows x contextLength) keep it bounded.
  const chunkRows = Math.max(1, Math.floor(SCORE_CHUNK_TOKENS / limit));
  // A training pass also keeps its activations for the gradient: a smaller one.
  const trainChunkRows = Math.max(1, Math.floor(TRAIN_CHUNK_TOKENS / limit));
  const scoreTexts = async (texts: readonly ScoredText[]): Promise<{ values: number[]; tokens: number }> => {
    const values: number[] = [];
    let tokens = 0;
    for (let start = 0; start < texts.length; start += chunkRows) {
      const chunk = texts.slice(start, start + chunkRows);
      const scores = tf.tidy(() => {
        const out = forward(chunk);
        tokens += out.tokens + (out.scoredTokens ?? 0);
        return out.scores;
      });
      values.push(...(await scores.data()));
      scores.dispose();
    }
    return { values, tokens };
  };
  const replay: ReplayBuffer = { pairs: [], points: [], trajectories: [], updates: 0 };
  const handle: RewardModelHandle = {
    name: plugin.name,
    async score(texts) {
      const { values, tokens } = await scoreTexts(texts);
      charge({ auxScoredTokens: tokens });
      return values;
    },
    async train(examples) {
      const count = objectiveExamples(plugin, examples);
      if (count === 0) return { loss: Number.NaN, examples: 0 };
      if (plugin.objective === 'discriminator' || plugin.objective === 'generative') checkBinary(plugin, examples.points ?? []);
      if (plugin.replay) remember(replay, examples, plugin.replay.capacity);
      let first = Number.NaN;
      for (let u = 0; u < (plugin.updatesPerStep ?? 1); u++) {
        let tokens = 0;
        let scoredTokens = 0;
        // With replay, each update is a batch drawn from the buffer (seeded by the update's index).
        const batch = plugin.replay ? drawBatch(replay, plugin.replay.batch, rng.split(`replay/${replay.updates++}`)) : examples;
        // The loss is a mean over examples: passes of whole examples, each gradient weighted by its share, sum to the batch's.
        let summed: tf.Tensor[] | undefined;
        let loss = 0;
        for (const chunk of exampleChunks(plugin, batch, trainChunkRows)) {
          const { value, grads } = tf.variableGrads(() => {
            const out = objectiveLoss(plugin, chunk.examples, forward, verdicts);
            tokens += out.tokens;
            scoredTokens += out.scoredTokens ?? 0;
            return chunk.share === 1 ? out.loss : (tf.mul(out.loss, chunk.share) as tf.Scalar);
          }, network.variables);
          const ordered = network.variables.map((v) => grads[v.name] ?? tf.zerosLike(v));
          const previous = summed;
          summed = previous ? ordered.map((g, i) => tf.add(previous[i] as tf.Tensor, g)) : ordered;
          if (previous) tf.dispose([...previous, ...ordered]);
          loss += (await value.data())[0] as number;
          value.dispose();
        }
        optimizer.apply(summed as tf.Tensor[]);
        tf.dispose(summed as tf.Tensor[]);
        if (!Number.isFinite(loss))
          throw new RunError(`reward model '${plugin.name}' produced a non-finite loss; lower its learningRate`);
        if (u === 0) first = loss as number;
        charge({ auxTrainedTokens: tokens, ...(scoredTokens > 0 ? { auxScoredTokens: scoredTokens } : {}) });
      }
      return { loss: first, examples: count };
    },
  };
  return {
    plugin,
    weights: network,
    names: network.names,
    optimizer,
    handle,
    evaluate: async (texts) => (await scoreTexts(texts)).values,
    startFrom: (policy) => network.startFrom?.(policy),
    saveReplay: () => (plugin.replay ? JSON.parse(JSON.stringify(replay)) : undefined),
    loadReplay(state) {
      if (state === undefined) return;
      const saved = state as ReplayBuffer;
      replay.pairs = saved.pairs;
      replay.points = saved.points;
      replay.trajectories = saved.trajectories ?? [];
      replay.updates = saved.updates;
    },
    dispose() {
      optimizer.dispose();
      network.dispose();
    },
  };
}

function buildNetwork(
  plugin: RewardModel,
  config: TrainConfig,
  tokenizer: PolicyTokenizer,
  rng: Rng,
  trunk: PolicyModel | undefined,
): Network {
  const a = plugin.architecture;
  const where = `reward model '${plugin.name}'`;
  if (a.kind === 'head') {
    if (!trunk) throw new UsageError(`${where}: a head on the policy's trunk needs the policy (none was given)`);
    if (plugin.objective === 'generative')
      throw new UsageError(
        `${where}: the generative objective needs a language-model head of its own; use architecture 'transformer' (a head on the policy's trunk takes bradley-terry, pointwise or discriminator)`,
      );
    const dim = trunk.config.dim;
    const head = tf.variable(tf.zeros([dim, 1]), true, `reward-model/${plugin.name}/head/${headCounter++}`);
    return {
      variables: [head],
      names: ['head'],
      head,
      // Only `head` is in the gradient's variable list: the trunk's gradient is never taken.
      hidden: (inputs) => trunk.score(inputs, inputs, { hidden: true }).hidden as tf.Tensor3D,
      dispose: () => head.dispose(),
    };
  }
  if ((plugin.objective === 'implicit-prm') !== (a.kind === 'policy-copy'))
    throw new UsageError(
      `${where}: the implicit-prm objective and the policy-copy architecture go together (an implicit PRM is a language model that starts as the policy; got objective '${plugin.objective}' with architecture '${a.kind}')`,
    );
  if (a.kind === 'policy-copy') {
    if (!trunk) throw new UsageError(`${where}: a copy of the policy needs the policy (none was given)`);
    const model = createPolicy(trunk.config, rng.split('init'));
    // Never trained or saved: the scalar head buildRewardModel initialises (an implicit PRM's score is its log-ratio).
    const head = tf.variable(tf.zeros([trunk.config.dim, 1]), false, `reward-model/${plugin.name}/unused-head/${headCounter++}`);
    return {
      variables: model.variables as tf.Variable[],
      names: model.weightNames(),
      head,
      hidden: (inputs) => model.score(inputs, inputs, { hidden: true }).hidden as tf.Tensor3D,
      logprobs: (inputs, targets) => model.score(inputs, targets).logprobs,
      referenceLogprobs: (inputs, targets) => trunk.score(inputs, targets).logprobs,
      startFrom: (policy) => model.copyFrom(policy),
      dispose: () => {
        model.dispose();
        head.dispose();
      },
    };
  }
  if (a.kind !== 'transformer')
    throw new UsageError(
      `${where}: architecture kind '${String((a as { kind: unknown }).kind)}' is not available (accepted: ${REWARD_MODEL_ARCHITECTURES.join(', ')})`,
    );
  if (a.dim % a.heads !== 0) throw new UsageError(`${where}: heads ${a.heads} must divide dim ${a.dim}`);
  const model = createPolicy(
    {
      dim: a.dim,
      layers: a.layers,
      heads: a.heads,
      contextLength: config.model.contextLength,
      mlpRatio: config.model.mlpRatio,
      valueHead: true,
      vocabSize: tokenizer.vocabSize,
    },
    rng.split('init'),
  );
  const names = model.weightNames();
  return {
    variables: model.variables,
    names,
    head: model.variables[names.indexOf('value_head')] as tf.Variable,
    hidden: (inputs) => model.score(inputs, inputs, { hidden: true }).hidden as tf.Tensor3D,
    logprobs: (inputs, targets) => model.score(inputs, targets).logprobs,
    dispose: () => model.dispose(),
  };
}

let headCounter = 0;

/** The generative judge's verdict tokens: two special tokens every character vocabulary has. */
const ACCEPT = SEP;
const REJECT = UNK;

/** A differentiable scoring pass: [rows] scores, the model's tokens, and the policy's scoring tokens (an implicit PRM's reference). */
interface Forward {
  scores: tf.Tensor1D;
  tokens: number;
  scoredTokens?: number;
}

interface Verdicts {
  accept: tf.Tensor1D;
  reject: tf.Tensor1D;
  tokens: number;
}

function checkBinary(plugin: RewardModel, points: readonly { target: number }[]): void {
  for (const p of points)
    if (p.target !== 0 && p.target !== 1)
      throw new RunError(`reward model '${plugin.name}' (${plugin.objective}) got a target ${p.target}; targets are 0 or 1`);
}

/** The examples seen so far (the newest `capacity` of each kind) and the updates drawn from them. */
interface ReplayBuffer {
  pairs: NonNullable<RewardExamples['pairs']>[number][];
  points: NonNullable<RewardExamples['points']>[number][];
  trajectories: NonNullable<RewardExamples['trajectories']>[number][];
  updates: number;
}

function remember(buffer: ReplayBuffer, examples: RewardExamples, capacity: number): void {
  buffer.pairs = [...buffer.pairs, ...(examples.pairs ?? [])].slice(-capacity);
  buffer.points = [...buffer.points, ...(examples.points ?? [])].slice(-capacity);
  buffer.trajectories = [...buffer.trajectories, ...(examples.trajectories ?? [])].slice(-capacity);
}

/** `size` examples drawn uniformly with replacement from the buffer. */
function drawBatch(buffer: ReplayBuffer, size: number, rng: Rng): RewardExamples {
  const pick = <T>(pool: readonly T[]) =>
    Array.from({ length: pool.length ? size : 0 }, () => pool[rng.int(0, pool.length - 1)] as T);
  return { pairs: pick(buffer.pairs), points: pick(buffer.points), trajectories: pick(buffer.trajectories) };
}

function objectiveExamples(plugin: RewardModel, examples: RewardExamples): number {
  if (plugin.objective === 'implicit-prm') return examples.trajectories?.length ?? 0;
  return plugin.objective === 'bradley-terry' ? (examples.pairs?.length ?? 0) : (examples.points?.length ?? 0);
}

/**
 * The batch in passes of whole examples of at most `maxRows` scoring rows each (one example larger
 * than that is a pass of its own): a pair takes two rows, a trajectory pair its steps, a point one
 * (a generative judge's two verdicts share its row). `share`: the pass's fraction of the examples,
 * its weight in the batch's mean loss.
 */
export function exampleChunks(
  plugin: Pick<RewardModel, 'objective'>,
  examples: RewardExamples,
  maxRows: number,
): { examples: RewardExamples; share: number }[] {
  const chunk = <T>(items: readonly T[] | undefined, rowsOf: (item: T) => number, wrap: (part: T[]) => RewardExamples) => {
    const parts = packByRows(items ?? [], rowsOf, maxRows);
    return parts.length <= 1
      ? [{ examples, share: 1 }]
      : parts.map((part) => ({ examples: wrap(part), share: part.length / (items?.length ?? 1) }));
  };
  if (plugin.objective === 'implicit-prm')
    return chunk(
      examples.trajectories,
      (t) => t.chosen.length + t.rejected.length,
      (trajectories) => ({ trajectories }),
    );
  if (plugin.objective === 'bradley-terry')
    return chunk(
      examples.pairs,
      () => 2,
      (pairs) => ({ pairs }),
    );
  return chunk(
    examples.points,
    () => 1,
    (points) => ({ points }),
  );
}

/**
 * The objective's mean loss over the examples:
 * Bradley-Terry: -log sigmoid(s_chosen - s_rejected); pointwise: (s - target)^2;
 * discriminator: binary cross-entropy of sigmoid(s) against a 0/1 target; generative: the
 * next-token cross-entropy of the verdict token (accept for 1, reject for 0) after the text;
 * implicit PRM (trajectory DPO): -log sigmoid(sum of the chosen steps' implicit rewards - sum of
 * the rejected steps').
 */
function objectiveLoss(
  plugin: RewardModel,
  examples: RewardExamples,
  forward: (items: readonly ScoredText[]) => Forward,
  verdicts: (items: readonly ScoredText[]) => Verdicts,
): { loss: tf.Scalar; tokens: number; scoredTokens?: number } {
  if (plugin.objective === 'implicit-prm') {
    const trajectories = examples.trajectories ?? [];
    const steps = trajectories.flatMap((p) => [...p.chosen, ...p.rejected]);
    // Row p of `sides` adds pair p's chosen steps and subtracts its rejected ones: the DPO margin.
    const sides: number[][] = [];
    let offset = 0;
    for (const p of trajectories) {
      const row = new Array<number>(steps.length).fill(0);
      for (let k = 0; k < p.chosen.length; k++) row[offset++] = 1;
      for (let k = 0; k < p.rejected.length; k++) row[offset++] = -1;
      sides.push(row);
    }
    const out = forward(steps);
    const margins = tf.matMul(tf.tensor2d(sides, [trajectories.length, steps.length]), tf.reshape(out.scores, [steps.length, 1]));
    return { loss: tf.mean(tf.softplus(tf.neg(margins))) as tf.Scalar, tokens: out.tokens, scoredTokens: out.scoredTokens ?? 0 };
  }
  if (plugin.objective === 'bradley-terry') {
    const pairs = examples.pairs ?? [];
    const both = forward([
      ...pairs.map((p) => ({ context: p.context, text: p.chosen })),
      ...pairs.map((p) => ({ context: p.context, text: p.rejected })),
    ]);
    const chosen = tf.slice(both.scores, 0, pairs.length);
    const rejected = tf.slice(both.scores, pairs.length, pairs.length);
    // -log sigmoid(d) = softplus(-d).
    return { loss: tf.mean(tf.softplus(tf.sub(rejected, chosen))) as tf.Scalar, tokens: both.tokens };
  }
  const points = examples.points ?? [];
  if (plugin.objective === 'generative') {
    // Next-token cross-entropy of the verdict the target names.
    const v = verdicts(points);
    const target = tf.tensor1d(points.map((p) => p.target));
    const logprob = tf.add(tf.mul(target, v.accept), tf.mul(tf.sub(1, target), v.reject));
    return { loss: tf.neg(tf.mean(logprob)) as tf.Scalar, tokens: v.tokens };
  }
  const out = forward(points);
  const targets = tf.tensor1d(points.map((p) => p.target));
  if (plugin.objective === 'pointwise')
    return { loss: tf.mean(tf.square(tf.sub(out.scores, targets))) as tf.Scalar, tokens: out.tokens };
  // BCE with logits: softplus(s) - target * s.
  return { loss: tf.mean(tf.sub(tf.softplus(out.scores), tf.mul(targets, out.scores))) as tf.Scalar, tokens: out.tokens };
}
