import { PAIR_JOIN, Rng, type Rollout, UsageError, type ZooPrompt } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { POLAR_COMPONENT, polar, polarEstimator, polarPairs, polarPreferencePairs, polarText } from './polar.js';

/** A sample's text names its policy and its index, so a pair's origin can be read back. */
const sampleText = (policy: number, k: number, salt: string) => `p${policy}s${k}${salt}`;
const originOf = (text: string) => {
  const m = /^p(\d+)s(\d+)/.exec(text);
  if (!m) throw new Error(`not a sample text: ${text}`);
  return { policy: Number(m[1]), sample: Number(m[2]) };
};

const zooPrompts = fc
  .record({
    policies: fc.integer({ min: 2, max: 5 }),
    samples: fc.integer({ min: 2, max: 3 }),
    prompts: fc.integer({ min: 1, max: 4 }),
    salt: fc.stringMatching(/^[a-z]{0,3}$/),
  })
  .map(({ policies, samples, prompts, salt }) =>
    Array.from(
      { length: prompts },
      (_, t): ZooPrompt => ({
        taskId: `t${t}`,
        context: `task ${t}`,
        reference: `ref${t}`,
        samples: Array.from({ length: policies }, (_, a) =>
          Array.from({ length: samples }, (_, k) => ({ text: sampleText(a, k, salt), success: (a + k) % 2 === 0 })),
        ),
      }),
    ),
  );

describe('polar pairs', () => {
  it("every pre-training pair puts a second sample of the reference's policy above a sample of another policy, once per prompt and ordered pair of policies (fast-check)", () => {
    fc.assert(
      fc.property(zooPrompts, fc.integer({ min: 0, max: 1e6 }), (prompts, seed) => {
        const pairs = polarPairs(prompts, Rng.seeded(seed));
        const policies = prompts[0]?.samples.length as number;
        expect(pairs).toHaveLength(prompts.length * policies * (policies - 1));
        const seen = new Set<string>();
        for (const pair of pairs) {
          const [task, reference] = pair.context.split(PAIR_JOIN) as [string, string];
          expect((pair as { text?: string }).text).toBe(pair.chosen);
          const ref = originOf(reference);
          const chosen = originOf(pair.chosen);
          const rejected = originOf(pair.rejected);
          expect(chosen.policy).toBe(ref.policy);
          expect(chosen.sample).not.toBe(ref.sample);
          expect(rejected.policy).not.toBe(ref.policy);
          seen.add(`${task}/${ref.policy}/${rejected.policy}`);
        }
        expect(seen.size).toBe(pairs.length);
      }),
      { numRuns: 200 },
    );
  });

  it('a pair whose chosen and rejected texts are equal is skipped (it carries no preference)', () => {
    const same: ZooPrompt = {
      taskId: 't',
      context: 'x',
      samples: [
        [
          { text: 'a', success: true },
          { text: 'a', success: true },
        ],
        [
          { text: 'a', success: true },
          { text: 'b', success: false },
        ],
      ],
    };
    const pairs = polarPairs([same], Rng.seeded(3));
    expect(pairs.every((p) => p.chosen !== p.rejected)).toBe(true);
    // (A=0, B=1) gives 'a' against 'a' or 'b'; (A=1, B=0) gives 'a'/'b' against 'a': at most one survives each.
    expect(pairs.length).toBeLessThanOrEqual(2);
  });

  it("fine-tuning triplets: the expert's answer is the reference, chosen an accepted and rejected a refused sample of the sampled policies, at most cap (fast-check)", () => {
    fc.assert(
      fc.property(zooPrompts, fc.integer({ min: 0, max: 4 }), fc.integer({ min: 1, max: 20 }), (prompts, expert, cap) => {
        const pairs = polarPreferencePairs(prompts, expert, cap, Rng.seeded(cap));
        expect(pairs.length).toBeLessThanOrEqual(cap);
        for (const pair of pairs) {
          const [task, reference] = pair.context.split(PAIR_JOIN) as [string, string];
          const prompt = prompts.find((p) => p.context === task) as ZooPrompt;
          expect(reference).toBe(prompt.reference);
          const chosen = originOf(pair.chosen);
          const rejected = originOf(pair.rejected);
          expect(chosen.policy).not.toBe(expert);
          expect(rejected.policy).not.toBe(expert);
          expect((chosen.policy + chosen.sample) % 2).toBe(0);
          expect((rejected.policy + rejected.sample) % 2).toBe(1);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('polar reward model', () => {
  it('declares its zoo from the options, a frozen RL phase and the fine-tuning stage; bad options are refused naming the value', () => {
    const rm = polar({ temperatures: [1], init: true, expert: true, runs: ['/runs/a'] });
    expect(rm.pretraining?.zoo).toEqual([
      { kind: 'start', temperature: 1 },
      { kind: 'init', temperature: 1 },
      { kind: 'expert' },
      { kind: 'run', folder: '/runs/a', temperature: 1 },
    ]);
    expect(rm.examples([], { step: 1, rng: Rng.seeded(1), scalar: () => 0 })).toEqual({});
    expect(rm.pretraining?.finetuneUpdates).toBe(50);
    expect(polar({ preferencePairs: 0 }).pretraining?.finetune).toBeUndefined();
    expect(() => polar({ samples: 1 })).toThrow(/samples must be an integer >= 2/);
    expect(() => polar({ temperatures: [1], init: false, expert: false })).toThrow(/at least 2 policies/);
    expect(() => polar({ temperatures: [0] })).toThrow(/temperatures must be numbers > 0/);
  });

  it("is bound to single-turn environments with an expert: it reads the rollout's task and the expert's answer", () => {
    const task = { id: 'k', solution: '3+4' };
    const env = {
      name: 'toy',
      maxTurns: 1,
      tasks: () => [task],
      taskId: (t: unknown) => (t as { id: string }).id,
      demonstrate: (t: unknown) => [(t as { solution: string }).solution],
    };
    const bound = polar().bind?.(env as never, { seed: 1 }) as NonNullable<ReturnType<typeof polar>>;
    const rollout = { taskId: 'k', turns: [{ observation: 'use 3 4 make 7', action: '4+3' }] } as unknown as Rollout;
    expect(bound.text?.(rollout)).toEqual(polarText('use 3 4 make 7', '3+4', '4+3'));
    expect(() => polar().bind?.({ ...env, maxTurns: 5 } as never, { seed: 1 })).toThrow(
      /reward model 'polar' needs single-turn episodes/,
    );
    const { demonstrate: _, ...noExpert } = env;
    expect(() => polar().bind?.(noExpert as never, { seed: 1 })).toThrow(UsageError);
  });
});

describe('polar estimator', () => {
  const rollout = (score: number | undefined, success: boolean, id: string): Rollout =>
    ({ id, turns: [], reward: score === undefined ? {} : { [POLAR_COMPONENT]: score }, success }) as unknown as Rollout;

  it("advantages are the group z-scores of the discriminator's score alone (fast-check), shifting every score leaves them unchanged", () => {
    const estimator = polarEstimator();
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -20, max: 20, noNaN: true }), { minLength: 2, maxLength: 8 }),
        fc.double({ min: -5, max: 5, noNaN: true }),
        (scores, shift) => {
          const compute = (values: readonly number[]) =>
            estimator.compute([values.map((s, i) => rollout(s, i % 2 === 0, `${i}`))], {} as never) as {
              rollout: number[][];
            };
          const a = compute(scores).rollout[0] as number[];
          const b = compute(scores.map((s) => s + shift)).rollout[0] as number[];
          const mean = scores.reduce((x, y) => x + y, 0) / scores.length;
          const sd = Math.sqrt(scores.reduce((x, y) => x + (y - mean) ** 2, 0) / (scores.length - 1));
          a.forEach((v, i) => {
            expect(v).toBeCloseTo(sd === 0 ? 0 : ((scores[i] as number) - mean) / (sd + 1e-6), 6);
            expect(v).toBeCloseTo(b[i] as number, 4);
          });
        },
      ),
    );
  });

  it('a rollout without the score is refused naming the reward model to add', () => {
    expect(() => polarEstimator().compute([[rollout(undefined, true, 'r0')]], {} as never)).toThrow(/--set rewardModels=polar/);
  });
});
