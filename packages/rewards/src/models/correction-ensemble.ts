/**
 * A learned correction between a cheap and an exact reward, f_exact(x) ~ f_cheap(x) + delta(x)
 * (the autoregressive multi-fidelity form of Kennedy & O'Hagan 2000 with rho = 1), where delta is
 * regressed from the rollout's text features and its cheap value by an ensemble of small networks,
 * each trained on its own bootstrap resample of the items that received both evaluations. The
 * ensemble's mean is the correction and its spread the uncertainty (Lakshminarayanan et al. 2017,
 * arXiv 1612.01474) that decides which items get the exact evaluation.
 */
import type { Rng } from '@policy-lab/core';
import { SmallNet, textFeatures } from './small-model.js';

export interface LabelledItem {
  text: string;
  cheap: number;
  exact: number;
}

export interface CorrectionEnsembleOptions {
  members: number;
  features: number;
  hidden: number;
  learningRate: number;
  seed: string;
}

export class CorrectionEnsemble {
  private readonly nets: SmallNet[];
  private readonly features: number;

  constructor(o: CorrectionEnsembleOptions) {
    this.features = o.features;
    this.nets = Array.from(
      { length: o.members },
      (_, k) =>
        new SmallNet({ inputs: o.features + 2, hidden: o.hidden, seed: `${o.seed}/member${k}`, learningRate: o.learningRate }),
    );
  }

  private input(text: string, cheap: number): Float64Array {
    const x = new Float64Array(this.features + 2);
    x.set(textFeatures(text, this.features));
    x[this.features + 1] = cheap;
    return x;
  }

  /** The ensemble's mean correction and its spread (standard deviation over members). */
  predict(text: string, cheap: number): { correction: number; spread: number } {
    const x = this.input(text, cheap);
    const outs = this.nets.map((n) => n.predict(x));
    const mean = outs.reduce((a, b) => a + b, 0) / outs.length;
    const variance = outs.reduce((a, b) => a + (b - mean) ** 2, 0) / outs.length;
    return { correction: mean, spread: Math.sqrt(variance) };
  }

  /** Each member: `epochs` passes of squared error on exact - cheap over its bootstrap resample. */
  train(items: readonly LabelledItem[], o: { epochs: number; batch: number; rng: Rng }): number {
    if (items.length === 0) return Number.NaN;
    const rows = items.map((it) => ({ x: this.input(it.text, it.cheap), target: it.exact - it.cheap }));
    const losses = this.nets.map((net, k) => {
      const rng = o.rng.split(`member${k}`);
      const resample = rows.map(() => rows[rng.int(0, rows.length - 1)] as (typeof rows)[number]);
      return net.fit(resample, { loss: 'squared', epochs: o.epochs, batch: o.batch, rng });
    });
    return losses.reduce((a, b) => a + b, 0) / losses.length;
  }

  /** Each member's weights and Adam state, for a checkpoint. */
  save(): unknown {
    return this.nets.map((n) => n.save());
  }

  load(state: unknown): void {
    if (!Array.isArray(state) || state.length !== this.nets.length)
      throw new RangeError(`saved correction ensemble: expected ${this.nets.length} members`);
    this.nets.forEach((n, k) => n.load(state[k]));
  }
}

/**
 * The `count` items to evaluate exactly: the largest spreads, ties broken in a seeded order
 * (so with an untrained or flat ensemble the choice is uniform).
 */
export function mostUncertain(spreads: readonly number[], count: number, rng: Rng): number[] {
  const order = rng.shuffle(spreads.map((_, k) => k));
  return order
    .map((k, position) => ({ k, position }))
    .sort((a, b) => (spreads[b.k] as number) - (spreads[a.k] as number) || a.position - b.position)
    .slice(0, count)
    .map((e) => e.k);
}
