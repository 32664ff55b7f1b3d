import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, schemaErrors } from '../test-support/run-cli.js';

function runFolder(result: unknown): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-gap-'));
  writeFileSync(path.join(dir, 'result.json'), JSON.stringify(result));
  return dir;
}

const mixed = { evalRules: 'mixed' };

describe('bench cross-policy-gap', () => {
  it('held-out minus seen success over the alternating test tasks (closed form)', async () => {
    // even test tasks use held-out rule sets, odd ones training rule sets
    const dir = runFolder({
      env: 'policy-judge',
      config: { evalTasks: 4, envOptions: mixed },
      initial: { perTask: [0.5, 0.5, 0.5, 0.5] },
      final: { perTask: [0.25, 1, 0.75, 0.5] },
    });
    const result = await runCli(['cross-policy-gap', dir, '--json']);
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.stdout);
    expect(schemaErrors('cross-policy-gap', doc)).toEqual([]);
    expect(doc.initial.gap).toBe(0);
    expect(doc.final).toEqual({ heldOut: 0.5, seen: 0.75, gap: -0.25, heldOutTasks: 2, seenTasks: 2 });
  });

  it.each([
    [{ env: 'countdown', config: { envOptions: mixed } }, /environment 'countdown'; accepted: policy-judge/],
    [{ env: 'policy-judge', config: { envOptions: {} }, final: { perTask: [1] } }, /evalRules 'held-out'; accepted: mixed/],
    [
      { env: 'policy-judge', config: { envOptions: mixed }, initial: { perTask: [1, 1] }, final: { perTask: 'x' } },
      /final.perTask is not a list/,
    ],
  ])('exits 2 naming what is wrong with the run %#', async (result, message) => {
    const out = await runCli(['cross-policy-gap', runFolder(result)]);
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(message);
  });

  it('exits 2 on a missing run', async () => {
    const out = await runCli(['cross-policy-gap', '/nonexistent/run']);
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(
      /bad run '\/nonexistent\/run': cannot read \/nonexistent\/run \(ENOENT\); give a run folder or its result.json/,
    );
  });
});
