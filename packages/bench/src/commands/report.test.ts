import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { planComparison } from '../compare/plan.js';
import { fakeComparison, registry } from '../test-support/fake-comparison.js';
import { runCli } from '../test-support/run-cli.js';

async function comparison(): Promise<string> {
  const config = planComparison(registry, {
    methods: ['grpo', 'gdpo'],
    seeds: '3',
    overrides: {},
    backend: 'wasm',
    kernels: 'fast',
  });
  return (await fakeComparison(config)).out;
}

describe('bench report', () => {
  it('refuses a bad --reps with exit 2 and one line, leaving results.json as it was', async () => {
    const out = await comparison();
    const before = readFileSync(path.join(out, 'results.json'), 'utf8');
    for (const reps of ['x', '50', '1e3', '']) {
      const result = await runCli(['report', out, '--reps', reps]);
      expect(result.code).toBe(2);
      expect(result.stderr).toBe(`bench: bad --reps '${reps}': expected an integer >= 100\n`);
    }
    expect(readFileSync(path.join(out, 'results.json'), 'utf8')).toBe(before);
  });

  it('re-renders the reports and never rewrites results.json, which it did not make', async () => {
    const out = await comparison();
    const before = readFileSync(path.join(out, 'results.json'), 'utf8');
    const result = await runCli(['report', out, '--reps', '300']);
    expect(result.code).toBe(0);
    expect(readFileSync(path.join(out, 'results.json'), 'utf8')).toBe(before);
    expect(readFileSync(path.join(out, 'report.md'), 'utf8')).toMatch(/IQM over seeds with 300-sample/);
    expect(result.stdout).toMatch(/grpo vs gdpo: .*Holm over 3 pairs/);
  });
});
