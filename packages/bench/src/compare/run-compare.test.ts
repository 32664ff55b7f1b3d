import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareOptions, fakeRunner, registry } from '../test-support/fake-comparison.js';
import { schemaErrors } from '../test-support/run-cli.js';
import { planComparison } from './plan.js';
import { runComparison } from './run-compare.js';

const plan = () =>
  planComparison(registry, { methods: ['grpo', 'mc-grpo', 'gdpo'], seeds: '3', overrides: {}, backend: 'wasm', kernels: 'fast' });
const options = compareOptions;

describe('runComparison', () => {
  it('adds the GRPO+1 control with MC-GRPO, writes every output, and results.json matches its schema', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'cmp-'));
    const calls: string[] = [];
    const doc = await runComparison(plan(), { ...options(out), runUnits: fakeRunner(calls) });
    expect(doc.config.controls).toEqual(['grpo-plus-one']);
    expect(calls).toHaveLength(4 * 3);
    expect(schemaErrors('compare', JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')))).toEqual([]);
    const methods = doc.aggregates.envs[0]?.methods.map((m) => m.method);
    expect(methods).toEqual(['sft-start', 'grpo', 'mc-grpo', 'gdpo', 'grpo-plus-one']);
    const markdown = readFileSync(path.join(out, 'report.md'), 'utf8');
    expect(markdown).toMatch(/no difference detected|higher/);
    expect(markdown).toMatch(/## Methods\n\n- \*\*grpo\*\*: estimator `e`, loss `ppo-clip`/);
    const html = readFileSync(path.join(out, 'report.html'), 'utf8');
    expect(html).toMatch(/<svg/);
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
    expect(readFileSync(path.join(out, 'results.csv'), 'utf8').split('\n')[0]).toMatch(/^id,method,env,seed,point/);
  });

  it('resumes a killed comparison without rerunning finished units, with identical results', async () => {
    const whole = await runComparison(plan(), { ...options(mkdtempSync(path.join(tmpdir(), 'cmp-'))), runUnits: fakeRunner([]) });
    const out = mkdtempSync(path.join(tmpdir(), 'cmp-'));
    const first: string[] = [];
    await expect(runComparison(plan(), { ...options(out), runUnits: fakeRunner(first, 5) })).rejects.toThrow('simulated kill');
    const second: string[] = [];
    const resumed = await runComparison(plan(), { ...options(out, { resume: true }), runUnits: fakeRunner(second) });
    expect(second).toHaveLength(12 - 5);
    expect(second.some((id) => first.includes(id))).toBe(false);
    expect(resumed.runs).toEqual(whole.runs);
    expect(resumed.aggregates).toEqual(whole.aggregates);
  });

  it('refuses an --out that holds a different comparison unless --force, and a non-empty foreign folder', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'cmp-'));
    await runComparison(plan(), { ...options(out), runUnits: fakeRunner([]) });
    const other = planComparison(registry, { methods: ['grpo'], seeds: '2', overrides: {}, backend: 'wasm', kernels: 'fast' });
    await expect(runComparison(other, { ...options(out), runUnits: fakeRunner([]) })).rejects.toThrow(
      /holds a different comparison/,
    );
    await expect(runComparison(plan(), { ...options(out), runUnits: fakeRunner([]) })).rejects.toThrow(
      /pass --resume to continue it or --force/,
    );
    await expect(runComparison(other, { ...options(out, { force: true }), runUnits: fakeRunner([]) })).resolves.toBeDefined();
    const foreign = mkdtempSync(path.join(tmpdir(), 'cmp-'));
    writeFileSync(path.join(foreign, 'notes.txt'), 'mine');
    await expect(runComparison(plan(), { ...options(foreign), runUnits: fakeRunner([]) })).rejects.toThrow(
      /not empty and holds no comparison/,
    );
  });

  it('validates its input: unknown names, --seeds 0, bad budgets and presets', () => {
    const input = { overrides: {}, backend: 'wasm', kernels: 'fast' };
    expect(() => planComparison(registry, { ...input, methods: ['grpoo'] })).toThrow(/unknown method 'grpoo': did you mean grpo/);
    expect(() => planComparison(registry, { ...input, methods: ['grpo'], envs: 'countdwn' })).toThrow(
      /unknown environment 'countdwn': did you mean countdown/,
    );
    expect(() => planComparison(registry, { ...input, methods: ['grpo'], seeds: '0' })).toThrow(/bad --seeds '0'/);
    expect(() => planComparison(registry, { ...input, methods: ['grpo'], budget: 'minutes=3' })).toThrow(
      /bad budget unit 'minutes'/,
    );
    expect(() => planComparison(registry, { ...input, methods: ['grpo'], preset: 'huge' })).toThrow(
      /unknown --preset 'huge': accepted quick, standard, paper/,
    );
  });
});
