import { describe, expect, it } from 'vitest';
import { backendInfo, initBackend } from './select-backend.js';

describe('backend choice', () => {
  it('refuses unknown names and kernels, naming the accepted ones', async () => {
    await expect(initBackend({ name: 'cuda' })).rejects.toThrow("unknown backend 'cuda': accepted wasm, cpu, tensorflow, webgpu");
    await expect(initBackend({ name: 'wasm', kernels: 'turbo' })).rejects.toThrow(
      "unknown kernels 'turbo': accepted fast, stock",
    );
  });

  it('says what to install when the native backend is missing', async () => {
    await expect(initBackend({ name: 'tensorflow' })).rejects.toThrow(
      /needs @tensorflow\/tfjs-node or @tensorflow\/tfjs-node-gpu .*npm install @tensorflow\/tfjs-node@4\.22\.0/,
    );
    expect(backendInfo()).toBeUndefined();
  });

  it('starts wasm with the fast kernels and reports its thread use, then refuses to switch backend', async () => {
    const info = await initBackend({ name: 'wasm', kernels: 'fast', threads: 2 });
    expect(info).toMatchObject({ name: 'wasm', kernels: 'fast', threads: 2, tfjsVersion: '4.22.0' });
    expect(backendInfo()).toEqual(info);
    await expect(initBackend({ name: 'cpu' })).rejects.toThrow(/already started as wasm/);
    // switching kernels inside the process is allowed (bench speed --kernels both)
    expect(await initBackend({ name: 'wasm', kernels: 'stock', threads: 2 })).toMatchObject({ kernels: 'stock', threads: 1 });
  });
});
