import { type HookContext, Rng, type Rollout } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { baldOfPasses } from './data.js';
import {
  candidatePairs,
  candidatePool,
  labelledPairs,
  majorityAgrees,
  sampleByReliability,
  selectReliable,
  uncertaintyPairs,
} from './upo.js';
import { PairEstimator, pairCharacters } from './upo-estimator.js';
import { roundOf, upoRounds } from './upo-rounds.js';

const SELECTION = { passes: 10, sampleRate: 0.25, dropout: 0.1, hidden: 32, dropDisagreements: true };

describe('BALD of Monte-Carlo passes', () => {
  it('is 0 when every pass gives the same judgement (fast-check)', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 30 }), (p, passes) => {
        expect(baldOfPasses(Array.from({ length: passes }, () => [p, 1 - p]))).toBeCloseTo(0, 12);
      }),
    );
  });

  it('lies in [0, log 2] for any passes of two classes (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 20 }), (ps) => {
        const bald = baldOfPasses(ps.map((p) => [p, 1 - p]));
        expect(bald).toBeGreaterThanOrEqual(0);
        expect(bald).toBeLessThanOrEqual(Math.LN2 + 1e-12);
      }),
    );
  });

  it('worked value: ten passes alternating [0.95, 0.05] and [0.05, 0.95] give 0.4946 nats', () => {
    // H[mean] = log 2 = 0.693147; each pass's entropy = -(0.95 ln 0.95 + 0.05 ln 0.05) = 0.198515.
    const passes = Array.from({ length: 10 }, (_, t) => (t % 2 === 0 ? [0.95, 0.05] : [0.05, 0.95]));
    expect(baldOfPasses(passes)).toBeCloseTo(0.4946, 4);
  });
});

describe('candidate pairs', () => {
  const groups = fc.array(fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 10 }), {
    minLength: 1,
    maxLength: 6,
  });

  it('chosen is a top-scored rollout, rejected strictly lower and from the pool (top two + bottom two past 4) (fast-check)', () => {
    fc.assert(
      fc.property(groups, fc.integer({ min: 0, max: 1000 }), (scores, seed) => {
        const pairs = candidatePairs(scores, Rng.seeded(seed));
        const mixed = scores.map((g, i) => (new Set(g).size > 1 ? i : -1)).filter((i) => i >= 0);
        expect(pairs.map((p) => p.group)).toEqual(mixed);
        for (const { group, chosen, rejected } of pairs) {
          const s = scores[group] as number[];
          expect(s[chosen]).toBe(Math.max(...s));
          expect(s[rejected] as number).toBeLessThan(s[chosen] as number);
          const pool = candidatePool(s);
          expect(pool).toContain(rejected);
          if (s.length > 4) {
            expect(pool).toHaveLength(4);
            const sorted = [...s].sort((a, b) => b - a);
            const poolScores = pool.map((i) => s[i]);
            expect(poolScores).toEqual([sorted[0], sorted[1], sorted.at(-2), sorted.at(-1)]);
          }
        }
      }),
    );
  });

  it('draws the rejected one from the whole rest of the pool', () => {
    const seen = new Set<number>();
    const rng = Rng.seeded(3);
    for (let k = 0; k < 200; k++) seen.add((candidatePairs([[5, 4, 3, 2, 1, 0]], rng)[0] as { rejected: number }).rejected);
    // Six candidates: the pool is ranks 1, 2, 5, 6 (indices 0, 1, 4, 5); the rejected one is any of the last three.
    expect([...seen].sort()).toEqual([1, 4, 5]);
  });
});

describe('reliable-feedback sampling', () => {
  it('returns count distinct indices (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: Math.LN2, noNaN: true }), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 0, max: 1000 }),
        (balds, count, seed) => {
          const kept = sampleByReliability(balds, count, Rng.seeded(seed));
          expect(kept).toHaveLength(Math.min(count, balds.length));
          expect(new Set(kept).size).toBe(kept.length);
          for (const i of kept) expect(i >= 0 && i < balds.length).toBe(true);
        },
      ),
    );
  });

  it('keeps a pair with BALD 0 more often than one with high BALD, in proportion to 1 - BALD', () => {
    const rng = Rng.seeded(11);
    let certain = 0;
    const draws = 4000;
    for (let k = 0; k < draws; k++) if ((sampleByReliability([0, 0.6], 1, rng)[0] as number) === 0) certain += 1;
    // p(certain) = 1 / (1 + 0.4) = 0.714; the standard error of 4,000 draws is 0.007.
    expect(certain / draws).toBeGreaterThan(0.5);
    expect(Math.abs(certain / draws - 1 / 1.4)).toBeLessThan(0.03);
  });

  it('the majority vote: a tie counts as agreeing with the pair', () => {
    expect(
      majorityAgrees([
        [0.9, 0.1],
        [0.2, 0.8],
      ]),
    ).toBe(true);
    expect(
      majorityAgrees([
        [0.4, 0.6],
        [0.2, 0.8],
        [0.7, 0.3],
      ]),
    ).toBe(false);
  });
});

/** A one-turn rollout answering `prompt` with `answer`; its true reward counts the answer's `a`s. */
function answer(id: string, prompt: string, text: string): Rollout {
  const correct = [...text].filter((c) => c === 'a').length;
  return {
    id,
    groupId: id.split('/')[0] as string,
    taskId: prompt,
    turns: [
      {
        observation: prompt,
        action: text,
        promptTokens: [1, 2],
        actionTokens: [3, 4],
        logprobs: [-1, -1],
        reward: { correct },
        valid: true,
        truncated: false,
      },
    ],
    reward: { correct },
    success: correct > 2,
  };
}

/** A step's groups: `prompts` tasks, 6 random 6-letter answers over "abcd" each. */
function groupsOf(rng: Rng, step: number, prompts = 16): Rollout[][] {
  return Array.from({ length: prompts }, (_, g) => {
    const prompt = `say many a ${step}-${g}`;
    return Array.from({ length: 6 }, (_, i) =>
      answer(`${step}-${g}/${i}`, prompt, Array.from({ length: 6 }, () => 'abcd'[rng.int(0, 3)]).join('')),
    );
  });
}

describe('the noisy-reward setting in miniature (30% of preferences flipped)', () => {
  it("UPO's filter keeps a larger share of correctly ordered pairs than random selection of as many pairs", () => {
    const rng = Rng.seeded(2409);
    const estimator = new PairEstimator({ buckets: 128, hidden: 32, dropout: 0.1, learningRate: 3e-3, rng: rng.split('init') });
    const truth = (r: Rollout) => r.reward.correct as number;
    let kept = 0;
    let keptCorrect = 0;
    let randomCorrect = 0;
    for (let step = 1; step <= 30; step++) {
      const groups = groupsOf(rng.split(`groups/${step}`), step);
      // The noisy reward model: on 30% of the groups its ranking is reversed, so the group's pair is flipped.
      const flipped = new Set(groups.map((_, g) => g).filter(() => rng.next() < 0.3));
      const noisy = (r: Rollout) => (flipped.has(groups.findIndex((g) => g.includes(r))) ? -truth(r) : truth(r));
      const done = uncertaintyPairs(estimator, groups, noisy, truth, SELECTION, rng.split(`upo/${step}`));
      if (step <= 10) continue; // the estimator's first steps: it learns from the trusted labels
      const count = done.metrics['upo.kept'] as number;
      kept += count;
      keptCorrect += count * (done.metrics['upo.keptCorrect'] ?? 0);
      // Random selection of as many of the same step's candidate pairs (the reward model's order).
      const candidates = candidatePairs(
        groups.map((g) => g.map(noisy)),
        rng.split(`upo/${step}`).split('candidates'),
      );
      const draw = rng
        .split(`random/${step}`)
        .shuffle(candidates.map((_, i) => i))
        .slice(0, count);
      for (const i of draw) {
        const c = candidates[i] as { group: number; chosen: number; rejected: number };
        const g = groups[c.group] as Rollout[];
        if (truth(g[c.chosen] as Rollout) > truth(g[c.rejected] as Rollout)) randomCorrect += 1;
      }
    }
    expect(kept).toBeGreaterThan(50);
    const upoShare = keptCorrect / kept;
    const randomShare = randomCorrect / kept;
    expect(randomShare).toBeGreaterThan(0.55);
    expect(randomShare).toBeLessThan(0.85);
    expect(upoShare).toBeGreaterThan(randomShare + 0.1);
  });

  it('charges T passes per candidate pair and two epochs of the labelled pairs', () => {
    const rng = Rng.seeded(5);
    const estimator = new PairEstimator({ buckets: 128, hidden: 8, dropout: 0.1, learningRate: 3e-3, rng: rng.split('init') });
    const groups = groupsOf(rng.split('groups'), 1, 4);
    const truth = (r: Rollout) => r.reward.correct as number;
    const done = uncertaintyPairs(estimator, groups, truth, truth, SELECTION, rng.split('upo'));
    const candidates = candidatePairs(
      groups.map((g) => g.map(truth)),
      rng.split('upo').split('candidates'),
    );
    const perPass = candidates.reduce((n, c) => {
      const g = groups[c.group] as Rollout[];
      const chosen = g[c.chosen] as Rollout;
      const rejected = g[c.rejected] as Rollout;
      return (
        n +
        pairCharacters({
          context: chosen.turns[0]?.observation ?? '',
          first: chosen.turns[0]?.action ?? '',
          second: rejected.turns[0]?.action ?? '',
        })
      );
    }, 0);
    expect(done.scoredCharacters).toBe(10 * perPass);
    const labelled = labelledPairs(
      groups,
      groups.map((g) => g.map(truth)),
    );
    expect(done.trainedCharacters).toBe(2 * labelled.reduce((n, e) => n + pairCharacters(e.pair), 0));
    expect(estimator.trainedExamples).toBe(labelled.length);
  });

  it('an untrained estimator filters nothing; sampleRate of the agreed candidates is kept', () => {
    const estimator = new PairEstimator({ buckets: 16, hidden: 4, dropout: 0.5, learningRate: 1e-3, rng: Rng.seeded(1) });
    const texts = Array.from({ length: 12 }, (_, i) => ({ context: `p${i}`, first: 'aab', second: 'bbc' }));
    const done = selectReliable(estimator, texts, SELECTION, Rng.seeded(2), () => {});
    expect(done.report.agreed).toBe(12);
    expect(done.kept).toHaveLength(3);
    for (const r of done.reliability) expect(r >= 0 && r <= 1).toBe(true);
  });
});

describe('upo-rounds', () => {
  it('resets the reference once at each of the R - 1 inner round boundaries (fast-check over rounds and run lengths)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 5, max: 40 }), async (rounds, steps) => {
        const hook = upoRounds({ rounds });
        let resets = 0;
        const ctx = (progress: number): HookContext =>
          ({
            step: 0,
            progress,
            resetReference: async () => {
              resets += 1;
            },
          }) as unknown as HookContext;
        for (let s = 0; s < steps; s++) {
          await hook.onStepStart?.(ctx(s / steps));
          await hook.onStepEnd?.(ctx((s + 1) / steps));
        }
        // Every step advances the budget by at most a round's share, so each inner boundary k / R is crossed once.
        expect(resets).toBe(rounds - 1);
        expect(roundOf(1, rounds)).toBe(rounds - 1);
      }),
    );
  });
});
