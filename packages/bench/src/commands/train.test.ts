import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli, schemaErrors } from '../test-support/run-cli.js';

const tiny = fileURLToPath(new URL('../../../trainer/src/test-support/tiny.ts', import.meta.url));
const base = ['--plugin', tiny, '--set', 'evalTasks=4', '--set', 'sftSteps=2', '--set', 'tasksPerStep=4', '--set', 'groupSize=6'];

describe('bench train', () => {
  it('trains and prints JSON valid against the train schema', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'bench-train-'));
    const result = await runCli(
      ['train', 'reinforce-mean', '--env', 'echo', '--seed', '2', '--budget', 'episodes=48', '--out', out, '--json', ...base],
      { cwd: out },
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.stdout);
    expect(schemaErrors('train', doc)).toEqual([]);
    expect(doc).toMatchObject({ kind: 'train', method: 'reinforce-mean', env: 'echo', seed: 2, backend: 'wasm', steps: 2 });
    expect(doc.budget.consumed.episodes).toBe(48);
  });

  it.each([
    [['train', 'reinforce-mean', '--env', 'echo', '--seed', 'abc'], /bad --seed 'abc': expected a non-negative integer/],
    [['train', 'reinforce-mean', '--env', 'echo', '--budget', 'episodes=-3'], /bad budget value '-3' for episodes/],
    [['train', 'reinforce-men', '--env', 'echo'], /unknown method 'reinforce-men': did you mean reinforce-mean/],
    [['train', 'reinforce-mean', '--env', 'nowhere'], /unknown environment 'nowhere'/],
    [['train', 'reinforce-mean', '--env', 'echo', '--resume'], /--resume needs --out/],
  ])('exits 2 with one line for bad input %#', async (argv, message) => {
    const result = await runCli([...argv, ...base]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('trains a preference objective offline on --data file.jsonl, and names a malformed line', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bench-pref-'));
    const data = path.join(dir, 'prefs.jsonl');
    writeFileSync(
      data,
      ['{"prompt":"say a:","chosen":"a","rejected":"b"}', '{"prompt":"say b:","chosen":"b","rejected":"a"}'].join('\n'),
    );
    const result = await runCli(
      ['train', 'dpo-online', '--env', 'echo', '--budget', 'episodes=48', '--data', data, '--json', ...base],
      { cwd: dir },
    );
    expect(result.stderr).toBe('');
    const doc = JSON.parse(result.stdout);
    expect(schemaErrors('train', doc)).toEqual([]);
    expect(doc.budget.consumed).toMatchObject({ episodes: 48, generatedTokens: 0 });
    writeFileSync(data, '{"prompt":"say a:","chosen":"a","rejected":"b"}\n{"prompt":"say a:","chosen":"a"}\n');
    const bad = await runCli(['train', 'dpo-online', '--env', 'echo', '--data', data, ...base], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/prefs\.jsonl:2: missing field 'rejected'/);
    const missing = await runCli(['train', 'dpo-online', '--env', 'echo', '--data', path.join(dir, 'nope.jsonl'), ...base]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--data .*nope\.jsonl: cannot read \(ENOENT\)/);
  });

  it('refuses an unwritable --out', async () => {
    const parent = mkdtempSync(path.join(tmpdir(), 'bench-ro-'));
    const locked = path.join(parent, 'locked');
    mkdirSync(locked);
    chmodSync(locked, 0o500);
    const result = await runCli([
      'train',
      'reinforce-mean',
      '--env',
      'echo',
      '--budget',
      'episodes=24',
      '--out',
      path.join(locked, 'run'),
      '--sft',
      'none',
      ...base,
    ]);
    // root ignores permission bits; then the run is allowed and must succeed instead
    if (process.getuid?.() === 0) expect(result.code).toBe(0);
    else {
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/not writable/);
    }
  });
});
