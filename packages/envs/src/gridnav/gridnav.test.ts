import { Rng } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type GridnavTask, gridnav, parseGridnavAction } from './gridnav.js';
import { applyAction, euclidean, type GridLayout, isSuccess, oraclePlan, type Pose, stepReward } from './world.js';

function play(env: ReturnType<typeof gridnav>, task: GridnavTask, actions: readonly string[]) {
  const episode = env.start(task, Rng.seeded(0));
  const transcript: string[] = [episode.observation()];
  for (const action of actions) {
    const result = episode.step(action);
    transcript.push(`${action} -> ${JSON.stringify(result.reward)}`, episode.observation());
    if (result.done) break;
  }
  return { transcript, outcome: episode.outcome() };
}

// A 7x7 room, no interior walls; the target at (4,2), the agent at (1,5) facing north.
const ROOM: GridLayout = {
  size: 7,
  walls: [],
  objects: [
    { color: 'red', type: 'ball', x: 4, y: 2 },
    { color: 'blue', type: 'box', x: 2, y: 2 },
  ],
  target: 0,
  radius: Math.SQRT2,
};

describe('gridnav world', () => {
  it('moves, strafes and turns relative to the heading, and walls block', () => {
    const pose: Pose = { x: 1, y: 5, dir: 0 };
    expect(applyAction(ROOM, pose, 0)).toEqual({ x: 1, y: 4, dir: 0 }); // forward = north
    expect(applyAction(ROOM, pose, 2)).toEqual({ x: 2, y: 5, dir: 0 }); // strafe right = east
    expect(applyAction(ROOM, pose, 3)).toBeUndefined(); // strafe left into the border
    expect(applyAction(ROOM, pose, 1)).toBeUndefined(); // backward into the border (y = 6)
    expect(applyAction(ROOM, pose, 4)).toEqual({ x: 1, y: 5, dir: 1 });
    expect(applyAction(ROOM, { x: 2, y: 3, dir: 0 }, 0)).toBeUndefined(); // the blue box blocks
  });

  it("gives SRGPO's step reward: closer by more than eps, or the target coming into view", () => {
    const start: Pose = { x: 1, y: 5, dir: 0 };
    expect(stepReward(ROOM, start, { x: 2, y: 5, dir: 0 })).toBe(1); // closer
    expect(stepReward(ROOM, { x: 2, y: 5, dir: 0 }, start)).toBe(0); // farther
    // turning right at (1,2) puts the target, 3 cells east, into the cone; the distance is unchanged
    expect(stepReward(ROOM, { x: 1, y: 3, dir: 2 }, { x: 1, y: 3, dir: 1 })).toBe(1);
    expect(stepReward(ROOM, { x: 1, y: 3, dir: 1 }, { x: 1, y: 3, dir: 2 })).toBe(0);
  });

  it('plans with BFS: the oracle reaches success in the fewest actions', () => {
    const plan = oraclePlan(ROOM, { x: 1, y: 5, dir: 0 }) ?? [];
    let pose: Pose | undefined = { x: 1, y: 5, dir: 0 };
    for (const a of plan) pose = applyAction(ROOM, pose as Pose, a);
    expect(isSuccess(ROOM, pose as Pose)).toBe(true);
    // from (1,5) the nearest success cell (3,3) is 2 east and 2 north: 4 moves with strafing, no turn
    expect(plan).toHaveLength(4);
    expect(euclidean(ROOM, pose as Pose)).toBeLessThanOrEqual(Math.SQRT2 + 1e-9);
  });
});

describe('gridnav environment', () => {
  const env = gridnav();
  const test = env.tasks('test', { seed: 1, count: 40 });

  it('parses action ids, tagged ids and names, and nothing else', () => {
    expect(parseGridnavAction('0')).toBe(0);
    expect(parseGridnavAction(' <action>4</action> ')).toBe(4);
    expect(parseGridnavAction('Turn Left')).toBe(5);
    expect(parseGridnavAction('6')).toBeUndefined();
    expect(parseGridnavAction('forward please')).toBeUndefined();
  });

  it('gives the same tasks and transcripts for the same seed, disjoint splits', () => {
    expect(env.tasks('test', { seed: 1, count: 40 })).toEqual(test);
    expect(test).toHaveLength(40);
    const train = env.tasks('train', { seed: 1, count: 200 });
    const ids = new Set(train.map(env.taskId));
    for (const task of test) expect(ids.has(env.taskId(task))).toBe(false);
    const task = test[0] as GridnavTask;
    const actions = ['0', '4', 'x', '2', '1'];
    expect(play(env, task, actions).transcript).toEqual(play(gridnav(), task, actions).transcript);
  });

  it('lets the expert succeed on every test task within its optimal steps, a random policy far less', () => {
    const rng = Rng.seeded(7);
    let random = 0;
    for (const task of test) {
      const plan = env.demonstrate?.(task) ?? [];
      expect(plan).toHaveLength(task.optimalSteps);
      const { outcome } = play(env, task, plan);
      expect(outcome.success).toBe(true);
      expect(outcome.reward.won).toBe(1);
      expect(outcome.reward.invalid).toBe(0);
      const moves = Array.from({ length: 20 }, () => String(rng.int(0, 5)));
      if (play(env, task, moves).outcome.success) random++;
    }
    expect(random).toBeLessThan(test.length * 0.5);
  });

  it('reports arbitrary actions as invalid without ending the episode, and never throws', () => {
    const task = test[1] as GridnavTask;
    fc.assert(
      fc.property(fc.array(fc.string(), { minLength: 1, maxLength: 25 }), (actions) => {
        const episode = env.start(task, Rng.seeded(0));
        let steps = 0;
        for (const action of actions) {
          const before = episode.observation();
          const result = episode.step(action);
          steps++;
          expect(result.valid).toBe(parseGridnavAction(action) !== undefined && result.reward.invalid === 0);
          if (!result.valid) expect(result.reward.progress).toBe(0);
          expect([0, 1]).toContain(result.reward.progress);
          expect(typeof before).toBe('string');
          if (result.done) break;
        }
        expect(steps).toBeLessThanOrEqual(20);
        const outcome = episode.outcome();
        if (outcome.success) expect(outcome.reward.won).toBe(1);
      }),
      { numRuns: 60 },
    );
  });

  it('keeps its text inside its alphabet in both renderings', () => {
    for (const render of ['compact', 'babyai'] as const) {
      for (const instruction of ['base', 'common-sense', 'complex'] as const) {
        const variant = gridnav({ render, instruction });
        const alphabet = new Set(variant.alphabet?.());
        for (const task of variant.tasks('train', { seed: 3, count: 10 })) {
          const { transcript } = play(variant, task, [...(variant.demonstrate?.(task) ?? []), 'x']);
          for (const line of transcript.filter((_, i) => i % 2 === 0))
            for (const ch of line) expect(alphabet.has(ch), `${JSON.stringify(ch)} in ${line}`).toBe(true);
        }
      }
    }
  });

  it('builds the ebnav-scale preset and rejects bad options naming them', () => {
    const big = gridnav({ preset: 'ebnav-scale' });
    const task = big.tasks('test', { seed: 2, count: 3 })[0] as GridnavTask;
    expect(task.size).toBe(17);
    expect(play(big, task, big.demonstrate?.(task) ?? []).outcome.success).toBe(true);
    expect(() => gridnav({ preset: 'huge' as never })).toThrow(/huge.*small, ebnav-scale/);
    expect(() => gridnav({ size: 3 })).toThrow(/size/);
    expect(() => gridnav({ minDistance: 5, maxDistance: 2 })).toThrow(/minDistance/);
  });
});
