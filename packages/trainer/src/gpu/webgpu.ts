/**
 * The one place that starts WebGPU under Node: Dawn's bindings from the optional `webgpu`
 * package, installed as `navigator.gpu` BEFORE tfjs's webgpu backend is imported (the
 * backend checks for WebGPU support at import time).
 */
import { UsageError } from '@policy-lab/core';
import type * as tf from '@tensorflow/tfjs-core';

export interface WebgpuOptions {
  /** Dawn toggles, e.g. ['backend=vulkan', 'adapter=llvmpipe'] (passed to `create`). */
  dawnFlags?: readonly string[];
  /** Refuse a software (fallback) adapter such as Mesa's lavapipe. */
  requireHardware?: boolean;
}

/** What every run records about the device it used. */
export interface WebgpuAdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
}

export interface WebgpuHandle {
  adapter: WebgpuAdapterInfo;
  /** Disposes the backend and removes `navigator.gpu` so the process can exit. */
  release(): void;
}

const SETUP_HINT =
  'on a machine without a GPU, run packages/trainer/scripts/setup-lavapipe.sh (a CPU Vulkan driver); on a GPU machine install the Vulkan driver (NVIDIA: NVIDIA_DRIVER_CAPABILITIES must include graphics). See docs/backends.md';

function isSoftware(info: WebgpuAdapterInfo): boolean {
  return info.isFallbackAdapter || info.architecture === 'software' || /llvmpipe|lavapipe|swiftshader/i.test(info.description);
}

export async function initWebgpu(tfjs: typeof tf, options: WebgpuOptions = {}): Promise<WebgpuHandle> {
  let dawn: { create(flags: string[]): unknown; globals: Record<string, unknown> };
  try {
    dawn = (await import('webgpu')) as unknown as typeof dawn;
  } catch (error) {
    throw new UsageError(
      `backend 'webgpu' needs the optional package 'webgpu' (Dawn's Node bindings): npm install webgpu@0.6.2 (${(error as Error).message.split('\n')[0]})`,
    );
  }
  // lavapipe warns on every start when this is unset; a private folder keeps stderr clean.
  if (!process.env.XDG_RUNTIME_DIR) {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    process.env.XDG_RUNTIME_DIR = mkdtempSync(`${tmpdir()}/policy-lab-xdg-`);
  }
  Object.assign(globalThis, dawn.globals);
  const gpu = dawn.create([...(options.dawnFlags ?? [])]) as {
    requestAdapter(o: object): Promise<{ info: Record<string, unknown>; isFallbackAdapter?: boolean } | null>;
  };
  (globalThis as { navigator?: { gpu?: unknown } }).navigator ??= {};
  (globalThis as unknown as { navigator: { gpu?: unknown } }).navigator.gpu = gpu;

  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    delete (globalThis as unknown as { navigator: { gpu?: unknown } }).navigator.gpu;
    throw new UsageError(`backend 'webgpu': no WebGPU adapter found (no usable Vulkan driver); ${SETUP_HINT}`);
  }
  const raw = adapter.info;
  const info: WebgpuAdapterInfo = {
    vendor: String(raw.vendor ?? ''),
    architecture: String(raw.architecture ?? ''),
    device: String(raw.device ?? ''),
    description: String(raw.description ?? ''),
    isFallbackAdapter: Boolean(adapter.isFallbackAdapter ?? raw.isFallbackAdapter ?? false),
  };
  if (options.requireHardware && isSoftware(info)) {
    delete (globalThis as unknown as { navigator: { gpu?: unknown } }).navigator.gpu;
    throw new UsageError(
      `backend 'webgpu': the adapter is a software renderer (${info.vendor} ${info.description}) and --require-hardware-gpu was given; check the GPU's Vulkan driver (vulkaninfo) and docs/backends.md`,
    );
  }
  await import('@tensorflow/tfjs-backend-webgpu');
  const ok = await tfjs.setBackend('webgpu');
  if (!ok)
    throw new UsageError(`backend 'webgpu': tfjs could not start on adapter ${info.vendor} ${info.description}; ${SETUP_HINT}`);
  await tfjs.ready();
  // Dawn's pending GPU work does not keep Node's event loop alive: without this timer a
  // process awaiting a readback can exit half-way. release() (or process.exit) ends it.
  const keepAlive = setInterval(() => {}, 1 << 30);
  return {
    adapter: info,
    release() {
      clearInterval(keepAlive);
      tfjs.removeBackend('webgpu');
      delete (globalThis as unknown as { navigator: { gpu?: unknown } }).navigator.gpu;
    },
  };
}
