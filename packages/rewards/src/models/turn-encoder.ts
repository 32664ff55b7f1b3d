/**
 * RAPL's aligned representation (Tian et al., arXiv 2412.04835 and 2310.07932), over text: an
 * encoder phi maps each turn's observation to a point in R^d, a trajectory becomes the cloud of its
 * turns' points, and two trajectories are compared by the entropic optimal-transport cost between
 * their clouds (uniform weights, squared Euclidean cost, Sinkhorn). phi is aligned with a user from
 * preference triplets (anchor, preferred, less preferred) by a Bradley-Terry loss on those costs:
 * P(preferred over less preferred | anchor) = sigma(beta (d(less, anchor) - d(preferred, anchor))).
 *
 * phi(o) = tanh(W x(o)) / sqrt(d), with x(o) the hashed words and word pairs of the observation
 * (see small-model.ts); the random start is a random projection of that bag of words, so before
 * alignment the distance measures word overlap. The loss's gradient holds the transport plan fixed
 * (the envelope of the entropic problem: d<P,C>/dC is taken as P).
 */
import { Rng } from '@policy-lab/core';
import { type SinkhornResult, sinkhorn, squaredDistances } from './sinkhorn.js';
import { AdamVector, type AdamVectorState, textFeatures } from './small-model.js';

/** A preference triplet: the user prefers `preferred` to `lessPreferred`, judged against `anchor` (a demonstration). */
export interface PreferenceTriplet {
  anchor: readonly string[];
  preferred: readonly string[];
  lessPreferred: readonly string[];
}

export interface TurnEncoderOptions {
  /** Hash buckets of the observation text. */
  features: number;
  /** The embedding's dimension d. */
  dimension: number;
  learningRate: number;
  /** Sinkhorn's entropic regularisation. */
  epsilon: number;
  /** Bradley-Terry temperature on the distance difference. */
  beta: number;
  seed: string;
}

export class TurnEncoder {
  private readonly inputs: number;
  private readonly weights: Float64Array;
  private readonly optimizer: AdamVector;

  constructor(private readonly o: TurnEncoderOptions) {
    this.inputs = o.features + 1;
    this.optimizer = new AdamVector(o.dimension * this.inputs, o.learningRate);
    this.weights = this.optimizer.params;
    // Unit-variance weights: a unit-length input (and the bias slot) gives pre-activations of about unit scale.
    const rng = Rng.seeded(0).split(o.seed);
    for (let i = 0; i < this.weights.length; i++) this.weights[i] = rng.normal();
  }

  /** phi(o): the observation's point, and what the backward pass needs (the sparse input and tanh's outputs). */
  private forward(text: string): { point: Float64Array; x: Float64Array; nz: number[]; h: Float64Array } {
    const x = textFeatures(text, this.o.features);
    const nz: number[] = [];
    for (let i = 0; i < x.length; i++) if (x[i] !== 0) nz.push(i);
    const h = new Float64Array(this.o.dimension);
    const point = new Float64Array(this.o.dimension);
    const norm = 1 / Math.sqrt(this.o.dimension);
    for (let k = 0; k < this.o.dimension; k++) {
      let s = 0;
      const row = k * this.inputs;
      for (const i of nz) s += (this.weights[row + i] as number) * (x[i] as number);
      h[k] = Math.tanh(s);
      point[k] = (h[k] as number) * norm;
    }
    return { point, x, nz, h };
  }

  embed(text: string): Float64Array {
    return this.forward(text).point;
  }

  /** The entropic OT between two trajectories' observations: the plan, its cost and each turn's (row) share. */
  transport(trajectory: readonly string[], reference: readonly string[]): SinkhornResult {
    const cost = squaredDistances(
      trajectory.map((t) => this.embed(t)),
      reference.map((t) => this.embed(t)),
    );
    return sinkhorn(cost, { epsilon: this.o.epsilon });
  }

  distance(trajectory: readonly string[], reference: readonly string[]): number {
    return this.transport(trajectory, reference).cost;
  }

  /** Bradley-Terry probability that the encoder agrees with the triplet's preference. */
  agreement(t: PreferenceTriplet): number {
    const dp = this.distance(t.preferred, t.anchor);
    const dn = this.distance(t.lessPreferred, t.anchor);
    return 1 / (1 + Math.exp(-this.o.beta * (dn - dp)));
  }

  /**
   * Mini-batch Adam on the Bradley-Terry loss -log sigma(beta (d(less, anchor) - d(preferred, anchor)))
   * over the triplets, `epochs` passes in a seeded order; returns the first pass's mean loss.
   */
  fit(triplets: readonly PreferenceTriplet[], o: { epochs: number; batch: number; rng: Rng }): number {
    if (triplets.length === 0) return Number.NaN;
    let firstLoss = 0;
    for (let e = 0; e < o.epochs; e++) {
      const order = o.rng.shuffle(triplets.map((_, k) => k));
      for (let start = 0; start < order.length; start += o.batch) {
        const part = order.slice(start, start + o.batch);
        const grad = new Float64Array(this.weights.length);
        for (const k of part) {
          const loss = this.accumulate(triplets[k] as PreferenceTriplet, 1 / part.length, grad);
          if (e === 0) firstLoss += loss;
        }
        this.optimizer.step(grad);
      }
    }
    return firstLoss / triplets.length;
  }

  /** Adds the triplet's loss gradient (times `scale`) to `grad`; returns its loss. */
  private accumulate(t: PreferenceTriplet, scale: number, grad: Float64Array): number {
    const anchor = t.anchor.map((text) => this.forward(text));
    const side = (texts: readonly string[]) => {
      const rows = texts.map((text) => this.forward(text));
      const cost = squaredDistances(
        rows.map((r) => r.point),
        anchor.map((a) => a.point),
      );
      return { rows, result: sinkhorn(cost, { epsilon: this.o.epsilon }) };
    };
    const preferred = side(t.preferred);
    const less = side(t.lessPreferred);
    const z = this.o.beta * (less.result.cost - preferred.result.cost);
    const loss = z > 0 ? Math.log1p(Math.exp(-z)) : -z + Math.log1p(Math.exp(z));
    const dz = -1 / (1 + Math.exp(z)); // d loss / dz = sigma(z) - 1
    const d = this.o.dimension;
    const anchorGrads = anchor.map(() => new Float64Array(d));
    // d<P, C>/d phi_i = sum_j P_ij 2 (phi_i - psi_j), and the mirror for psi_j, with P held fixed.
    const backSide = (s: ReturnType<typeof side>, weight: number) => {
      s.rows.forEach((r, i) => {
        const gi = new Float64Array(d);
        const plan = s.result.plan[i] as Float64Array;
        anchor.forEach((a, j) => {
          const pij = plan[j] as number;
          for (let k = 0; k < d; k++) {
            const diff = 2 * pij * ((r.point[k] as number) - (a.point[k] as number));
            gi[k] = (gi[k] as number) + weight * diff;
            (anchorGrads[j] as Float64Array)[k] = ((anchorGrads[j] as Float64Array)[k] as number) - weight * diff;
          }
        });
        this.backward(r, gi, scale, grad);
      });
    };
    backSide(less, this.o.beta * dz);
    backSide(preferred, -this.o.beta * dz);
    anchor.forEach((a, j) => this.backward(a, anchorGrads[j] as Float64Array, scale, grad));
    return loss;
  }

  /** Adds d phi / dW x pointGradient (times `scale`) to `grad`. */
  private backward(
    f: { x: Float64Array; nz: number[]; h: Float64Array },
    pointGradient: Float64Array,
    scale: number,
    grad: Float64Array,
  ): void {
    const norm = 1 / Math.sqrt(this.o.dimension);
    for (let k = 0; k < this.o.dimension; k++) {
      const hk = f.h[k] as number;
      const back = scale * (pointGradient[k] as number) * norm * (1 - hk * hk);
      if (back === 0) continue;
      const row = k * this.inputs;
      for (const i of f.nz) grad[row + i] = (grad[row + i] as number) + back * (f.x[i] as number);
    }
  }

  /** Weights and Adam state, for a checkpoint. */
  save(): AdamVectorState {
    return this.optimizer.save();
  }

  load(state: unknown): void {
    this.optimizer.load(state);
  }
}
