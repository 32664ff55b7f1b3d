/**
 * The small learned models that rewards learned from demonstrations use: a text is read as a
 * hashed bag of its words and word bigrams (the "hashing trick", Weinberger et al. 2009,
 * arXiv 0902.2206), and a one-hidden-layer network (tanh) maps it to a number, trained by Adam
 * (Kingma & Ba 2014, arXiv 1412.6980) in plain TypeScript. They live inside the plugin that owns
 * them, so a plugin can score every turn of every rollout synchronously; what they read and train
 * is charged by the plugin in characters (the trainer's tokens are characters).
 */
import { adamStep, Rng } from '@policy-lab/core';

/** FNV-1a, 32 bits: a stable bucket for a word or a word pair. */
function bucket(word: string, size: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < word.length; i++) {
    h ^= word.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % size;
}

/** Unit-length hashed counts of a text's words and adjacent word pairs (a 1 in a bias slot last). */
export function textFeatures(text: string, size: number): Float64Array {
  const out = new Float64Array(size + 1);
  const words = text.toLowerCase().match(/[a-z0-9]+/g) ?? [];
  words.forEach((w, i) => {
    out[bucket(w, size)] = (out[bucket(w, size)] as number) + 1;
    if (i > 0) {
      const pair = `${words[i - 1]} ${w}`;
      out[bucket(pair, size)] = (out[bucket(pair, size)] as number) + 1;
    }
  });
  let norm = 0;
  for (let i = 0; i < size; i++) norm += (out[i] as number) ** 2;
  if (norm > 0) for (let i = 0; i < size; i++) out[i] = (out[i] as number) / Math.sqrt(norm);
  out[size] = 1;
  return out;
}

/** A parameter vector with its Adam moments (Kingma & Ba 2014), saved and restored as one. */
export interface AdamVectorState {
  /** The parameters, then the first and second moments: little-endian float64, base64. */
  params: string;
  m: string;
  v: string;
  t: number;
}

function encodeFloats(values: Float64Array): string {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function decodeFloats(text: unknown, into: Float64Array, what: string): void {
  if (typeof text !== 'string') throw new RangeError(`saved network state: '${what}' is missing`);
  const binary = atob(text);
  if (binary.length !== into.byteLength)
    throw new RangeError(
      `saved network state: '${what}' holds ${binary.length / 8} numbers, this network has ${into.length} (another size)`,
    );
  const bytes = new Uint8Array(into.buffer, into.byteOffset, into.byteLength);
  for (let i = 0; i < bytes.length; i++) bytes[i] = binary.charCodeAt(i);
}

export class AdamVector {
  readonly params: Float64Array;
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  private t = 0;

  constructor(
    count: number,
    private readonly learningRate: number,
  ) {
    this.params = new Float64Array(count);
    this.m = new Float64Array(count);
    this.v = new Float64Array(count);
  }

  /** One Adam update with the given gradient. */
  step(grad: Float64Array): void {
    this.t += 1;
    adamStep(this.params, { m: this.m, v: this.v }, grad, this.t, this.learningRate);
  }

  save(): AdamVectorState {
    return { params: encodeFloats(this.params), m: encodeFloats(this.m), v: encodeFloats(this.v), t: this.t };
  }

  load(state: unknown): void {
    const s = (state ?? {}) as Partial<AdamVectorState>;
    if (!Number.isSafeInteger(s.t)) throw new RangeError("saved network state: 't' (the Adam step) is missing");
    decodeFloats(s.params, this.params, 'params');
    decodeFloats(s.m, this.m, 'm');
    decodeFloats(s.v, this.v, 'v');
    this.t = s.t as number;
  }
}

export interface SmallNetOptions {
  inputs: number;
  hidden: number;
  seed: string;
  learningRate: number;
}

/** Squared error on the output, or logistic (binary cross-entropy with soft targets in [0, 1]) on its logit. */
export type SmallNetLoss = 'squared' | 'logistic';

/**
 * y = w2 . tanh(W1 x) + b2. Adam state is kept across `fit` calls, so online training continues
 * where it left off. Deterministic: weights are drawn from the seed, examples visited in the
 * order given.
 */
export class SmallNet {
  readonly inputs: number;
  readonly hidden: number;
  private readonly params: Float64Array;
  private readonly optimizer: AdamVector;

  constructor(o: SmallNetOptions) {
    this.inputs = o.inputs;
    this.hidden = o.hidden;
    this.optimizer = new AdamVector(o.hidden * o.inputs + o.hidden + 1, o.learningRate);
    this.params = this.optimizer.params;
    const rng = Rng.seeded(0).split(o.seed);
    const scale = 1 / Math.sqrt(o.inputs);
    for (let i = 0; i < o.hidden * o.inputs; i++) this.params[i] = rng.normal() * scale;
    for (let j = 0; j < o.hidden; j++) this.params[o.hidden * o.inputs + j] = rng.normal() / Math.sqrt(o.hidden);
  }

  /** The inputs' non-zero positions: hashed text features are sparse. */
  private static nonZero(x: Float64Array): number[] {
    const out: number[] = [];
    for (let i = 0; i < x.length; i++) if (x[i] !== 0) out.push(i);
    return out;
  }

  private hiddenOf(x: Float64Array, nz = SmallNet.nonZero(x)): Float64Array {
    const h = new Float64Array(this.hidden);
    for (let j = 0; j < this.hidden; j++) {
      let s = 0;
      const row = j * this.inputs;
      for (const i of nz) s += (this.params[row + i] as number) * (x[i] as number);
      h[j] = Math.tanh(s);
    }
    return h;
  }

  /** The raw output (a logit under the logistic loss). */
  predict(x: Float64Array): number {
    const h = this.hiddenOf(x);
    const w2 = this.hidden * this.inputs;
    let y = this.params[w2 + this.hidden] as number;
    for (let j = 0; j < this.hidden; j++) y += (this.params[w2 + j] as number) * (h[j] as number);
    return y;
  }

  /** Adds d(output)/d(parameters) x outputGradient to `grad`. */
  private backward(x: Float64Array, outputGradient: number, grad: Float64Array): void {
    const nz = SmallNet.nonZero(x);
    const h = this.hiddenOf(x, nz);
    const w2 = this.hidden * this.inputs;
    grad[w2 + this.hidden] = (grad[w2 + this.hidden] as number) + outputGradient;
    for (let j = 0; j < this.hidden; j++) {
      const hj = h[j] as number;
      grad[w2 + j] = (grad[w2 + j] as number) + outputGradient * hj;
      const back = outputGradient * (this.params[w2 + j] as number) * (1 - hj * hj);
      if (back === 0) continue;
      const row = j * this.inputs;
      for (const i of nz) grad[row + i] = (grad[row + i] as number) + back * (x[i] as number);
    }
  }

  /**
   * Mini-batch Adam on (x, target, weight) examples, `epochs` passes in a seeded order; returns the
   * mean loss of the first pass (before most of its updates, like the trainer's reward models).
   */
  fit(
    examples: readonly { x: Float64Array; target: number; weight?: number }[],
    o: { loss: SmallNetLoss; epochs: number; batch: number; rng: Rng },
  ): number {
    if (examples.length === 0) return Number.NaN;
    let firstLoss = 0;
    for (let e = 0; e < o.epochs; e++) {
      const order = o.rng.shuffle(examples.map((_, k) => k));
      for (let start = 0; start < order.length; start += o.batch) {
        const grad = new Float64Array(this.params.length);
        const part = order.slice(start, start + o.batch);
        for (const k of part) {
          const ex = examples[k] as (typeof examples)[number];
          const y = this.predict(ex.x);
          const w = ex.weight ?? 1;
          let g: number;
          if (o.loss === 'logistic') {
            const p = 1 / (1 + Math.exp(-y));
            g = p - ex.target;
            if (e === 0) firstLoss -= w * (ex.target * Math.log(p + 1e-12) + (1 - ex.target) * Math.log(1 - p + 1e-12));
          } else {
            g = y - ex.target;
            if (e === 0) firstLoss += (w * g * g) / 2;
          }
          this.backward(ex.x, (w * g) / part.length, grad);
        }
        this.optimizer.step(grad);
      }
    }
    return firstLoss / examples.length;
  }

  /** Weights and Adam state, for a checkpoint. */
  save(): AdamVectorState {
    return this.optimizer.save();
  }

  load(state: unknown): void {
    this.optimizer.load(state);
  }
}

export const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

/** Characters of texts: what a model reading them is charged (the trainer's tokens are characters). */
export const characters = (texts: readonly string[]): number => texts.reduce((n, t) => n + t.length, 0);
