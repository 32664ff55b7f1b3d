/**
 * The comparison report's credit-map section: its lines and strips from runs[].creditMap (fixtures),
 * then a real tiny comparison of a DPO method and GRPO through the built CLI and its worker pool,
 * read back from results.json, report.md and report.html.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { CreditedAnswer } from '@policy-lab/trainer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RunCreditMap } from '../diagnostics/credit-map.js';
import { schemaErrors } from '../test-support/run-cli.js';
import type { RunRecord } from './aggregate.js';
import { concentration, creditMapHtml, creditMapMarkdown, creditMapsOf } from './credit-map-section.js';

const answer = (tokens: string[], credits: number[], role: CreditedAnswer['role']): CreditedAnswer => {
  const sum = credits.reduce((a, b) => a + b, 0);
  return {
    task: 't1',
    role,
    observation: 'o',
    tokens,
    credits,
    creditSum: sum,
    implicitReward: sum,
    reward: role === 'chosen' ? 1 : 0,
  };
};

const computed = (answers: CreditedAnswer[]): RunCreditMap => ({
  status: 'computed',
  seconds: 0.5,
  beta: 0.1,
  step: 4,
  method: 'dpo',
  env: 'echo',
  answers,
  maxSumError: 0,
  chosenReward: 0,
  rejectedReward: 0,
  tasksTried: 2,
  cost: { episodes: 8, generatedTokens: 12, scoredTokens: 40 },
});

const run = (method: string, seed: number, creditMap?: RunCreditMap) =>
  ({ id: `${method}__echo__s${seed}`, method, env: 'echo', seed, ...(creditMap ? { creditMap } : {}) }) as unknown as RunRecord;

const ABSENT: RunCreditMap = { status: 'absent', reason: 'grpo trains against no reference policy' };

describe('the credit-map section (fixtures)', () => {
  it('says where the credit sits: the top token holds its share of |credit| at its relative position', () => {
    const where = concentration(answer(['a', 'b', ''], [0.1, -0.3, 0], 'chosen'));
    expect(where).toMatchObject({ position: 0.5, token: 'b' });
    expect(where?.share).toBeCloseTo(0.75, 12);
    expect(concentration(answer(['a'], [0], 'chosen'))).toBeUndefined();
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 1, maxLength: 12 }), (credits) => {
        const where = concentration(
          answer(
            credits.map(() => 'x'),
            credits,
            'chosen',
          ),
        );
        // fast-check fails a property that returns false, so the all-zero case asserts and returns nothing.
        if (credits.every((c) => c === 0)) {
          expect(where).toBeUndefined();
          return;
        }
        expect(where?.share).toBeGreaterThanOrEqual(1 / credits.length - 1e-12);
        expect(where?.share).toBeLessThanOrEqual(1 + 1e-12);
        expect(where?.position).toBeGreaterThanOrEqual(0);
        expect(where?.position).toBeLessThanOrEqual(1);
      }),
    );
  });

  it('a method with maps gets a line and a strip of every seed; one without gets one line with its reason and no plot', () => {
    const runs = [
      run('dpo', 1, computed([answer(['a', ''], [0.2, 0.01], 'chosen'), answer(['b', ''], [-0.4, 0], 'rejected')])),
      run('dpo', 2, computed([answer(['a'], [0.1], 'chosen'), answer(['b'], [-0.1], 'rejected')])),
      run('grpo', 1, ABSENT),
      run('grpo', 2, ABSENT),
    ];
    const maps = creditMapsOf('echo', runs);
    expect(maps.map((m) => [m.method, m.strips.length])).toEqual([
      ['dpo', 4],
      ['grpo', 0],
    ]);
    expect(maps[0]?.line).toMatch(/^dpo: 2 runs, 4 answers, beta 0.1; .*chosen \+0\.1550, rejected -0\.2500/);
    expect(maps[0]?.line).toMatch(
      /holds 99% of an answer's total \|credit\| on average, at relative position 0\.00 .*most often "a" \(2\), "b" \(2\)/,
    );
    expect(maps[0]?.line).toMatch(/side cost 16 sampled episodes, 24 generated tokens, 80 tokens scored .*, 1\.0 s/);
    expect(maps[1]?.line).toBe('grpo: no credit map: grpo trains against no reference policy.');
    const markdown = creditMapMarkdown('echo', runs).join('\n');
    expect(markdown).toMatch(/^### Credit map/);
    expect(markdown).toContain('- grpo: no credit map: grpo trains against no reference policy.');
    const html = creditMapHtml('echo', runs);
    expect(html.match(/<svg/g)).toHaveLength(1);
    expect(html.match(/<rect /g)).toHaveLength(6);
    expect(html).toContain('seed 2: t1 rejected (0.00)');
  });

  it('leaves the section out for results of versions that did not map credit', () => {
    expect(creditMapMarkdown('echo', [run('dpo', 1)])).toEqual([]);
    expect(creditMapHtml('echo', [run('dpo', 1)])).toBe('');
  });
});

const bin = fileURLToPath(new URL('../../bin/bench.js', import.meta.url));
const tiny = fileURLToPath(new URL('../../../trainer/src/test-support/tiny.ts', import.meta.url));

describe('the credit-map section of a real tiny comparison (built CLI)', () => {
  it('maps the DPO run, whose token credits sum to the implicit reward each strip shows, and says why GRPO has none', async () => {
    expect(existsSync(bin)).toBe(true);
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'bench-credit-map-')), 'out');
    const sets = ['evalTasks=4', 'sftSteps=2', 'tasksPerStep=4', 'groupSize=6', 'learningRate=0.03'].flatMap((s) => ['--set', s]);
    const argv = ['compare', 'dpo-online', 'grpo', '--env', 'echo', '--seeds', '1', '--budget', 'episodes=48', '--workers', '2'];
    await promisify(execFile)(process.execPath, [bin, ...argv, '--out', out, '--reps', '200', '--plugin', tiny, ...sets], {
      cwd: path.dirname(out),
      timeout: 120_000,
    });
    const doc = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')) as { runs: RunRecord[] };
    expect(schemaErrors('compare', doc)).toEqual([]);
    const dpo = doc.runs.find((r) => r.method === 'dpo-online')?.creditMap;
    const grpo = doc.runs.find((r) => r.method === 'grpo')?.creditMap;
    expect(grpo).toEqual({ status: 'absent', reason: expect.stringMatching(/^grpo trains against no reference policy/) });
    if (dpo?.status !== 'computed') throw new Error(`the DPO run has no credit map: ${JSON.stringify(dpo)}`);
    expect(dpo.answers.length).toBeGreaterThanOrEqual(2);
    expect(dpo.cost.episodes).toBe(4 * dpo.tasksTried);
    expect(dpo.cost.scoredTokens).toBeGreaterThan(0);
    // The diagnostic is a side cost: the run's budget is what it trained on.
    expect(doc.runs.find((r) => r.method === 'dpo-online')?.budget.consumed.episodes).toBe(48);
    const html = readFileSync(path.join(out, 'report.html'), 'utf8');
    const shown = [...html.matchAll(/sum (-?\d+\.\d+) = r (-?\d+\.\d+)/g)].map((m) => Number(m[2]));
    expect(shown).toHaveLength(dpo.answers.length);
    dpo.answers.forEach((a, i) => {
      const sum = a.credits.reduce((x, y) => x + y, 0);
      expect(Math.abs(sum - a.implicitReward)).toBeLessThan(1e-4);
      expect(Math.abs(sum - (shown[i] as number))).toBeLessThan(1e-4 + 5e-5);
    });
    const markdown = readFileSync(path.join(out, 'report.md'), 'utf8');
    expect(markdown).toMatch(/### Credit map/);
    expect(markdown).toMatch(/^- dpo-online: 1 run, \d+ answers, beta 0\.1; each answer's credits sum to its implicit reward/m);
    expect(markdown).toMatch(/^- grpo: no credit map: grpo trains against no reference policy/m);
    // One strip (the DPO run's), none for GRPO: its line stands alone.
    const section = html.slice(html.indexOf('Credit map'));
    expect(section.match(/<div class="credit-map"><svg/g)).toHaveLength(1);
    expect(section).toMatch(/<p>grpo: no credit map: [^<]*<\/p>(?!<div class="credit-map")/);
  }, 180_000);
});
