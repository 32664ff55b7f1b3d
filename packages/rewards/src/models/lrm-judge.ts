/**
 * A judge of turn states with three heads, after Large Reward Models (arXiv 2603.16065): the
 * absolute progress of a state p(x) in [0, 1], whether it completes the task d(x) (a probability;
 * the reward reads it as yes or no), and a temporal contrastive score c(a, b) in [-1, 1] for
 * "b is further along than a". The contrastive head is antisymmetric by construction,
 * c(a, b) = sigma(g(a, b)) - sigma(g(b, a)), so c(a, b) = -c(b, a) and c(a, a) = 0.
 *
 * Each head is a small network over hashed text features (models/small-model.ts), trained once
 * on expert demonstrations and then frozen: the paper's reward model is used zero-shot.
 */
import type { Rng } from '@policy-lab/core';
import { characters, SmallNet, sigmoid, textFeatures } from './small-model.js';

export interface LrmJudgeOptions {
  features: number;
  hidden: number;
  learningRate: number;
  seed: string;
}

/** The states of one demonstration as the judge reads them: before any action, then after each. */
export type StateTrace = readonly string[];

/** The judge's state after turn t: what the policy read, then what it did. */
export const turnState = (observation: string, action: string): string => `${observation} => ${action}`;

/** A rollout's (or a demonstration's) states: x_{-1} = the first observation, x_t = turnState(o_t, a_t). */
export function stateTrace(turns: readonly { observation: string; action: string }[]): string[] {
  return turns.length ? [turns[0]?.observation ?? '', ...turns.map((t) => turnState(t.observation, t.action))] : [];
}

export class LrmJudge {
  private readonly progressNet: SmallNet;
  private readonly completionNet: SmallNet;
  private readonly contrastNet: SmallNet;
  private readonly features: number;

  constructor(o: LrmJudgeOptions) {
    this.features = o.features;
    const net = (inputs: number, head: string) =>
      new SmallNet({ inputs, hidden: o.hidden, seed: `${o.seed}/${head}`, learningRate: o.learningRate });
    this.progressNet = net(o.features + 1, 'progress');
    this.completionNet = net(o.features + 1, 'completion');
    this.contrastNet = net(2 * (o.features + 1), 'contrastive');
  }

  private x(text: string): Float64Array {
    return textFeatures(text, this.features);
  }

  private pair(a: string, b: string): Float64Array {
    const out = new Float64Array(2 * (this.features + 1));
    out.set(this.x(a), 0);
    out.set(this.x(b), this.features + 1);
    return out;
  }

  progress(state: string): number {
    return sigmoid(this.progressNet.predict(this.x(state)));
  }

  completion(state: string): number {
    return sigmoid(this.completionNet.predict(this.x(state)));
  }

  contrastive(from: string, to: string): number {
    return sigmoid(this.contrastNet.predict(this.pair(from, to))) - sigmoid(this.contrastNet.predict(this.pair(to, from)));
  }

  /**
   * Trains the three heads on successful traces (a demonstration's states in order): state k of
   * M + 1 has progress k / M; the last state completes the task (weighted as much as the others
   * together); every ordered pair (earlier, later) at most `span` apart is forward, and backward
   * shown the other way. Returns the first pass's mean loss per head and the characters trained.
   */
  train(
    traces: readonly StateTrace[],
    o: { epochs: number; batch: number; span: number; rng: Rng },
  ): { progress: number; completion: number; contrastive: number; characters: number } {
    const progressRows: { x: Float64Array; target: number }[] = [];
    const completionRows: { x: Float64Array; target: number; weight: number }[] = [];
    const contrastRows: { x: Float64Array; target: number }[] = [];
    let read = 0;
    for (const trace of traces) {
      const last = trace.length - 1;
      if (last < 1) continue;
      read += characters(trace) * 2;
      trace.forEach((state, k) => {
        const x = this.x(state);
        progressRows.push({ x, target: k / last });
        completionRows.push({ x, target: k === last ? 1 : 0, weight: k === last ? last : 1 });
        for (let j = k + 1; j <= Math.min(last, k + o.span); j++) {
          const later = trace[j] as string;
          contrastRows.push({ x: this.pair(state, later), target: 1 }, { x: this.pair(later, state), target: 0 });
          read += 2 * (state.length + later.length);
        }
      });
    }
    const fit = (net: SmallNet, rows: { x: Float64Array; target: number; weight?: number }[], head: string) =>
      net.fit(rows, { loss: 'logistic', epochs: o.epochs, batch: o.batch, rng: o.rng.split(head) });
    return {
      progress: fit(this.progressNet, progressRows, 'progress'),
      completion: fit(this.completionNet, completionRows, 'completion'),
      contrastive: fit(this.contrastNet, contrastRows, 'contrastive'),
      characters: read * o.epochs,
    };
  }

  save(): unknown {
    return { progress: this.progressNet.save(), completion: this.completionNet.save(), contrastive: this.contrastNet.save() };
  }

  load(state: unknown): void {
    const s = state as { progress?: unknown; completion?: unknown; contrastive?: unknown };
    this.progressNet.load(s.progress);
    this.completionNet.load(s.completion);
    this.contrastNet.load(s.contrastive);
  }
}
