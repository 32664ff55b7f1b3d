import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import type { TrainResult } from '@policy-lab/trainer';
import { describe, expect, it } from 'vitest';
import { compareOptions, fakeResult, fakeRunner, registry } from '../test-support/fake-comparison.js';
import { runCli, schemaErrors } from '../test-support/run-cli.js';
import { planComparison } from './plan.js';
import type { UnitRequest } from './pool.js';
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

  it('--force starts afresh: the units of the comparison it replaces are deleted, files not ours are kept', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'cmp-'));
    const other = planComparison(registry, {
      methods: ['grpo'],
      seeds: '2',
      overrides: { learningRate: 0.01 },
      backend: 'wasm',
      kernels: 'fast',
    });
    await runComparison(other, { ...options(out), runUnits: fakeRunner([]) });
    // What an earlier, different comparison leaves: unit checkpoints, an SFT cache, a user's notes.
    writeFileSync(path.join(out, 'runs', 'grpo__countdown__s1', 'checkpoint.json'), '{"step":3}');
    mkdirSync(path.join(out, 'sft-cache'));
    writeFileSync(path.join(out, 'sft-cache', 'countdown-x.safetensors'), 'old');
    writeFileSync(path.join(out, 'notes.txt'), 'mine');
    const seen: string[] = [];
    const runner = async (requests: UnitRequest[], events: { onDone(id: string, result: TrainResult): void }) => {
      for (const request of requests) {
        if (existsSync(request.outDir) || existsSync(request.sftCacheDir)) seen.push(request.unit.id);
        events.onDone(request.unit.id, fakeResult(request));
      }
    };
    await runComparison(plan(), { ...options(out, { force: true }), runUnits: runner });
    expect(seen).toEqual([]);
    expect(readFileSync(path.join(out, 'notes.txt'), 'utf8')).toBe('mine');
    expect(existsSync(path.join(out, 'sft-cache'))).toBe(false);
    await expect(
      runComparison(plan(), { ...options(out, { force: true, resume: true }), runUnits: fakeRunner([]) }),
    ).rejects.toThrow(/--force starts afresh and --resume continues: choose one/);
  });

  it('names the file and the field of a corrupt comparison.json or runs/<id>/result.json (exit 2), never a raw TypeError', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'cmp-'));
    await runComparison(plan(), { ...options(out), runUnits: fakeRunner([]) });
    const marker = path.join(out, 'comparison.json');
    const text = readFileSync(marker, 'utf8');
    writeFileSync(marker, text.slice(0, 40));
    const resume = () => runComparison(plan(), { ...options(out, { resume: true }), runUnits: fakeRunner([]) });
    await expect(resume()).rejects.toThrow(new RegExp(`^${marker}: not valid JSON \\(.*\\); pass --force to start afresh$`));
    await expect(resume()).rejects.toMatchObject({ exitCode: 2 });
    writeFileSync(marker, '{"config": {}}');
    await expect(resume()).rejects.toThrow(`${marker}: fingerprint must be a string, got undefined`);
    writeFileSync(marker, text);
    const result = path.join(out, 'runs', 'gdpo__countdown__s2', 'result.json');
    const good = readFileSync(result, 'utf8');
    writeFileSync(result, good.slice(0, 100));
    await expect(resume()).rejects.toThrow(new RegExp(`^${result}: not valid JSON`));
    writeFileSync(result, JSON.stringify({ ...JSON.parse(good), final: null }));
    await expect(resume()).rejects.toThrow(`${result}: final must be an object, got null`);
    writeFileSync(result, JSON.stringify({ ...JSON.parse(good), curve: [{ step: 'x' }] }));
    await expect(resume()).rejects.toThrow(`${result}: curve[0].step must be a finite number, got "x"`);
  });

  it('bench report: a results.json run with "final": null is exit 2 naming the file and the field', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'cmp-'));
    await runComparison(plan(), { ...options(out), runUnits: fakeRunner([]) });
    const file = path.join(out, 'results.json');
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    doc.runs[2].final = null;
    writeFileSync(file, JSON.stringify(doc));
    const result = await runCli(['report', out, '--reps', '200']);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(`bench: ${file}: runs[2].final must be an object, got null`);
  });

  it('holds --out for one coordinator: a second one is refused with the holder named; a dead holder is replaced', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'cmp-'));
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    const owner = { pid: holder.pid, host: hostname(), started: '2026-01-02T03:04:05.000Z', purpose: 'bench compare' };
    writeFileSync(`${out}.lock`, JSON.stringify(owner));
    try {
      await expect(runComparison(plan(), { ...options(out), runUnits: fakeRunner([]) })).rejects.toThrow(
        `--out ${out} is in use by pid ${holder.pid} on host ${hostname()} since 2026-01-02T03:04:05.000Z (bench compare)`,
      );
    } finally {
      holder.kill('SIGKILL');
      await new Promise((resolve) => holder.on('exit', resolve));
    }
    await expect(runComparison(plan(), { ...options(out), runUnits: fakeRunner([]) })).resolves.toBeDefined();
    expect(existsSync(`${out}.lock`)).toBe(false);
  });
});
