/**
 * INSPO's instruction population: per-instruction statistics against closed-form counts, the
 * sampling distribution (a worked example and its limits), the merge that retires only the
 * lowest-weight entries, and a round of propose -> verify -> merge with a scripted context.
 */
import { type PlayedTask, type ProposeContext, Rng as SeededRng, type TaskFeedback } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type InstructionStats,
  inspo,
  inspoPopulation,
  instructionProbabilities,
  instructionWeights,
  mergePopulation,
  openInspo,
} from './inspo.js';

const TASKS = Array.from({ length: 40 }, (_, k) => ({ id: k }));
const options = (over: Record<string, unknown> = {}) => inspo(over).resolved as Parameters<typeof openInspo>[1];

const stats = (text: string, rollouts: number, rewardSum: number): InstructionStats => ({
  text,
  rollouts,
  rewardSum,
  successes: 0,
  origin: 'seed',
  joined: 0,
});

/** A propose context whose policy writes `texts` in turn and whose rollouts earn `reward(instruction)`. */
function scripted(texts: string[], reward: (instruction: string) => number, step = 5) {
  const played: { tasks: readonly unknown[]; instruction: string | undefined }[] = [];
  let next = 0;
  const ctx: ProposeContext = {
    step,
    rng: SeededRng.seeded(1),
    generate: async (_prompt, { count }) => {
      const out = texts.slice(next, next + count);
      next += count;
      return out;
    },
    observation: (task) => `task ${(task as { id: number }).id}`,
    taskId: (task) => String((task as { id: number }).id),
    play: async (tasks, o) => {
      played.push({ tasks, instruction: o?.instruction });
      return tasks.map((): PlayedTask => {
        const r = reward(o?.instruction ?? '');
        return { rewards: [r], successes: [r >= 1] };
      });
    },
  };
  return { ctx, played };
}

const failing = (instruction: string, n: number): TaskFeedback => ({
  taskId: 't',
  task: TASKS[0],
  instruction,
  rewards: Array.from({ length: n }, () => 0),
  successes: Array.from({ length: n }, () => false),
  turns: Array.from({ length: n }, () => [{ observation: 'use 1 2 make 3', action: '1-2' }]),
});

describe('sampling weights', () => {
  it('gives the worked example: w = [0.6, 0.5, 0.2], tau = 0.1 -> p = [0.721, 0.265, 0.013]', () => {
    const p = instructionProbabilities([0.6, 0.5, 0.2], 0.1);
    expect(p[0]).toBeCloseTo(0.721, 3);
    expect(p[1]).toBeCloseTo(0.265, 3);
    expect(p[2]).toBeCloseTo(0.013, 3);
  });

  it('sums to 1, and tends to uniform as tau grows', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: 1, maxLength: 8 }), (w) => {
        const p = instructionProbabilities(w, 0.05);
        expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
        for (const x of instructionProbabilities(w, 1e9)) expect(x).toBeCloseTo(1 / w.length, 6);
      }),
    );
  });

  it('weighs an instruction by its mean reward, an unseen one by the best seen mean', () => {
    expect(instructionWeights([stats('a', 4, 2), stats('b', 0, 0), stats('c', 2, 1.6)])).toEqual([0.5, 0.8, 0.8]);
    expect(instructionWeights([stats('a', 0, 0)])).toEqual([0]);
  });
});

describe('per-instruction statistics', () => {
  it('equal the closed-form counts of the rollouts attributed to each instruction', () => {
    const seeds = ['', 'a', 'bb', 'ccc'];
    const group = fc.record({
      instruction: fc.constantFrom(...seeds),
      rewards: fc.array(fc.constantFrom<number>(0, 0.1, 1, 1.1), { minLength: 1, maxLength: 5 }),
    });
    fc.assert(
      fc.property(fc.array(fc.array(group, { maxLength: 4 }), { maxLength: 6 }), (steps) => {
        const stream = openInspo(TASKS, options({ seeds, size: 4 }));
        steps.forEach((groups, s) =>
          stream.observe?.(
            groups.map((g) => ({
              taskId: 't',
              task: TASKS[0],
              instruction: g.instruction,
              rewards: g.rewards,
              successes: g.rewards.map((r) => r >= 1),
            })),
            s + 1,
          ),
        );
        const all = steps.flat();
        for (const member of inspoPopulation(stream)) {
          const mine = all.filter((g) => g.instruction === member.text).flatMap((g) => g.rewards);
          expect(member.rollouts).toBe(mine.length);
          expect(member.rewardSum).toBeCloseTo(
            mine.reduce((a, b) => a + b, 0),
            9,
          );
          expect(member.successes).toBe(mine.filter((r) => r >= 1).length);
        }
      }),
    );
  });
});

describe('retirement', () => {
  const entry = fc.record({ rollouts: fc.integer({ min: 0, max: 12 }), mean: fc.double({ min: 0, max: 1, noNaN: true }) });
  it('removes only the lowest-weight entries that may go, down to the bound, and loses nothing else', () => {
    fc.assert(
      fc.property(
        fc.array(entry, { minLength: 1, maxLength: 6 }),
        fc.array(entry, { maxLength: 4 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 8 }),
        (ms, cs, size, minTrials) => {
          const members = ms.map((m, k) => stats(`m${k}`, m.rollouts, m.mean * m.rollouts));
          // A candidate has always been verified: at least one rollout.
          const candidates = cs.map((c, k) => stats(`c${k}`, Math.max(1, c.rollouts), c.mean * Math.max(1, c.rollouts)));
          const { kept, removed } = mergePopulation(members, candidates, size, minTrials);
          expect(new Set([...kept, ...removed])).toEqual(new Set([...members, ...candidates]));
          expect(kept.length + removed.length).toBe(members.length + candidates.length);
          const protectedCount = members.filter((m) => m.rollouts < minTrials).length;
          const total = members.length + candidates.length;
          expect(kept.length).toBe(total <= size ? total : Math.max(size, protectedCount));
          const mean = (s: InstructionStats) => s.rewardSum / s.rollouts;
          const eligibleKept = kept.filter((s) => candidates.includes(s) || s.rollouts >= minTrials);
          for (const gone of removed) {
            expect(candidates.includes(gone) || gone.rollouts >= minTrials).toBe(true);
            for (const stays of eligibleKept) expect(mean(gone)).toBeLessThanOrEqual(mean(stays) + 1e-12);
          }
        },
      ),
    );
  });
});

describe('an evolution round', () => {
  it('verifies each written candidate on the held-out tasks, never draws those for training, and keeps the bound', async () => {
    const stream = openInspo(TASKS, options({ size: 2, verifyTasks: 4, candidates: 2, every: 5, minTrials: 4 }));
    const held = TASKS.slice(36);
    const rng = SeededRng.seeded(7);
    for (const task of stream.draw(200, rng)) expect(held).not.toContain(task);
    stream.observe?.([failing('', 4)], 5);
    // The policy writes 'x' (a verified reward of 1) and 'y' (0.2); the plain task earned 0 on 4 rollouts.
    const { ctx, played } = scripted(['x', 'y'], (i) => (i === 'x' ? 1 : i === 'y' ? 0.2 : 0));
    await stream.propose?.(ctx);
    expect(played.map((p) => p.instruction)).toEqual(['x', 'y']);
    for (const p of played) expect(p.tasks).toEqual(held);
    const population = inspoPopulation(stream);
    expect(population.map((s) => s.text).sort()).toEqual(['x', 'y']);
    expect(population.find((s) => s.text === 'x')).toMatchObject({ rollouts: 4, rewardSum: 4, successes: 4, origin: 'policy' });
    const m = stream.metrics?.() ?? {};
    expect(m).toMatchObject({ proposed: 2, joined: 2, retired: 1, verificationEpisodes: 8, populationSize: 2 });
    // Drawn instructions come from the population, mostly the better one.
    const drawn =
      stream.instructions?.(
        Array.from({ length: 400 }, () => TASKS[0]),
        rng,
      ) ?? [];
    expect(drawn.every((d) => d === 'x' || d === 'y')).toBe(true);
    expect(drawn.filter((d) => d === 'x').length).toBeGreaterThan(350);
  });

  it('runs only every `every` steps, needs failures, and admits nothing unverified', async () => {
    const stream = openInspo(TASKS, options({ size: 4, every: 5 }));
    const { ctx, played } = scripted(['x', 'y', 'z', 'w'], () => 1);
    stream.observe?.([failing('', 2)], 4);
    await stream.propose?.(ctx);
    expect(played).toHaveLength(0);
    const { play: _, ...withoutPlay } = scripted(['x', 'y'], () => 1).ctx;
    stream.observe?.([failing('', 2)], 5);
    await stream.propose?.(withoutPlay);
    expect(inspoPopulation(stream).map((s) => s.text)).toEqual(['']);
    const clean = openInspo(TASKS, options({ size: 4, every: 1 }));
    clean.observe?.([{ ...failing('', 2), rewards: [1, 1], successes: [true, true] }], 1);
    await clean.propose?.(ctx);
    expect(played).toHaveLength(0); // no failure to reflect on
  });

  it('never takes a retired instruction back, and saves and loads its whole state', async () => {
    const stream = openInspo(TASKS, options({ size: 1, seeds: ['a'], every: 1, candidates: 1, minTrials: 1 }));
    stream.observe?.([failing('a', 2)], 1);
    await stream.propose?.(scripted(['b'], (i) => (i === 'b' ? 1 : 0)).ctx);
    expect(inspoPopulation(stream).map((s) => s.text)).toEqual(['b']);
    const copy = openInspo(TASKS, options({ size: 1, seeds: ['a'], every: 1, candidates: 1, minTrials: 1 }));
    copy.load?.(stream.save?.());
    expect(copy.save?.()).toEqual(stream.save?.());
    copy.observe?.([failing('b', 2)], 2);
    const again = scripted(['a'], () => 1);
    await copy.propose?.(again.ctx);
    expect(again.played).toHaveLength(0);
    expect(copy.metrics?.()).toMatchObject({ proposed: 1, rejected: 1, joined: 0 });
  });

  it('refuses bad options with the accepted ones', () => {
    expect(() => inspo({ size: 0 })).toThrow(/size/);
    expect(() => inspo({ temperature: 0 })).toThrow(/temperature/);
    expect(() => inspo({ proposer: 'llm' as 'policy' })).toThrow(/policy, mutate/);
    expect(() => inspo({ seeds: ['a', 'b', 'c'], size: 2 })).toThrow(/exceed/);
  });
});
