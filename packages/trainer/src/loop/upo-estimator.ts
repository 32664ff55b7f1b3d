/**
 * UPO's estimator (Wang et al., "Self-Evolutionary Large Language Models through
 * Uncertainty-Enhanced Preference Optimization", arXiv 2409.11212): a classifier of a preference
 * pair (prompt, response #1, response #2) -> [p(#1 better), p(#2 better)] with dropout, kept on
 * at judgement time (Monte-Carlo dropout, Gal & Ghahramani 2016, arXiv 1506.02142) so that T
 * passes give T different judgements whose spread is the epistemic uncertainty (BALD).
 *
 * The released UPO code fine-tunes a LoRA sequence classifier of the policy's size; here the
 * estimator is a separate small network in plain TypeScript: each of the three texts is read as
 * unit-length hashed counts of its character 1-, 2- and 3-grams (the trainer's tokens are
 * characters), the three vectors are concatenated, one tanh hidden layer with inverted dropout,
 * a logit. Adam state persists across `train` calls; `save`/`load` give a checkpoint's JSON.
 */
import { adamStep, type Rng, RunError } from '@policy-lab/core';

/** One pair to judge: the prompt and the two responses, #1 first. */
export interface PairText {
  context: string;
  first: string;
  second: string;
}

export interface PairEstimatorOptions {
  /** Hash buckets per text. */
  buckets: number;
  hidden: number;
  dropout: number;
  learningRate: number;
  /** Seed stream of the initial weights. */
  rng: Rng;
}

/** FNV-1a, 32 bits: a stable bucket for an n-gram. */
function bucketOf(gram: string, size: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < gram.length; i++) {
    h ^= gram.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % size;
}

/** Sparse unit-length hashed counts of a text's character 1-, 2- and 3-grams, offset by `offset`. */
function ngramFeatures(text: string, size: number, offset: number, into: Map<number, number>): void {
  const counts = new Map<number, number>();
  for (let n = 1; n <= 3; n++)
    for (let i = 0; i + n <= text.length; i++) {
      const b = bucketOf(`${n}${text.slice(i, i + n)}`, size);
      counts.set(b, (counts.get(b) ?? 0) + 1);
    }
  let norm = 0;
  for (const c of counts.values()) norm += c * c;
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  for (const [b, c] of counts) into.set(offset + b, c * scale);
}

/** A pair as sparse inputs: [prompt | #1 | #2] features and a bias slot last. */
function pairInputs(pair: PairText, size: number): { index: number[]; value: number[] } {
  const x = new Map<number, number>();
  ngramFeatures(pair.context, size, 0, x);
  ngramFeatures(pair.first, size, size, x);
  ngramFeatures(pair.second, size, 2 * size, x);
  x.set(3 * size, 1);
  return { index: [...x.keys()], value: [...x.values()] };
}

/** Characters one pass reads (the budget's unit for models other than the policy). */
export function pairCharacters(pair: PairText): number {
  return pair.context.length + pair.first.length + pair.second.length;
}

export interface EstimatorState {
  params: number[];
  m: number[];
  v: number[];
  t: number;
  trainedExamples: number;
}

export class PairEstimator {
  private readonly inputs: number;
  private readonly params: Float64Array;
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  private t = 0;
  /** Labelled examples trained on so far (0: the estimator has not learned anything yet). */
  trainedExamples = 0;

  constructor(private readonly o: PairEstimatorOptions) {
    if (!(o.dropout >= 0 && o.dropout < 1)) throw new RunError(`upo estimator: dropout must be in [0, 1), got ${o.dropout}`);
    this.inputs = 3 * o.buckets + 1;
    const count = o.hidden * this.inputs + o.hidden + 1;
    this.params = new Float64Array(count);
    this.m = new Float64Array(count);
    this.v = new Float64Array(count);
    const scale = 1 / Math.sqrt(4);
    for (let i = 0; i < o.hidden * this.inputs; i++) this.params[i] = o.rng.normal() * scale;
    for (let j = 0; j < o.hidden; j++) this.params[o.hidden * this.inputs + j] = o.rng.normal() / Math.sqrt(o.hidden);
  }

  /** The logit of p(#1 better) under one dropout mask (undefined: no dropout), and the hidden units it used. */
  private forward(x: { index: number[]; value: number[] }, mask?: Float64Array): { logit: number; h: Float64Array } {
    const { hidden } = this.o;
    const h = new Float64Array(hidden);
    for (let j = 0; j < hidden; j++) {
      let s = 0;
      const row = j * this.inputs;
      for (let k = 0; k < x.index.length; k++)
        s += (this.params[row + (x.index[k] as number)] as number) * (x.value[k] as number);
      h[j] = Math.tanh(s);
    }
    const w2 = hidden * this.inputs;
    let logit = this.params[w2 + hidden] as number;
    for (let j = 0; j < hidden; j++)
      logit += (this.params[w2 + j] as number) * (h[j] as number) * (mask ? (mask[j] as number) : 1);
    return { logit, h };
  }

  /** An inverted-dropout mask: each unit kept with probability 1 - p and scaled by 1 / (1 - p). */
  private maskOf(rng: Rng): Float64Array {
    const keep = 1 - this.o.dropout;
    const mask = new Float64Array(this.o.hidden);
    for (let j = 0; j < this.o.hidden; j++) mask[j] = rng.next() < keep ? 1 / keep : 0;
    return mask;
  }

  /**
   * T Monte-Carlo dropout passes over the pairs: out[t][i] = [p(#1 better), p(#2 better)] of pair
   * i under pass t's masks (one mask per pair and pass).
   */
  passes(pairs: readonly PairText[], passes: number, rng: Rng): number[][][] {
    const inputs = pairs.map((p) => pairInputs(p, this.o.buckets));
    return Array.from({ length: passes }, () =>
      inputs.map((x) => {
        const p = 1 / (1 + Math.exp(-this.forward(x, this.maskOf(rng)).logit));
        return [p, 1 - p];
      }),
    );
  }

  /** p(#1 better) without dropout (the mean network). */
  probability(pair: PairText): number {
    return 1 / (1 + Math.exp(-this.forward(pairInputs(pair, this.o.buckets)).logit));
  }

  /**
   * Adam on labelled pairs (label 1: #1 is better), with dropout on, `epochs` passes in a seeded
   * order, mini-batches of `batch`; returns the mean logistic loss of the first pass.
   */
  train(examples: readonly { pair: PairText; label: number }[], o: { epochs: number; batch: number; rng: Rng }): number {
    if (examples.length === 0) return Number.NaN;
    const inputs = examples.map((e) => pairInputs(e.pair, this.o.buckets));
    const { hidden } = this.o;
    const w2 = hidden * this.inputs;
    let firstLoss = 0;
    for (let epoch = 0; epoch < o.epochs; epoch++) {
      const order = o.rng.shuffle(examples.map((_, k) => k));
      for (let start = 0; start < order.length; start += o.batch) {
        const part = order.slice(start, start + o.batch);
        const grad = new Float64Array(this.params.length);
        for (const k of part) {
          const x = inputs[k] as { index: number[]; value: number[] };
          const label = (examples[k] as { label: number }).label;
          const mask = this.maskOf(o.rng);
          const { logit, h } = this.forward(x, mask);
          const p = 1 / (1 + Math.exp(-logit));
          if (epoch === 0) firstLoss += Math.max(logit, 0) - logit * label + Math.log1p(Math.exp(-Math.abs(logit)));
          const g = (p - label) / part.length;
          grad[w2 + hidden] = (grad[w2 + hidden] as number) + g;
          for (let j = 0; j < hidden; j++) {
            const hj = (h[j] as number) * (mask[j] as number);
            grad[w2 + j] = (grad[w2 + j] as number) + g * hj;
            const back = g * (this.params[w2 + j] as number) * (mask[j] as number) * (1 - (h[j] as number) ** 2);
            if (back === 0) continue;
            const row = j * this.inputs;
            for (let q = 0; q < x.index.length; q++) {
              const i = row + (x.index[q] as number);
              grad[i] = (grad[i] as number) + back * (x.value[q] as number);
            }
          }
        }
        this.adam(grad);
      }
    }
    this.trainedExamples += examples.length;
    return firstLoss / examples.length;
  }

  private adam(grad: Float64Array): void {
    this.t += 1;
    adamStep(this.params, { m: this.m, v: this.v }, grad, this.t, this.o.learningRate);
  }

  save(): EstimatorState {
    return { params: [...this.params], m: [...this.m], v: [...this.v], t: this.t, trainedExamples: this.trainedExamples };
  }

  load(state: EstimatorState): void {
    if (state.params.length !== this.params.length)
      throw new RunError(
        `upo estimator: the checkpoint holds ${state.params.length} weights, this run's estimator ${this.params.length}`,
      );
    this.params.set(state.params);
    this.m.set(state.m);
    this.v.set(state.v);
    this.t = state.t;
    this.trainedExamples = state.trainedExamples;
  }
}
