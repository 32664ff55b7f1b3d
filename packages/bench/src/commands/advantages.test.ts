import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, schemaErrors } from '../test-support/run-cli.js';

const json = async (argv: string[]) => {
  const result = await runCli([...argv, '--json']);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  const doc = JSON.parse(result.stdout);
  expect(schemaErrors('advantages', doc)).toEqual([]);
  return doc;
};

describe('bench advantages', () => {
  it('computes GRPO on scalar rewards', async () => {
    const doc = await json(['advantages', 'grpo', '--groups', '[[1,0,0,1]]']);
    expect(doc).toMatchObject({ kind: 'advantages', estimator: 'grpo', options: { std: 'sample', eps: 1e-4 } });
    doc.advantages[0].forEach((a: number, i: number) =>
      expect(a).toBeCloseTo([0.8659, -0.8659, -0.8659, 0.8659][i] as number, 4),
    );
    expect(doc.trained).toEqual([[true, true, true, true]]);
  });

  it("passes --set options to the estimator and reports MC-GRPO's excluded pivot", async () => {
    const doc = await json(['advantages', 'mc-grpo', '--groups', '[[1,0,0]]', '--set', 'scale=none']);
    expect(doc.options.scale).toBe('none');
    expect(doc.advantages).toEqual([[1, 0, 0]]);
    expect(doc.trained).toEqual([[true, true, false]]); // pivot: position 1 of the stable sort (0@1, 0@2, 1@0) = index 2
  });

  it('weights reward vectors with --set weights.<component>', async () => {
    const groups = '[[{"a":1,"b":0},{"a":0,"b":1}]]';
    const even = await json(['advantages', 'grpo', '--groups', groups, '--set', 'eps=0']);
    expect(even.advantages).toEqual([[0, 0]]); // equal sums collapse to one advantage (GDPO's argument)
    const weighted = await json(['advantages', 'grpo', '--groups', groups, '--set', 'eps=0', '--set', 'weights.a=2']);
    expect(weighted.advantages[0][0]).toBeGreaterThan(0);
  });

  it.each([
    [['--groups', '[[1,0'], /--groups is not valid JSON/],
    [['--groups', '[1,0]'], /--groups\[0\] must be an array of rewards/],
    [['--groups', '[[1,"x"]]'], /--groups\[0\]\[1\] must be a number or an object/],
    [['--groups', '[[{"a":1},{"a":"no"}]]'], /--groups\[0\]\[1\]\.a must be a finite number/],
    [['--groups', '[[1]]'], /group 0 has 1 rollout/],
    [['--groups', '[[1,0]]', '--set', 'weights.zz=2'], /no reward component 'zz'/],
    [['--groups', '[[1,0]]', '--set', 'stdd=1'], /unknown option 'stdd'/],
  ])('exits 2 naming the position for bad input %#', async (extra, message) => {
    const result = await runCli(['advantages', 'grpo', ...(extra as string[])]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message as RegExp);
  });

  describe('--rollouts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'advantages-'));
    const file = (name: string, data: unknown) => {
      const path = join(dir, name);
      writeFileSync(path, typeof data === 'string' ? data : JSON.stringify(data));
      return path;
    };
    const turn = (action: string, stateKey: string) => ({ action, stateKey, reward: { r: 0 } });
    const flat = [
      { id: 'a', groupId: 'q', reward: { r: 1 }, turns: [turn('0', 's0'), turn('1', 's1')] },
      { id: 'b', groupId: 'q', reward: { r: 0 }, turns: [turn('2', 's0')] },
      { id: 'c', groupId: 'p', reward: { r: 3 }, turns: [turn('0', 's0')] },
      { id: 'd', groupId: 'p', reward: { r: 1 }, turns: [turn('0', 's0'), turn('0', 's2'), turn('1', 's3')] },
    ];

    it('groups a flat list by groupId and broadcasts rollout advantages to every turn', async () => {
      const doc = await json(['advantages', 'dr-grpo', '--rollouts', file('flat.json', flat)]);
      expect(doc.advantages).toEqual([
        [0.5, -0.5],
        [1, -1],
      ]);
      expect(doc.turnAdvantages).toEqual([
        [[0.5, 0.5], [-0.5]],
        [[1], [-1, -1, -1]],
      ]);
    });

    it('gives the same advantages as --groups for the same rewards', async () => {
      const nested = [flat.slice(0, 2), flat.slice(2)];
      const fromFile = await json(['advantages', 'grpo', '--rollouts', file('nested.json', nested)]);
      const fromGroups = await json(['advantages', 'grpo', '--groups', '[[{"r":1},{"r":0}],[{"r":3},{"r":1}]]']);
      expect(fromFile.advantages).toEqual(fromGroups.advantages);
    });

    it.each([
      ['bad.json', '[{', /bad\.json is not valid JSON/],
      ['empty.json', [], /non-empty array/],
      ['turn.json', [{ groupId: 'q', reward: { r: 1 }, turns: [{ action: 3 }] }], /\[0\]\.turns\[0\]\.action must be a string/],
      ['reward.json', [{ groupId: 'q', reward: { r: 'x' } }], /\[0\]\.reward\.r must be a finite number/],
      ['values.json', [{ groupId: 'q', reward: { r: 1 }, turns: [], values: [1] }], /\[0\]\.values has 1 entries for 0 turns/],
      [
        'twice.json',
        [
          { id: 'x', reward: { r: 1 } },
          { id: 'x', reward: { r: 0 } },
        ],
        /rollout id 'x' appears twice/,
      ],
    ])('exits 2 naming the position in %s', async (name, data, message) => {
      const result = await runCli(['advantages', 'grpo', '--rollouts', file(name, data)]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(message as RegExp);
    });

    it('takes exactly one of --groups and --rollouts', async () => {
      const both = await runCli(['advantages', 'grpo', '--groups', '[[1,0]]', '--rollouts', file('f.json', flat)]);
      expect(both.code).toBe(2);
      expect(both.stderr).toMatch(/exactly one of --groups/);
      expect((await runCli(['advantages', 'grpo'])).code).toBe(2);
    });
  });

  describe('numbers float64 cannot carry through the estimator', () => {
    const fails = async (argv: string[], line: string) => {
      const result = await runCli(['advantages', ...argv]);
      expect(result.stdout).toBe('');
      expect(result.stderr).toBe(`bench: ${line}\n`);
      expect(result.code).toBe(2);
    };

    it('refuses rewards near 1e308 (they overflowed to 0 advantages with exit 0), naming the value', async () => {
      await fails(
        ['grpo', '--groups', '[[1e308,-1e308,0]]'],
        '--groups[0][0] = 1e+308 is too large: |reward| must be at most 1e+150 (squares for the standard deviation must stay finite)',
      );
      await fails(
        ['gdpo', '--groups', '[[{"a":1,"b":-3e200},{"a":0,"b":1}]]'],
        '--groups[0][0].b = -3e+200 is too large: |reward| must be at most 1e+150 (squares for the standard deviation must stay finite)',
      );
    });

    it('refuses a GDPO weight of 1e999 (it gave NaN) and a weight that makes a weighted reward overflow', async () => {
      const groups = '[[{"a":1,"b":0},{"a":0,"b":1}]]';
      await fails(
        ['gdpo', '--groups', groups, '--set', 'weights.a=1e999'],
        '--set weights.a must be a finite number, got Infinity',
      );
      await fails(
        ['grpo', '--groups', '[[{"a":1e100},{"a":0}]]', '--set', 'weights.a=1e60'],
        '--set weights.a = 1e+60 makes the weighted reward of --groups[0][0] 1e+160: it must be at most 1e+150 in size',
      );
    });

    it('refuses deeply nested --groups JSON with one line (it died with a stack overflow)', async () => {
      const deep = `${'['.repeat(20000)}${']'.repeat(20000)}`;
      await fails(['grpo', '--groups', deep], '--groups[0][0] must be a number or an object of named rewards, got an array');
    });
  });
});
