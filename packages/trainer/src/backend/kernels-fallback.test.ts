import { afterEach, describe, expect, it, vi } from 'vitest';

// The compiled kernel file cannot be read (as after a failed `npm install` build): the
// backend must warn once, fall back to the stock kernels, say why, and train normally.
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const readFileSync = ((file: unknown, ...rest: unknown[]) => {
    if (String(file).match(/kernels(-shared)?\.wasm$/))
      throw new Error(`ENOENT: no such file or directory, open '${String(file)}'`);
    return (fs.readFileSync as (...a: unknown[]) => unknown)(file, ...rest);
  }) as typeof fs.readFileSync;
  return { ...fs, default: { ...fs, readFileSync }, readFileSync };
});

describe('fast kernels that cannot start', () => {
  afterEach(() => vi.restoreAllMocks());

  it('fall back to the stock kernels with one warning line, recorded in the backend info and the run result', async () => {
    const { initBackend } = await import('./select-backend.js');
    const warnings: string[] = [];
    const info = await initBackend({ name: 'wasm', kernels: 'fast', threads: 2, warn: (line) => warnings.push(line) });
    expect(info.kernels).toBe('stock');
    expect(info.threads).toBe(1);
    expect(info.fallback).toMatch(/^fast kernels unavailable \(ENOENT: .*kernels(-shared)?\.wasm'\); using stock kernels$/);
    expect(warnings).toEqual([`warning: ${info.fallback}`]);

    const { train } = await import('../loop/train.js');
    const { Registry } = await import('@policy-lab/core');
    const { plugin: trainerPlugin } = await import('../plugin.js');
    const { TINY, plugin: tinyPlugin } = await import('../test-support/tiny.js');
    const registry = new Registry();
    registry.register(trainerPlugin, '@policy-lab/trainer');
    registry.register(tinyPlugin, 'test');
    const result = await train({
      registry,
      method: 'reinforce-mean',
      env: 'echo',
      seed: 1,
      budget: { episodes: 24 },
      overrides: TINY,
      sft: 'none',
    });
    expect(result.kernelsFallback).toBe(info.fallback);
    expect(result.timings.kernels).toBe(0);
    expect(Number.isFinite(result.final.success)).toBe(true);
  });
});
