/**
 * Chooses and starts the tensor backend once per process, and says what it started, so
 * every run records it. wasm is the embedded default (no native install); cpu is pure JS;
 * tensorflow (tfjs-node / tfjs-node-gpu) and webgpu load only when installed.
 */
import { UsageError } from '@policy-lab/core';
import * as tf from '@tensorflow/tfjs-core';
import { initWebgpu, type WebgpuAdapterInfo } from '../gpu/webgpu.js';
import { type FastKernelStatus, installFastKernels, restoreStockKernels } from '../kernels/fast-kernels.js';
import { prepareThreadedWasm } from '../kernels/threaded-wasm.js';
import { registerGradients } from './gradients.js';

export const BACKENDS = ['wasm', 'cpu', 'tensorflow', 'webgpu'] as const;
export type BackendName = (typeof BACKENDS)[number];
export const KERNELS = ['fast', 'stock'] as const;
export type KernelChoice = (typeof KERNELS)[number];

export interface BackendOptions {
  name?: string;
  /** wasm only: 'fast' (default) registers our kernels; 'stock' keeps tfjs's. */
  kernels?: string;
  /** wasm + fast: threads per process (2 = threaded build + matmul helper thread). Default 2. */
  threads?: number;
  /** webgpu: refuse a software adapter. */
  requireHardwareGpu?: boolean;
  dawnFlags?: string[];
  /** Called with one line when something falls back (e.g. fast kernels could not start). */
  warn?(line: string): void;
}

export interface BackendInfo {
  name: BackendName;
  tfjsVersion: string;
  kernels: KernelChoice;
  /** Threads one training process uses (the worker pool divides the cores by this). */
  threads: number;
  /** Why the fast kernels are not in use, when asked for and not in use. */
  fallback?: string;
  adapter?: WebgpuAdapterInfo;
}

let started: { key: string; info: BackendInfo } | undefined;

function checkChoice<T extends string>(what: string, value: string, accepted: readonly T[]): T {
  if (!(accepted as readonly string[]).includes(value)) {
    throw new UsageError(`unknown ${what} '${value}': accepted ${accepted.join(', ')}`);
  }
  return value as T;
}

export async function initBackend(options: BackendOptions = {}): Promise<BackendInfo> {
  const name = checkChoice('backend', options.name ?? 'wasm', BACKENDS);
  const kernels = checkChoice('kernels', options.kernels ?? 'fast', KERNELS);
  const threads = options.threads ?? 2;
  const key = JSON.stringify({ name, kernels, threads });
  await registerGradients();
  if (started) {
    if (started.key === key) return started.info;
    if (started.info.name === 'wasm' && name === 'wasm') {
      // Switching kernels inside one process (benchmarks measure both side by side).
      let threadsNow = 1;
      if (kernels === 'stock') restoreStockKernels(tf);
      else threadsNow = installFastKernels(tf, { threads }).threads;
      started = { key, info: { ...started.info, kernels, threads: threadsNow } };
      return started.info;
    }
    throw new UsageError(`backend already started as ${started.info.name} in this process; cannot switch to ${name}`);
  }
  let info: BackendInfo;
  if (name === 'wasm') info = await startWasm(kernels, threads, options.warn);
  else if (name === 'cpu') {
    await import('@tensorflow/tfjs-backend-cpu');
    await setOrFail('cpu');
    info = { name, tfjsVersion: tf.version_core, kernels: 'stock', threads: 1 };
  } else if (name === 'tensorflow') {
    await loadNative();
    await setOrFail('tensorflow');
    info = { name, tfjsVersion: tf.version_core, kernels: 'stock', threads: 1 };
  } else {
    const gpu = await initWebgpu(tf, { requireHardware: options.requireHardwareGpu, dawnFlags: options.dawnFlags });
    info = { name, tfjsVersion: tf.version_core, kernels: 'stock', threads: 1, adapter: gpu.adapter };
  }
  started = { key, info };
  return info;
}

async function setOrFail(name: string): Promise<void> {
  if (!(await tf.setBackend(name))) throw new UsageError(`backend '${name}' could not start`);
  await tf.ready();
}

async function loadNative(): Promise<void> {
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      await import(pkg);
      return;
    } catch {
      // try the next one
    }
  }
  throw new UsageError(
    "backend 'tensorflow' needs @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu (version 4.22.0), which are not installed: npm install @tensorflow/tfjs-node@4.22.0 (its install downloads libtensorflow; tfjs-node-gpu needs CUDA 11.2 and cuDNN 8.1, see docs/backends.md)",
  );
}

async function startWasm(kernels: KernelChoice, threads: number, warn?: (line: string) => void): Promise<BackendInfo> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  let fallback: string | undefined;
  if (threads >= 2) {
    // The threaded build lets our matmul kernel split work with a helper thread.
    const shim = prepareThreadedWasm(1);
    try {
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
      wasm.setThreadsCount(1);
      await setOrFail('wasm');
    } catch (error) {
      fallback = `threaded wasm build did not start (${(error as Error).message}); using one thread`;
    } finally {
      shim.restoreGlobals();
      process.once('exit', () => shim.cleanup());
    }
  }
  if (tf.getBackend() !== 'wasm') {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    await setOrFail('wasm');
  }
  let status: FastKernelStatus | undefined;
  if (kernels === 'fast') {
    status = installFastKernels(tf, { threads });
    if (status.kernels !== 'fast') fallback = `fast kernels unavailable (${status.reason}); using stock kernels`;
    else if (status.reason) fallback ??= status.reason;
  }
  if (fallback) warn?.(`warning: ${fallback}`);
  return {
    name: 'wasm',
    tfjsVersion: tf.version_core,
    kernels: status?.kernels === 'fast' ? 'fast' : 'stock',
    threads: status?.kernels === 'fast' ? status.threads : 1,
    ...(fallback ? { fallback } : {}),
  };
}

/** The active backend's info (after initBackend). */
export function backendInfo(): BackendInfo | undefined {
  return started?.info;
}
