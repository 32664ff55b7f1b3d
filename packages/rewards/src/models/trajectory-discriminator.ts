/**
 * A reward learned by adversarial inverse RL: a discriminator D(tau) separates the expert's
 * trajectories (label 1) from the policy's (label 0), and its logit log D - log(1 - D) is the
 * reward (GAIL, Ho & Ermon 2016, arXiv 1606.03476; AIRL's reward form, Fu et al. 2018,
 * arXiv 1710.11248). A trajectory is read as its text: every observation and action in order.
 */
import type { Rng } from '@policy-lab/core';
import { SmallNet, textFeatures } from './small-model.js';

/** A trajectory as the discriminator reads it. */
export const trajectoryText = (turns: readonly { observation: string; action: string }[]): string =>
  turns.map((t) => `${t.observation} > ${t.action}`).join(' | ');

export class TrajectoryDiscriminator {
  private readonly net: SmallNet;
  private readonly features: number;

  constructor(o: { features: number; hidden: number; learningRate: number; seed: string }) {
    this.features = o.features;
    this.net = new SmallNet({ inputs: o.features + 1, hidden: o.hidden, seed: o.seed, learningRate: o.learningRate });
  }

  /** The learned reward: the discriminator's logit (log D - log(1 - D)). */
  reward(text: string): number {
    return this.net.predict(textFeatures(text, this.features));
  }

  /** Logistic loss, expert 1 and policy 0, each side weighted to half the total. */
  train(expert: readonly string[], policy: readonly string[], o: { epochs: number; batch: number; rng: Rng }): number {
    const rows = [
      ...expert.map((t) => ({
        x: textFeatures(t, this.features),
        target: 1,
        weight: (0.5 * (expert.length + policy.length)) / expert.length,
      })),
      ...policy.map((t) => ({
        x: textFeatures(t, this.features),
        target: 0,
        weight: (0.5 * (expert.length + policy.length)) / policy.length,
      })),
    ];
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
