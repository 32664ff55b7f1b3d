import { Rng } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crossPolicyGap, judgeObservation, judgeTaskId, type PolicyJudgeTask, policyJudge, scoreJudge } from './policy-judge.js';
import { AUDIENCES, FORMATS, type Item, type Rule, rulesKey, TOPICS, verdict } from './rules.js';

const knifeAd: Item = { topic: 'weapons', format: 'ad', audience: 'adults' };

describe('policy-judge rules', () => {
  it('gives one item different verdicts under different policies (the label reads the policy)', () => {
    expect(verdict([{ kind: 'topic', topic: 'weapons' }], knifeAd)).toBe('unsafe');
    expect(verdict([{ kind: 'audience', topic: 'weapons', audience: 'kids' }], knifeAd)).toBe('safe');
    expect(verdict([{ kind: 'format', topic: 'weapons', format: 'ad' }], knifeAd)).toBe('unsafe');
    expect(verdict([{ kind: 'topic', topic: 'alcohol' }], knifeAd)).toBe('safe');
  });

  it('a rule set forbids exactly the union of what its rules forbid', () => {
    const rule = fc.oneof(
      fc.record({ kind: fc.constant('topic' as const), topic: fc.constantFrom(...TOPICS) }),
      fc.record({ kind: fc.constant('format' as const), topic: fc.constantFrom(...TOPICS), format: fc.constantFrom(...FORMATS) }),
      fc.record({
        kind: fc.constant('audience' as const),
        topic: fc.constantFrom(...TOPICS),
        audience: fc.constantFrom(...AUDIENCES),
      }),
    );
    const item = fc.record({
      topic: fc.constantFrom(...TOPICS),
      format: fc.constantFrom(...FORMATS),
      audience: fc.constantFrom(...AUDIENCES),
    });
    fc.assert(
      fc.property(fc.array(rule, { maxLength: 4 }), item, (rules: Rule[], x: Item) => {
        const unsafe = rules.filter((r) => verdict([r], x) === 'unsafe').length > 0;
        expect(verdict(rules, x)).toBe(unsafe ? 'unsafe' : 'safe');
        expect(rulesKey([...rules].reverse())).toBe(rulesKey(rules));
      }),
      { numRuns: 200, seed: 5 },
    );
  });
});

describe('policy-judge', () => {
  const env = policyJudge();

  it('holds rule sets out: no test rule set occurs in the training pool, and the splits share no task', () => {
    const train = env.tasks('train', { seed: 1, count: 5000 });
    const test = env.tasks('test', { seed: 0 });
    expect(test).toHaveLength(500);
    const trainRules = new Set(train.map((t) => rulesKey(t.rules)));
    for (const task of test) {
      expect(task.heldOut).toBe(true);
      expect(trainRules.has(rulesKey(task.rules))).toBe(false);
    }
    expect(train.every((t) => !t.heldOut)).toBe(true);
    expect(env.tasks('train', { seed: 1, count: 5000 })).toEqual(train);
  });

  it('balances verdicts and keeps them correct', () => {
    const test = env.tasks('test', { seed: 0 });
    const unsafe = test.filter((t) => t.answer === 'unsafe').length / test.length;
    expect(unsafe).toBeGreaterThan(0.4);
    expect(unsafe).toBeLessThan(0.6);
    for (const task of test) expect(verdict(task.rules, task.item)).toBe(task.answer);
  });

  it('the expert succeeds on every test task; a random policy mostly fails', () => {
    const rng = Rng.seeded(3);
    const alphabet = Array.from(env.alphabet?.() ?? '');
    let random = 0;
    for (const task of env.tasks('test', { seed: 0 })) {
      const expert = env.start(task, rng);
      expert.step((env.demonstrate?.(task) ?? [])[0] as string);
      expect(expert.outcome().success).toBe(true);
      const other = env.start(task, rng);
      other.step(Array.from({ length: rng.int(1, 12) }, () => rng.pick(alphabet)).join(''));
      if (other.outcome().success) random++;
    }
    expect(random / 500).toBeLessThan(0.05);
  });

  it('scores correct and format independently', () => {
    const task: PolicyJudgeTask = {
      rules: [{ kind: 'topic', topic: 'weapons' }],
      item: knifeAd,
      answer: 'unsafe',
      heldOut: false,
    };
    expect(scoreJudge(task, 'unsafe')).toEqual({ correct: 1, format: 1 });
    expect(scoreJudge(task, ' Unsafe ')).toEqual({ correct: 1, format: 1 });
    expect(scoreJudge(task, 'safe')).toEqual({ correct: 0, format: 1 });
    expect(scoreJudge(task, 'unsafe because')).toEqual({ correct: 0, format: 0 });
    expect(judgeObservation(task)).toBe('policy: no weapons. item: weapons ad for adults. verdict?');
  });

  it("fits its recommended context and shows only its alphabet's characters", () => {
    const big = policyJudge({ maxRules: 3 });
    const allowed = new Set(big.alphabet?.() ?? '');
    for (const task of big.tasks('test', { seed: 0 })) {
      const text = judgeObservation(task);
      expect(text.length + 8).toBeLessThanOrEqual(big.recommended?.contextLength as number);
      for (const ch of text) expect(allowed.has(ch)).toBe(true);
    }
  });

  it("evalRules 'mixed' alternates held-out and training rule sets, none of its tasks in the training pool", () => {
    const mixed = policyJudge({ evalRules: 'mixed' });
    const test = mixed.tasks('test', { seed: 0, count: 300 });
    expect(test.filter((t) => t.heldOut)).toHaveLength(150);
    const train = new Set(mixed.tasks('train', { seed: 1, count: 20_000 }).map(judgeTaskId));
    for (const task of test) expect(train.has(judgeTaskId(task))).toBe(false);
    // the same training pool whatever the evaluation option, so paired runs train identically
    expect(mixed.tasks('train', { seed: 1, count: 100 })).toEqual(env.tasks('train', { seed: 1, count: 100 }));
  });

  it('computes the cross-policy gap (closed form) and refuses a split without both kinds', () => {
    const mixed = policyJudge({ evalRules: 'mixed' }).tasks('test', { seed: 0, count: 4 });
    // held-out tasks at even indices succeed 1/4 and 3/4 of the time; seen ones always
    expect(crossPolicyGap(mixed, [0.25, 1, 0.75, 1])).toEqual({
      heldOut: 0.5,
      seen: 1,
      gap: -0.5,
      heldOutTasks: 2,
      seenTasks: 2,
    });
    expect(() => crossPolicyGap(env.tasks('test', { seed: 0, count: 2 }), [1, 1])).toThrow(/evalRules=mixed/);
  });

  it('refuses a bad option naming the accepted values', () => {
    expect(() => policyJudge({ maxRules: 4 })).toThrow(/'maxRules' must be 1, 2 or 3, got 4/);
    expect(() => policyJudge({ evalRules: 'all' as never })).toThrow(/held-out, mixed/);
  });
});
