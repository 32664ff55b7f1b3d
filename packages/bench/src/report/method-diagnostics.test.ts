/**
 * The per-step diagnostics of the methods' own mechanisms (OPPO's preference context, VA-pi's
 * ELBO terms): read from the runs' metrics.jsonl into results.json `stepDiagnostics` and drawn
 * in report.html, for the methods that log them.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { planComparison } from '../compare/plan.js';
import { runComparison } from '../compare/run-compare.js';
import { compareOptions, fakeRunner, registry } from '../test-support/fake-comparison.js';
import { schemaErrors } from '../test-support/run-cli.js';
import { methodDiagnosticsSection, methodStepDiagnostics, type StepDiagnostic } from './diagnostics-html.js';

const oppoRow = (step: number, preferred: number, rejected: number, accuracy: number) => ({
  step,
  rewardMean: 0.5,
  contextToPreferred: preferred,
  contextToRejected: rejected,
  contextPreferenceAccuracy: accuracy,
});
const vaPiRow = (step: number, reward: number, match: number, ce: number) => ({
  step,
  rewardMean: reward,
  referenceTokenMatch: match,
  referenceCrossEntropy: ce,
});

function writeRun(out: string, id: string, rows: readonly object[]): void {
  mkdirSync(path.join(out, 'runs', id), { recursive: true });
  writeFileSync(path.join(out, 'runs', id, 'metrics.jsonl'), `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
}

describe('method diagnostics per step', () => {
  it('averages each group over seeds, only for the methods that log its marker (hand-computed means)', () => {
    const out = mkdtempSync(path.join(tmpdir(), 'method-diag-'));
    writeRun(out, 'o1', [oppoRow(1, 2, 1, 0), oppoRow(2, 1, 2, 1)]);
    writeRun(out, 'o2', [oppoRow(1, 4, 1, 0.5), oppoRow(2, 3, 3, 0.5)]);
    writeRun(out, 'v1', [vaPiRow(1, 0.2, 0.25, 3), vaPiRow(2, 0.4, 0.5, 2)]);
    writeRun(out, 'g1', [{ step: 1, rewardMean: 0.9 }]);
    const found = methodStepDiagnostics(out, [
      { id: 'o1', method: 'oppo-context', env: 'countdown', seed: 1 },
      { id: 'o2', method: 'oppo-context', env: 'countdown', seed: 2 },
      { id: 'v1', method: 'va-pi-tf-grpo', env: 'countdown', seed: 1 },
      { id: 'g1', method: 'grpo', env: 'countdown', seed: 1 },
    ]);
    const at = (method: string, metric: string, step: number) =>
      found.filter((d) => d.method === method && d.metric === metric && d.step === step).map((d) => d.value);
    expect(at('oppo-context', 'contextToPreferred', 1)).toEqual([3]);
    expect(at('oppo-context', 'contextToRejected', 2)).toEqual([2.5]);
    expect(at('oppo-context', 'contextPreferenceAccuracy', 1)).toEqual([0.25]);
    expect(at('va-pi-tf-grpo', 'referenceCrossEntropy', 2)).toEqual([2]);
    expect(at('va-pi-tf-grpo', 'rewardMean', 1)).toEqual([0.2]);
    // GRPO logs neither marker; OPPO's reward is not an ELBO term.
    expect(found.filter((d) => d.method === 'grpo')).toEqual([]);
    expect(at('oppo-context', 'rewardMean', 1)).toEqual([]);
    expect(found).toHaveLength(2 * 3 + 2 * 3);
  });

  it('draws one plot per group logged on the environment, and nothing elsewhere', async () => {
    const points = (method: string, metrics: string[]): StepDiagnostic[] =>
      [1, 2].flatMap((step) => metrics.map((metric) => ({ env: 'countdown', method, metric, step, value: step / 10 })));
    const both = [
      ...points('oppo-context', ['contextToPreferred', 'contextToRejected', 'contextPreferenceAccuracy']),
      ...points('va-pi-tf-grpo', ['rewardMean', 'referenceTokenMatch', 'referenceCrossEntropy']),
    ];
    const html = await methodDiagnosticsSection('countdown', both);
    expect((html.match(/<svg/g) ?? []).length).toBe(2);
    expect(html).toContain('optimal context z*');
    expect(html).toContain('ELBO terms');
    const oppoOnly = await methodDiagnosticsSection('countdown', both.slice(0, 6));
    expect((oppoOnly.match(/<svg/g) ?? []).length).toBe(1);
    expect(await methodDiagnosticsSection('gridnav', both)).toBe('');
  });

  it("FlowBoost's elite buffer: the four ratios averaged over seeds (hand-computed) and drawn in one plot", async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'method-diag-flowboost-'));
    const row = (step: number, policy: number, elite: number) => ({
      step,
      'taskSource.policyRatio': policy,
      'taskSource.refinedRatio': 1,
      'taskSource.eliteRatio': elite,
      'taskSource.eliteOptimal': elite === 1 ? 1 : 0.5,
    });
    writeRun(out, 'f1', [row(1, 0.8, 0.9), row(2, 0.9, 1)]);
    writeRun(out, 'f2', [row(1, 0.6, 0.95), row(2, 0.7, 1)]);
    const found = methodStepDiagnostics(out, [
      { id: 'f1', method: 'flowboost', env: 'grid-packing', seed: 1 },
      { id: 'f2', method: 'flowboost', env: 'grid-packing', seed: 2 },
    ]);
    const at = (metric: string, step: number) => found.find((d) => d.metric === metric && d.step === step)?.value;
    expect(at('taskSource.policyRatio', 1)).toBeCloseTo(0.7, 12);
    expect(at('taskSource.eliteRatio', 1)).toBeCloseTo(0.925, 12);
    expect(at('taskSource.eliteOptimal', 2)).toBe(1);
    expect(found).toHaveLength(2 * 4);
    const html = await methodDiagnosticsSection('grid-packing', found);
    expect((html.match(/<svg/g) ?? []).length).toBe(1);
    expect(html).toContain('elite buffer');
  });

  it('a comparison writes them to results.json (valid against its schema) and plots them in report.html', async () => {
    const config = planComparison(registry, {
      methods: ['grpo', 'gdpo'],
      seeds: '2',
      overrides: {},
      backend: 'wasm',
      kernels: 'fast',
    });
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'method-diag-compare-')), 'out');
    const stand = fakeRunner([]);
    // gdpo stands in for a method that logs VA-pi's ELBO terms.
    const document = await runComparison(
      config,
      compareOptions(out, {
        runUnits: async (requests, events) => {
          for (const request of requests)
            if (request.unit.method === 'gdpo')
              writeRun(
                out,
                request.unit.id,
                [1, 2, 3].map((step) => vaPiRow(step, 0.1 * step, 0.2, 3 - step / 2)),
              );
          await stand(requests, events);
        },
      }),
    );
    const saved = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8'));
    expect(schemaErrors('compare', saved)).toEqual([]);
    expect(saved.stepDiagnostics).toHaveLength(3 * 3);
    expect(saved.stepDiagnostics).toContainEqual({
      env: 'countdown',
      method: 'gdpo',
      metric: 'referenceCrossEntropy',
      step: 3,
      value: 1.5,
    });
    expect(document.stepDiagnostics).toEqual(saved.stepDiagnostics);
    expect(readFileSync(path.join(out, 'report.html'), 'utf8')).toContain("countdown: VA-pi's ELBO terms");
  });
});
