/**
 * IRL-VLA's learned reward on gridnav: a discriminator trained on the expert's demonstrations of
 * training tasks against random-walk trajectories (the policy side) ranks the expert above a
 * random walk on held-out (test-split) tasks it never saw.
 */
import { Rng } from '@policy-lab/core';
import { gridnav } from '@policy-lab/envs';
import { TrajectoryDiscriminator, trajectoryText } from '@policy-lab/rewards';
import { describe, expect, it } from 'vitest';
import { demonstrations, randomEpisode, signTestP } from './support.js';

const ACTIONS = ['0', '1', '2', '3', '4', '5'];

describe('irl-reward-world-model discriminator on gridnav', () => {
  it('ranks the expert above a random walk on held-out tasks (sign test)', () => {
    const env = gridnav();
    const rng = Rng.seeded(5);
    const train = env.tasks('train', { seed: 1, count: 200 });
    const expert = demonstrations(env, 'train', 200).map((d) => trajectoryText(d.turns));
    const walks = train.map((task, k) => trajectoryText(randomEpisode(env, task, ACTIONS, rng.split(`train${k}`)).turns));
    const model = new TrajectoryDiscriminator({ features: 1024, hidden: 32, learningRate: 0.01, seed: 'test' });
    model.train(expert, walks, { epochs: 8, batch: 32, rng: rng.split('fit') });

    const test = env.tasks('test', { seed: 1, count: 60 });
    const heldOut = demonstrations(env, 'test', 60);
    let higher = 0;
    heldOut.forEach((d, k) => {
      const task = test.find((t) => env.taskId(t) === d.taskId);
      const walk = randomEpisode(env, task, ACTIONS, rng.split(`test${k}`));
      if (model.reward(trajectoryText(d.turns)) > model.reward(trajectoryText(walk.turns))) higher++;
    });
    expect(heldOut.length).toBeGreaterThanOrEqual(50);
    expect(signTestP(higher, heldOut.length)).toBeLessThan(1e-6);
  });
});
