import { type LogitsRequest, type ProposeContext, Rng, type TaskFeedback } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { countdown } from '../countdown/countdown.js';
import { gridPacking, type PackingTask } from '../grid-packing/grid-packing.js';
import { eliteDiagnostics, flowboostElites, maskRows, openFlowboostElites } from './flowboost.js';

const env = gridPacking();
const tasks = env.tasks('train', { seed: 4, count: 40 });
// The trainer's vocabulary: five special tokens (eos is 2), then the alphabet's characters sorted.
const VOCABULARY = ['', '', '', '', '\uFFFD', ...[...new Set(env.alphabet?.() ?? '')].sort()];
const EOS = 2;

/** Decodes one answer through the mask, drawing each token from arbitrary log-weights. */
function maskedDecode(observation: string, weights: readonly number[][], maxTokens = 16): string {
  let text = '';
  for (let position = 0; position < maxTokens; position++) {
    const logprobs = Float32Array.from(weights[position % weights.length] as number[]);
    const request: LogitsRequest = {
      logprobs: [logprobs],
      contexts: [[]],
      position,
      texts: [{ context: observation, text }],
      tokenText: (id) => VOCABULARY[id] ?? '',
      stopToken: EOS,
    };
    const [row] = maskRows(request) as Float32Array[];
    // The most likely token the mask keeps (any choice among them would do: the mask decides validity).
    let best = -1;
    for (let id = 0; id < row.length; id++)
      if (row[id] !== Number.NEGATIVE_INFINITY && (best < 0 || row[id] > row[best])) best = id;
    if (best === EOS) return text;
    text += VOCABULARY[best];
  }
  return text;
}

describe('flowboost-mask', () => {
  it('makes every decoded answer a valid construction, whatever the policy prefers (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: tasks.length - 1 }),
        fc.array(
          fc.array(fc.double({ min: -20, max: 0, noNaN: true }), { minLength: VOCABULARY.length, maxLength: VOCABULARY.length }),
          {
            minLength: 1,
            maxLength: 6,
          },
        ),
        (k, weights) => {
          const task = tasks[k] as PackingTask;
          const observation = env.start(task, Rng.seeded(1)).observation();
          const answer = maskedDecode(observation, weights);
          const episode = env.start(task, Rng.seeded(1));
          expect(episode.step(answer).valid).toBe(true);
        },
      ),
      { numRuns: 150, seed: 11 },
    );
  });

  it('refuses an environment whose observation it cannot read, naming the ones it can', () => {
    const request: LogitsRequest = {
      logprobs: [new Float32Array(VOCABULARY.length)],
      contexts: [[]],
      position: 0,
      texts: [{ context: 'use 3 5 make 8', text: '' }],
      tokenText: (id) => VOCABULARY[id] ?? '',
      stopToken: EOS,
    };
    expect(() => maskRows(request)).toThrow(/environments that have one: grid-packing/);
  });
});

/** A propose context that records charges and supervised batches (no model). */
function fakeContext(step: number) {
  const charged: number[] = [];
  const trained: { task: unknown; action: string }[][] = [];
  const ctx: ProposeContext = {
    step,
    rng: Rng.seeded(step).split('propose'),
    generate: async () => [],
    observation: (task) => env.start(task as PackingTask, Rng.seeded(0)).observation(),
    taskId: (task) => env.taskId(task as PackingTask),
    charge: (cost) => charged.push(cost.envSteps ?? 0),
    train: async (examples) => {
      trained.push([...examples]);
      return { loss: 1, trainedTokens: examples.length * 10 };
    },
  };
  return { ctx, charged, trained };
}

describe('flowboost-elites', () => {
  it('keeps at most capacity elites, each at least as good as the answers it was refined from, and charges every evaluation', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.array(fc.record({ k: fc.integer({ min: 0, max: tasks.length - 1 }), answer: fc.string({ maxLength: 14 }) }), {
            minLength: 1,
            maxLength: 4,
          }),
          { minLength: 1, maxLength: 4 },
        ),
        fc.integer({ min: 1, max: 5 }),
        async (steps, capacity) => {
          const stream = openFlowboostElites(tasks, env.extremal as never, { evaluations: 15, capacity, batch: 3 });
          const best = new Map<string, number>();
          for (const [s, groups] of steps.entries()) {
            const feedback: TaskFeedback[] = groups.map(({ k, answer }) => {
              const task = tasks[k] as PackingTask;
              const objective = env.extremal.objective(task, answer);
              const id = env.taskId(task);
              best.set(id, Math.max(best.get(id) ?? 0, objective ?? 0));
              return {
                taskId: id,
                task,
                rewards: [objective ?? 0],
                successes: [false],
                turns: [[{ observation: '', action: answer }]],
              };
            });
            stream.observe?.(feedback, s + 1);
            const { ctx, charged, trained } = fakeContext(s + 1);
            await stream.propose?.(ctx);
            const m = stream.metrics?.() ?? {};
            expect(m.eliteSize).toBeLessThanOrEqual(capacity);
            expect(charged.reduce((a, b) => a + b, 0)).toBe(15 * (m.refined ?? 0));
            expect(m.localSearchEvaluations).toBe(15 * feedback.length);
            expect(trained).toHaveLength(1);
            for (const example of trained[0] ?? []) {
              const task = example.task as PackingTask;
              // An elite is a valid construction, never worse than the best answer seen for its task.
              const objective = env.extremal.objective(task, example.action) as number;
              expect(objective).toBeGreaterThanOrEqual(best.get(env.taskId(task)) ?? 0);
              expect(objective).toBeLessThanOrEqual(task.optimum);
            }
          }
          const saved = JSON.parse(JSON.stringify(stream.save?.()));
          const again = openFlowboostElites(tasks, env.extremal as never, { evaluations: 15, capacity, batch: 3 });
          again.load?.(saved);
          expect(again.save?.()).toEqual(saved);
        },
      ),
      { numRuns: 25, seed: 2 },
    );
  });

  it('reports best found against the optimum exactly on closed-form cases', () => {
    // Two points on an empty w x h grid: the optimum is the diagonal, (w-1)^2 + (h-1)^2.
    const two = gridPacking({ minPoints: 2, maxPoints: 2, maxBlocked: 0 });
    const byShape = new Map(two.tasks('train', { seed: 1, count: 30 }).map((t) => [`${t.width}x${t.height}`, t]));
    const a = byShape.get('4x4') as PackingTask;
    const b = byShape.get('6x5') as PackingTask;
    expect(a.optimum).toBe(18);
    expect(b.optimum).toBe(41);
    const elites = [
      { task: a, objective: two.extremal.objective(a, 'a1 d4') as number }, // the diagonal: 18/18
      { task: b, objective: two.extremal.objective(b, 'a1 c5') as number }, // 4 + 16 = 20, of 41
    ];
    expect(eliteDiagnostics(elites, two.extremal)).toEqual({ eliteRatio: (1 + 20 / 41) / 2, eliteOptimal: 0.5 });
    expect(eliteDiagnostics([], two.extremal)).toEqual({ eliteRatio: 0, eliteOptimal: 0 });
  });

  it('refuses an environment without an extremal structure (exit 2), naming the ones that have it', () => {
    expect(() => flowboostElites().environment?.(countdown())).toThrow(
      /flowboost-elites needs .* environment 'countdown' has none; environments that have one: grid-packing/,
    );
    expect(() => flowboostElites({ evaluations: 0 })).toThrow(/'evaluations' must be an integer >= 1, got 0/);
    expect(flowboostElites().environment?.(env)).toBe(env);
  });
});
