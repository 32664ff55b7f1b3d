import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, schemaErrors } from '../test-support/run-cli.js';

const json = async (argv: string[]) => {
  const result = await runCli([...argv, '--json']);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  const doc = JSON.parse(result.stdout);
  expect(schemaErrors('metric', doc)).toEqual([]);
  return doc;
};

describe('bench metric', () => {
  it('answers the sentence BLEU vectors (sacreBLEU 2.x values) with counts, totals and BP', async () => {
    const args = ['metric', 'bleu', '--hyp', 'the cat sat on the mat', '--ref', 'the cat is on the mat'];
    const doc = await json(args);
    expect(doc).toMatchObject({
      kind: 'metric',
      metric: 'bleu',
      level: 'sentence',
      counts: [5, 3, 1, 0],
      totals: [6, 5, 4, 3],
      bp: 1,
    });
    expect(doc.score).toBeCloseTo(37.9918, 4);
    expect((await json([...args, '--smooth', 'floor'])).score).toBeCloseTo(25.4066, 4);
    expect((await json([...args, '--smooth', 'add-k'])).score).toBeCloseTo(48.5492, 4);
    expect((await json([...args, '--smooth', 'none'])).score).toBe(0);
    const short = ['metric', 'bleu', '--hyp', 'the cat', '--ref', 'the cat sat'];
    expect((await json(short)).score).toBeCloseTo(60.6531, 4);
    expect((await json([...short, '--effective-order', 'false'])).score).toBe(0);
  });

  it('answers chrF and chrF++', async () => {
    expect((await json(['metric', 'chrf', '--hyp', 'abc', '--ref', 'abd'])).score).toBeCloseTo(38.8889, 4);
    expect((await json(['metric', 'chrf', '--hyp', 'abc', '--ref', 'abd', '--word-order', '2'])).score).toBeCloseTo(29.1667, 4);
  });

  it('scores a corpus from files, one segment per line, with several reference streams', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'metric-'));
    const file = (name: string, text: string) => {
      writeFileSync(path.join(dir, name), text);
      return path.join(dir, name);
    };
    const hyp = file('hyp.txt', 'a\nb\n');
    const ref = file('ref.txt', 'a\nc\n');
    const chrf = await json(['metric', 'chrf', '--hyp-file', hyp, '--ref-file', ref, '--beta', '3']);
    expect(chrf).toMatchObject({ level: 'corpus' });
    expect(chrf.score).toBeCloseTo(50, 10); // sacreBLEU's corpus test
    const bleu = await json(['metric', 'bleu', '--hyp-file', hyp, '--ref-file', ref, '--ref-file', file('ref2.txt', 'x\nb\n')]);
    expect(bleu.counts[0]).toBe(2);
    const short = file('short.txt', 'a\n');
    const bad = await runCli(['metric', 'bleu', '--hyp-file', hyp, '--ref-file', short]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/short\.txt has 1 lines but --hyp-file .*hyp\.txt has 2/);
  });

  it.each([
    [['bleu', '--hyp', 'a'], /--hyp needs at least one --ref/],
    [['bleu', '--ref', 'a'], /give --hyp with --ref/],
    [['bleu', '--hyp', 'a', '--ref', 'a', '--smooth', 'loud'], /loud/],
    [['bleu', '--hyp', 'a', '--ref', 'a', '--effective-order', 'yes'], /bad --effective-order 'yes': expected true or false/],
    [['chrf', '--hyp', 'a', '--ref', 'a', '--beta', '-1'], /bad --beta '-1'/],
    [
      ['bleu', '--hyp-file', '/nonexistent/h.txt', '--ref-file', 'r.txt'],
      /--hyp-file \/nonexistent\/h\.txt: cannot read \(ENOENT\)/,
    ],
  ])('exits 2 naming the bad input %#', async (argv, message) => {
    const result = await runCli(['metric', ...(argv as string[])]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message as RegExp);
  });
});
