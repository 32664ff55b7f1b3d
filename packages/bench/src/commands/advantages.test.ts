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
  it('computes GRPO on scalar rewards (methods.md 25.1 G1)', async () => {
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
});
