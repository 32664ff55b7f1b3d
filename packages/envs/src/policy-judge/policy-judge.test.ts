import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crossPolicyGap, judgeObservation, judgeTaskId, type PolicyJudgeTask, policyJudge, scoreJudge } from './policy-judge.js';
import {
  AUDIENCES,
  FORMATS,
  type Item,
  itemText,
  parseItem,
  parseRule,
  type Rule,
  rulesKey,
  ruleText,
  TOPICS,
  verdict,
} from './rules.js';

/** The verdict the rule engine gives a task's texts. */
const engineVerdict = (task: PolicyJudgeTask) =>
  verdict(
    task.rules.map((r) => parseRule(r) as Rule),
    parseItem(task.item) as Item,
  );

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
        // the texts parse back to the same rules and item
        for (const r of rules) expect(parseRule(ruleText(r))).toEqual(r);
        expect(parseItem(itemText(x))).toEqual(x);
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
    const trainRules = new Set(train.map((t) => t.rules.join('; ')));
    for (const task of test) {
      expect(task.heldOut).toBe(true);
      expect(trainRules.has(task.rules.join('; '))).toBe(false);
    }
    expect(train.every((t) => !t.heldOut)).toBe(true);
    expect(env.tasks('train', { seed: 1, count: 5000 })).toEqual(train);
  });

  it('balances verdicts and keeps them correct', () => {
    const test = env.tasks('test', { seed: 0 });
    const unsafe = test.filter((t) => t.answer === 'unsafe').length / test.length;
    expect(unsafe).toBeGreaterThan(0.4);
    expect(unsafe).toBeLessThan(0.6);
    for (const task of test) expect(engineVerdict(task)).toBe(task.answer);
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
      rules: ['no weapons'],
      item: itemText(knifeAd),
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

/** Records in the built-in rule language: every rule set of 1 or 2 rules over two topics, with four items each. */
function userRecords(): object[] {
  const rules = ['no alcohol', 'no alcohol ad', 'no alcohol for kids', 'no drugs', 'no drugs news', 'no drugs for teens'];
  const sets = [...rules.map((r) => [r]), ...rules.flatMap((a, i) => rules.slice(i + 1).map((b) => [a, b]))];
  const items = ['alcohol ad for kids', 'alcohol news for adults', 'drugs news for teens', 'drugs joke for adults'];
  return sets.flatMap((set, k) => items.map((item) => ({ rules: set, item, ...(k % 2 === 0 ? {} : { verdict: undefined }) })));
}

function dataFile(lines: string[], name = 'judge.jsonl'): string {
  const dir = mkdtempSync(join(tmpdir(), 'policy-judge-'));
  const file = join(dir, name);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

describe('policy-judge --data', () => {
  it('round-trips a small file: every record becomes one task with its verdict, in disjoint seeded splits', () => {
    const records = [
      { rules: ['no spoilers', 'no insults'], item: 'a film review that names the killer', verdict: 'unsafe' },
      ...userRecords()
        .map((r) => JSON.stringify(r))
        .map((line) => JSON.parse(line)),
    ];
    const file = dataFile(records.map((r) => JSON.stringify(r)));
    const env = policyJudge({ data: file });
    const train = env.tasks('train', { seed: 1 });
    const test = env.tasks('test', { seed: 0 });
    const mixed = policyJudge({ data: file, evalRules: 'mixed' }).tasks('test', { seed: 0 });
    // every record is in exactly one pool: training, held-out test, or (under mixed) seen-rule test
    const all = new Set([...train, ...mixed].map(judgeTaskId));
    expect(all.size).toBe(records.length);
    expect(train.length + mixed.length).toBe(records.length);
    const byId = new Map(records.map((r) => [`${[...r.rules].sort().join('; ')} | ${r.item}`, r]));
    for (const task of [...train, ...mixed]) {
      const record = byId.get(judgeTaskId(task)) as { verdict?: string; rules: string[]; item: string };
      expect(task.answer).toBe(record.verdict ?? engineVerdict(task));
    }
    // held-out rule sets never train; the seen-rule tasks of mixed are not training tasks
    const trainSets = new Set(train.map((t) => t.rules.join('; ')));
    for (const task of test) expect(trainSets.has(task.rules.join('; '))).toBe(false);
    expect(test.every((t) => t.heldOut)).toBe(true);
    const trainIds = new Set(train.map(judgeTaskId));
    for (const task of mixed) expect(trainIds.has(judgeTaskId(task))).toBe(false);
    expect(mixed.filter((t) => t.heldOut)).toHaveLength(test.length);
    // seeded: the same seed the same order, another seed another order of the same tasks
    expect(env.tasks('train', { seed: 1 })).toEqual(train);
    const other = env.tasks('train', { seed: 2 });
    expect(other.map(judgeTaskId)).not.toEqual(train.map(judgeTaskId));
    expect(new Set(other.map(judgeTaskId))).toEqual(trainIds);
    // the expert succeeds on every test task; the policy reads only the alphabet's characters
    const allowed = new Set(env.alphabet?.() ?? '');
    for (const task of test) {
      const episode = env.start(task, Rng.seeded(1));
      expect(episode.observation().length + 8).toBeLessThanOrEqual(env.recommended?.contextLength as number);
      for (const ch of episode.observation()) expect(allowed.has(ch)).toBe(true);
      episode.step((env.demonstrate?.(task) ?? [])[0] as string);
      expect(episode.outcome().success).toBe(true);
    }
  });

  it('reads a folder holding policy-judge.jsonl (the form bench train --data <dir> passes on)', () => {
    const file = dataFile(
      userRecords().map((r) => JSON.stringify(r)),
      'policy-judge.jsonl',
    );
    const folder = join(file, '..');
    expect(policyJudge({ data: folder }).tasks('test', { seed: 0 })).toEqual(
      policyJudge({ data: file }).tasks('test', { seed: 0 }),
    );
  });

  it.each([
    ['{"rules": ["no spoilers"], "item": "a review"', /:2: not a JSON object/],
    [
      '{"rules": ["no spoilers"], "item": "a review", "label": "unsafe"}',
      /:2: unknown field 'label'; accepted: rules, item, verdict/,
    ],
    ['{"rules": [], "item": "a review", "verdict": "safe"}', /:2: field 'rules' must be a list of 1 to 8 strings/],
    ['{"rules": ["no a; no b"], "item": "x", "verdict": "safe"}', /:2: field 'rules\[0\]' holds ';'/],
    ['{"rules": ["no spoilers"], "item": "", "verdict": "safe"}', /:2: field 'item' must be a non-empty string/],
    [
      '{"rules": ["no spoilers"], "item": "a review", "verdict": "maybe"}',
      /:2: field 'verdict' is "maybe"; accepted: safe, unsafe/,
    ],
    ['{"rules": ["no spoilers"], "item": "a review"}', /:2: field 'verdict' is missing; accepted: safe, unsafe/],
    [
      '{"rules": ["no alcohol"], "item": "alcohol ad for kids", "verdict": "safe"}',
      /:2: field 'verdict' is 'safe', but the built-in rule engine gives 'unsafe'/,
    ],
    [
      '{"rules": ["no spoilers"], "item": "the killer", "verdict": "unsafe"}',
      /:2: field 'verdict' is 'unsafe', but line 1 gives the same rules and item 'safe'/,
    ],
  ])('names the line and the field of a bad record %#', (bad, message) => {
    const file = dataFile(['{"rules": ["no spoilers"], "item": "the killer", "verdict": "safe"}', bad]);
    expect(() => policyJudge({ data: file })).toThrow(message);
  });

  it('refuses a file that leaves a split empty, and a missing file, naming what is accepted', () => {
    const one = dataFile(['{"rules": ["no alcohol"], "item": "alcohol ad for kids"}']);
    expect(() => policyJudge({ data: one })).toThrow(/1 tasks under 1 rule sets give .* split needs at least one/);
    expect(() => policyJudge({ data: join(tmpdir(), 'no-such-judge.jsonl') })).toThrow(
      /cannot read .*no-such-judge.jsonl \(ENOENT\); --data takes a JSONL file or a folder with policy-judge.jsonl/,
    );
    const empty = mkdtempSync(join(tmpdir(), 'policy-judge-'));
    mkdirSync(join(empty, 'sub'));
    expect(() => policyJudge({ data: join(empty, 'sub') })).toThrow(/sub\/policy-judge.jsonl \(ENOENT\)/);
  });
});
