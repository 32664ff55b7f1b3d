/**
 * A progress model Phi(s) in [0, 1] over turn states (Robo-Dopamine's general reward model, read
 * as a potential): the state's text (the observation the policy read) through a small network
 * and a logistic output, trained on the states of expert demonstrations labelled by how far
 * along the demonstration they are (turn k of M: k / M, so Phi(s_0) = 0 and the goal is 1).
 */
import type { Rng } from '@policy-lab/core';
import { SmallNet, sigmoid, textFeatures } from './small-model.js';

/** A state's text and its progress label. */
export interface ProgressExample {
  text: string;
  progress: number;
}

/** The states of a successful episode (a demonstration), turn k of M labelled k / M. */
export function progressExamples(turns: readonly { observation: string }[]): ProgressExample[] {
  return turns.map((t, k) => ({ text: t.observation, progress: k / turns.length }));
}

export interface ProgressModelOptions {
  /** Hash buckets of the text features. */
  features: number;
  hidden: number;
  learningRate: number;
  seed: string;
}

export class ProgressModel {
  private readonly net: SmallNet;
  private readonly features: number;

  constructor(o: ProgressModelOptions) {
    this.features = o.features;
    this.net = new SmallNet({ inputs: o.features + 1, hidden: o.hidden, seed: o.seed, learningRate: o.learningRate });
  }

  phi(text: string): number {
    return sigmoid(this.net.predict(textFeatures(text, this.features)));
  }

  /** Binary cross-entropy against the progress labels; the first pass's mean loss. */
  train(examples: readonly ProgressExample[], o: { epochs: number; batch: number; rng: Rng }): number {
    const rows = examples.map((e) => ({ x: textFeatures(e.text, this.features), target: e.progress }));
    return this.net.fit(rows, { loss: 'logistic', ...o });
  }

  /** The network's weights and Adam state, for a checkpoint. */
  save(): unknown {
    return this.net.save();
  }

  load(state: unknown): void {
    this.net.load(state);
  }
}

/** Spearman's rank correlation (average ranks for ties); NaN when either side is constant. */
export function spearman(a: readonly number[], b: readonly number[]): number {
  const ranks = (xs: readonly number[]) => {
    const order = xs.map((x, i) => [x, i] as const).sort((p, q) => p[0] - q[0]);
    const out = new Array<number>(xs.length).fill(0);
    for (let i = 0; i < order.length; ) {
      let j = i;
      while (
        j + 1 < order.length &&
        (order[j + 1] as readonly [number, number])[0] === (order[i] as readonly [number, number])[0]
      )
        j++;
      for (let k = i; k <= j; k++) out[(order[k] as readonly [number, number])[1]] = (i + j) / 2;
      i = j + 1;
    }
    return out;
  };
  const ra = ranks(a);
  const rb = ranks(b);
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const ma = mean(ra);
  const mb = mean(rb);
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < ra.length; i++) {
    num += ((ra[i] as number) - ma) * ((rb[i] as number) - mb);
    da += ((ra[i] as number) - ma) ** 2;
    db += ((rb[i] as number) - mb) ** 2;
  }
  return num / Math.sqrt(da * db);
}
