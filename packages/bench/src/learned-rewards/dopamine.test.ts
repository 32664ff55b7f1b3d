/**
 * Robo-Dopamine's progress model on gridnav: trained on the expert's demonstrations of training
 * tasks, it orders the states of held-out (test-split) demonstrations, and it is not just reading
 * the turn counter: at the same turn, the expert's state scores above a random walk's.
 */
import { Rng } from '@policy-lab/core';
import { gridnav } from '@policy-lab/envs';
import { ProgressModel, progressExamples, spearman } from '@policy-lab/rewards';
import { describe, expect, it } from 'vitest';
import { demonstrations, randomEpisode, signTestP } from './support.js';

describe('dopamine-pbrs progress model on gridnav', () => {
  const env = gridnav();
  const model = new ProgressModel({ features: 1024, hidden: 32, learningRate: 0.01, seed: 'test' });
  const train = demonstrations(env, 'train', 256);
  model.train(
    train.flatMap((d) => progressExamples(d.turns)),
    { epochs: 8, batch: 32, rng: Rng.seeded(1).split('fit') },
  );
  const heldOut = demonstrations(env, 'test', 60).filter((d) => d.turns.length >= 3);

  it('orders the states of held-out expert demonstrations (Spearman per demonstration, sign test)', () => {
    const rhos = heldOut.map((d) =>
      spearman(
        d.turns.map((t) => model.phi(t.observation)),
        d.turns.map((_, k) => k),
      ),
    );
    const positive = rhos.filter((r) => r > 0).length;
    const mean = rhos.reduce((a, b) => a + (Number.isNaN(b) ? 0 : b), 0) / rhos.length;
    expect(heldOut.length).toBeGreaterThanOrEqual(40);
    expect(mean).toBeGreaterThan(0.6);
    expect(signTestP(positive, rhos.length)).toBeLessThan(1e-6);
  });

  it('scores the expert above a random walk at the same turn of the same held-out task (not the turn counter)', () => {
    const rng = Rng.seeded(2).split('walk');
    const tasks = new Map(env.tasks('test', { seed: 1, count: 60 }).map((t) => [env.taskId(t), t]));
    let expertHigher = 0;
    let pairs = 0;
    heldOut.forEach((d, i) => {
      const task = tasks.get(d.taskId);
      const walk = randomEpisode(env, task, ['0', '1', '2', '3', '4', '5'], rng.split(`${i}`));
      const k = Math.min(d.turns.length, walk.turns.length) - 1;
      if (walk.success || k < 1) return;
      const expert = model.phi((d.turns[k] as { observation: string }).observation);
      const random = model.phi((walk.turns[k] as { observation: string }).observation);
      if (expert === random) return;
      pairs++;
      if (expert > random) expertHigher++;
    });
    expect(pairs).toBeGreaterThanOrEqual(30);
    expect(signTestP(expertHigher, pairs)).toBeLessThan(1e-3);
  });
});
