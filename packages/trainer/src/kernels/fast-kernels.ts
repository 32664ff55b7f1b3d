/**
 * Fast kernels for tfjs's wasm backend (docs/backends.md). Stock wasm runs every transposed or
 * batched matMul through a naive C loop (~1.2 GF/s) and copies memory for Identity and
 * same-dtype Cast. We re-register:
 * - BatchMatMul: an AssemblyScript SIMD kernel (assembly/matmul.ts) that reads and writes
 *   the tfjs heap in place; transposed A is a stride, transposed B is copied once into
 *   scratch. Shapes it does not handle go to the stock kernel.
 * - Identity and same-dtype Cast: share the input's data (tensors are immutable), as the
 *   stock Reshape kernel does.
 * - Sum over leading axes and Exp (fused-kernels.ts), and the fused layer norm and causal
 *   attention kernels that fused-ops.ts uses when they are registered.
 * The AssemblyScript sources compile during `npm install` (the trainer's build step).
 */
import { readFileSync } from 'node:fs';
import type * as tf from '@tensorflow/tfjs-core';
import { fusedKernels, type KernelExports, type Kernels } from './fused-kernels.js';
import { KernelHelper, type MatmulArgs } from './kernel-helper.js';
import type { KernelArgs, KernelFunc, TensorInfo, WasmBackend } from './wasm-types.js';

export interface FastKernelStatus {
  kernels: 'fast' | 'stock';
  /** Threads the matmul kernel uses (2 when the threaded wasm build runs with our helper thread). */
  threads: number;
  /** Why the fast kernels are not in use, when they are not. */
  reason?: string;
  replaced: string[];
}

/** The compiled kernel module (dist/, built from assembly/index.ts during npm install). */
export function kernelsWasmPath(shared = false): string {
  return new URL(`../../dist/${shared ? 'kernels-shared' : 'kernels'}.wasm`, import.meta.url).pathname;
}

/** Below this many multiply-adds (about 4M) a call is not worth splitting: waking the helper costs more (measured on decode). */
const SPLIT_THRESHOLD = 1 << 22;

interface Installed {
  status: FastKernelStatus;
  fast: Record<string, KernelFunc>;
  /** undefined: a kernel of ours that stock tfjs does not have (unregistered on restore). */
  stock: Record<string, KernelFunc | undefined>;
}

const installed = new WeakMap<object, Installed>();

const product = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

/**
 * Registers the fast kernels on the active wasm backend. Never throws: falls back to stock.
 * With `threads: 2` and the threaded wasm build running (see threaded-wasm.ts), matmuls are
 * split with a helper thread.
 */
export function installFastKernels(tfjs: typeof tf, options: { threads?: number } = {}): FastKernelStatus {
  if (tfjs.getBackend() !== 'wasm') {
    return {
      kernels: 'stock',
      threads: 1,
      reason: `fast kernels exist for the wasm backend only (active: ${tfjs.getBackend()})`,
      replaced: [],
    };
  }
  const backend = tfjs.backend() as unknown as WasmBackend;
  const done = installed.get(backend);
  if (done) {
    swapKernels(tfjs, done.fast);
    return done.status;
  }
  let kernels: Kernels;
  let threadNote: string | undefined;
  try {
    const memory = backend.wasm.asm?.memory ?? backend.wasm.wasmMemory;
    if (!memory) throw new Error('the tfjs wasm heap is not reachable (unexpected tfjs-backend-wasm version)');
    const shared = memory.buffer instanceof SharedArrayBuffer;
    const module = new WebAssembly.Module(readFileSync(kernelsWasmPath(shared)));
    kernels = { exports: new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as KernelExports };
    if ((options.threads ?? 1) >= 2) {
      if (!shared) threadNote = 'the wasm heap is not shared (threaded build not running): matmuls use one thread';
      else {
        try {
          kernels.helper = new KernelHelper(memory, module);
        } catch (error) {
          threadNote = `matmul helper thread: ${(error as Error).message}`;
        }
      }
    }
  } catch (error) {
    return { kernels: 'stock', threads: 1, reason: (error as Error).message.split('\n')[0], replaced: [] };
  }
  const stockMatMul = tfjs.getKernel('BatchMatMul', 'wasm')?.kernelFunc as unknown as KernelFunc | undefined;
  const stockCast = tfjs.getKernel('Cast', 'wasm')?.kernelFunc as unknown as KernelFunc | undefined;
  if (!stockMatMul || !stockCast) return { kernels: 'stock', threads: 1, reason: 'stock kernels not found', replaced: [] };

  const batchMatMul: KernelFunc = (args) => fastBatchMatMul(args, kernels) ?? stockMatMul(args);
  const identity: KernelFunc = ({ inputs, backend: b }) => {
    const x = inputs.x as TensorInfo;
    b.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
  const cast: KernelFunc = (args) => {
    const x = args.inputs.x as TensorInfo;
    if (x.dtype !== args.attrs?.dtype) return stockCast(args);
    args.backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
  const stockIdentity = tfjs.getKernel('Identity', 'wasm')?.kernelFunc as unknown as KernelFunc;
  const fast: Record<string, KernelFunc> = { BatchMatMul: batchMatMul, Identity: identity, Cast: cast };
  const stock: Record<string, KernelFunc | undefined> = { BatchMatMul: stockMatMul, Identity: stockIdentity, Cast: stockCast };
  let fusedNote: string | undefined;
  try {
    const stockOf = (name: string) => tfjs.getKernel(name, 'wasm')?.kernelFunc as unknown as KernelFunc | undefined;
    for (const [name, kernelFunc] of Object.entries(fusedKernels(kernels, stockOf))) {
      stock[name] = stockOf(name);
      fast[name] = kernelFunc;
    }
  } catch (error) {
    fusedNote = `fused kernels unavailable (${(error as Error).message.split('\n')[0]}); layer norm and attention use stock ops`;
  }
  swapKernels(tfjs, fast);
  const reason = [threadNote, fusedNote].filter(Boolean).join('; ');
  const status: FastKernelStatus = {
    kernels: 'fast',
    threads: kernels.helper ? 2 : 1,
    replaced: Object.keys(fast),
    ...(reason ? { reason } : {}),
  };
  installed.set(backend, { status, fast, stock });
  return status;
}

/** Puts the stock kernels back (benchmarks measure both in one process). */
export function restoreStockKernels(tfjs: typeof tf): void {
  if (tfjs.getBackend() !== 'wasm') return;
  const done = installed.get(tfjs.backend());
  if (done) swapKernels(tfjs, done.stock);
}

function swapKernels(tfjs: typeof tf, kernels: Record<string, KernelFunc | undefined>): void {
  for (const [kernelName, kernelFunc] of Object.entries(kernels)) {
    if (tfjs.getKernel(kernelName, 'wasm')) tfjs.unregisterKernel(kernelName, 'wasm');
    if (kernelFunc) tfjs.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  }
}

/** Returns undefined for the cases the stock kernel keeps. */
function fastBatchMatMul({ inputs, attrs, backend }: KernelArgs, kernels: Kernels): TensorInfo | undefined {
  const a = inputs.a as TensorInfo;
  const b = inputs.b as TensorInfo;
  const transposeA = Boolean(attrs?.transposeA);
  const transposeB = Boolean(attrs?.transposeB);
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || (transposeA && transposeB)) return undefined;
  if (a.shape.length < 2 || b.shape.length < 2) return undefined;
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const batchA = product(outerA);
  const batchB = product(outerB);
  // Broadcasting: equal batches, or one side shared by every batch.
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) return undefined;
  const outer = batchA >= batchB ? outerA : outerB;
  if (batchA !== batchB && product(outer) !== Math.max(batchA, batchB)) return undefined;
  const [aRows, aCols] = a.shape.slice(-2) as [number, number];
  const [bRows, bCols] = b.shape.slice(-2) as [number, number];
  const m = transposeA ? aCols : aRows;
  const k = transposeA ? aRows : aCols;
  const n = transposeB ? bRows : bCols;
  if ((transposeB ? bCols : bRows) !== k) return undefined; // let the stock kernel report the mismatch
  const batch = Math.max(batchA, batchB);
  const out = backend.makeOutput([...outer, m, n], 'float32');
  if (m === 0 || n === 0 || batch === 0) return out;
  // Offsets only after makeOutput: allocation can grow (and move views of) the heap.
  const aPtr = backend.dataIdMap.get(a.dataId).memoryOffset;
  let bPtr = backend.dataIdMap.get(b.dataId).memoryOffset;
  const cPtr = backend.dataIdMap.get(out.dataId).memoryOffset;
  let scratch = 0;
  if (transposeB) {
    scratch = backend.wasm._malloc(batchB * k * n * 4);
    kernels.exports.transpose(bPtr, scratch, batchB, n, k, n * k);
    bPtr = scratch;
  }
  const strides = [m, k, n, batchA === 1 ? 0 : m * k, batchB === 1 ? 0 : k * n, transposeA ? 1 : k, transposeA ? m : 1] as const;
  try {
    const { helper } = kernels;
    if (helper && batch * m * n * k >= SPLIT_THRESHOLD && (batch >= 2 || m >= 8)) {
      // Split the batch when there is one, else the rows (in blocks of four).
      const [mainPart, helperPart]: [MatmulArgs, MatmulArgs] =
        batch >= 2
          ? [
              [aPtr, bPtr, cPtr, 0, batch >> 1, 0, m, ...strides],
              [aPtr, bPtr, cPtr, batch >> 1, batch, 0, m, ...strides],
            ]
          : [
              [aPtr, bPtr, cPtr, 0, 1, 0, (m >> 3) << 2, ...strides],
              [aPtr, bPtr, cPtr, 0, 1, (m >> 3) << 2, m, ...strides],
            ];
      helper.start('matmul', helperPart);
      kernels.exports.matmul(...mainPart);
      helper.wait();
    } else {
      kernels.exports.matmul(aPtr, bPtr, cPtr, 0, batch, 0, m, ...strides);
    }
  } finally {
    if (scratch) backend.wasm._free(scratch);
  }
  return out;
}
