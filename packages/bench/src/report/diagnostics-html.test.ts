import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { planComparison } from '../compare/plan.js';
import { writeReports } from '../compare/run-compare.js';
import { certify } from '../diagnostics/certificate.js';
import { fakeComparison, registry } from '../test-support/fake-comparison.js';
import {
  certifyPoints,
  clipBiasSection,
  meanOverSeeds,
  readStepSeries,
  renderCertifyHtml,
  renderPolicyCliffHtml,
  type StepSeries,
  writeDiagnosticReport,
} from './diagnostics-html.js';

function certifyDocument(rate: number, radii: number[]) {
  // 190 successes in 200 iid episodes
  const values = Array.from({ length: 200 }, (_, k) => (k < 190 ? 1 : 0));
  const certificates = radii.map((radius) => ({
    radius,
    ...certify(values, { rate, radius, confidence: 0.99, bound: 'clopper-pearson' }),
  }));
  return {
    policy: 'expert',
    env: 'policy-judge',
    rate,
    bound: 'clopper-pearson',
    confidence: 0.99,
    episodes: 200,
    certificates,
    certifiedRadius: { threshold: 0.5, radius: 4 },
    attacked: radii.map((radius) => ({ radius, success: 0.95 })),
  };
}

describe('diagnostic reports', () => {
  it('plots the certificate: certified = lower bound - (1 - rate^radius) at every radius (closed form)', async () => {
    const doc = certifyDocument(0.9, [0, 1, 2, 4]);
    const points = certifyPoints(doc);
    const lower = doc.certificates[0]?.cleanLower as number;
    const certified = points.filter((p) => p.series.startsWith('certified'));
    expect(certified.map((p) => p.radius)).toEqual([0, 1, 2, 4]);
    for (const p of certified) expect(p.success).toBeCloseTo(lower - (1 - 0.9 ** p.radius), 12);
    expect(points.filter((p) => p.series.startsWith('smoothed')).every((p) => p.success === 0.95)).toBe(true);
    expect(points.filter((p) => p.series.startsWith('attacked'))).toHaveLength(4);
    const html = await renderCertifyHtml(doc);
    expect(html).toMatch(/^<!doctype html>/);
    expect((html.match(/<svg/g) ?? []).length).toBe(1);
    expect(html).toContain('radius 4: smoothed success 95.0%, certified &gt;= ');
  });

  it('writes results.json as the --json document and a report.html beside it', async () => {
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'diag-report-')), 'nested');
    const doc = certifyDocument(0.8, [0, 1]);
    await writeDiagnosticReport(out, 'certify', doc, renderCertifyHtml);
    expect(JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8'))).toEqual({
      schemaVersion: 1,
      kind: 'certify',
      ...doc,
    });
    expect(readFileSync(path.join(out, 'report.html'), 'utf8')).toContain('<svg');
  });

  it('plots the Policy Cliff distances per entropy coefficient, bars and seeds', async () => {
    const pair = (seed: number, entropyCoef: number, styleShift: number) => ({
      seed,
      entropyCoef,
      successShift: 0,
      taskDistance: styleShift / 2,
      styleShift,
    });
    const html = await renderPolicyCliffHtml({
      method: 'grpo',
      env: 'countdown',
      perturbation: 'tie',
      epsilon: 0.01,
      pairs: [pair(1, 0, 0.1), pair(2, 0, 0.3), pair(1, 0.01, 0.02), pair(2, 0.01, 0.04)],
      summaries: [
        { entropyCoef: 0, pairs: 2, successShift: 0, taskDistance: 0.1, styleShift: 0.2 },
        { entropyCoef: 0.01, pairs: 2, successShift: 0, taskDistance: 0.015, styleShift: 0.03 },
      ],
    });
    expect((html.match(/<svg/g) ?? []).length).toBe(1);
    expect(html).toContain('entropy 0 (2 pairs): styleShift 0.200, taskDistance 0.100');
    // three facets, each with one bar per entropy setting
    expect((html.match(/aria-roledescription="bar"/g) ?? []).length).toBe(6);
  });

  it('reads per-step clipping metrics from the run folders and averages them over seeds', () => {
    const out = mkdtempSync(path.join(tmpdir(), 'diag-steps-'));
    const lines = (values: number[]) =>
      `${values.map((v, k) => JSON.stringify({ step: k + 1, clipEntropyBias: v, clipCorrectionShare: v / 10, loss: 1 })).join('\n')}\n{"step": 3, "clip`;
    for (const [id, values] of [
      ['a', [0.1, 0.2]],
      ['b', [0.3, 0.4]],
    ] as const) {
      mkdirSync(path.join(out, 'runs', id), { recursive: true });
      writeFileSync(path.join(out, 'runs', id, 'metrics.jsonl'), lines([...values]));
    }
    const series = readStepSeries(out, [
      { id: 'a', method: 'grpo', env: 'countdown', seed: 1 },
      { id: 'b', method: 'grpo', env: 'countdown', seed: 2 },
      { id: 'missing', method: 'grpo', env: 'countdown', seed: 3 },
    ]);
    expect(series).toHaveLength(2);
    expect(series[0]?.points).toHaveLength(4);
    const means = meanOverSeeds(series);
    const at = (metric: string, step: number) => means.find((m) => m.metric === metric && m.step === step)?.value;
    expect(at('clipEntropyBias', 1)).toBeCloseTo(0.2, 12);
    expect(at('clipEntropyBias', 2)).toBeCloseTo(0.3, 12);
    expect(at('clipCorrectionShare', 2)).toBeCloseTo(0.03, 12);
  });

  it('draws the clip bias over steps per method, says so when it is 0 throughout, and adds nothing without data', async () => {
    const run = (method: string, values: number[]): StepSeries => ({
      method,
      env: 'countdown',
      seed: 1,
      points: values.flatMap((value, k) => [
        { step: k + 1, metric: 'clipEntropyBias', value },
        { step: k + 1, metric: 'clipCorrectionShare', value: Math.abs(value) },
      ]),
    });
    const plot = await clipBiasSection('countdown', [run('grpo', [0.01, -0.02]), run('dapo', [0.03, 0])]);
    expect(plot).toMatch(/^<svg/);
    expect(plot).toContain('clipEntropyBias');
    expect(plot).toContain('dapo');
    expect(await clipBiasSection('countdown', [run('grpo', [0, 0])])).toMatch(/is 0 at every step of every run/);
    expect(await clipBiasSection('gridnav', [run('grpo', [0.01])])).toBe('');
  });

  it("adds the clip-bias plot to a comparison's report.html only when its runs logged the metrics", async () => {
    const { out, document } = await fakeComparison(
      planComparison(registry, { methods: ['grpo', 'gdpo'], seeds: '2', overrides: {}, backend: 'wasm', kernels: 'fast' }),
    );
    const before = readFileSync(path.join(out, 'report.html'), 'utf8');
    expect(before).not.toContain('clipping bias');
    for (const run of document.runs) {
      const rows = [1, 2, 3].map((step) =>
        JSON.stringify({ step, clipEntropyBias: 0.01 * step * run.seed, clipCorrectionShare: 0.1 }),
      );
      writeFileSync(path.join(out, 'runs', run.id, 'metrics.jsonl'), `${rows.join('\n')}\n`);
    }
    await writeReports(out, document);
    const after = readFileSync(path.join(out, 'report.html'), 'utf8');
    expect(after).toContain('countdown: clipping bias per step');
    expect((after.match(/<svg/g) ?? []).length).toBe((before.match(/<svg/g) ?? []).length + 1);
    // the rest of the page is unchanged
    expect(after.replace(/<svg[\s\S]*?<\/svg>/g, '')).toBe(before.replace(/<svg[\s\S]*?<\/svg>/g, ''));
  });
});
