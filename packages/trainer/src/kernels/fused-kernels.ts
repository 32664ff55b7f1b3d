/**
 * tfjs kernel functions over the AssemblyScript kernels of assembly/fused.ts: Sum over
 * leading axes (bias gradients: stock wasm transposes first, ~2 ms for [2048, 64]), Exp
 * (SIMD), and the fused layer norm and causal attention kernels (forward and backward)
 * that fused-ops.ts calls. Large calls are split with the helper thread on fixed ranges.
 */
import { HELPER_FUNCTIONS, type HelperFunction, type KernelHelper, type MatmulArgs } from './kernel-helper.js';
import type { KernelArgs, KernelFunc, TensorInfo, WasmBackend } from './wasm-types.js';

export const LAYER_NORM = 'PolicyLabLayerNorm';
export const LAYER_NORM_GRAD = 'PolicyLabLayerNormGrad';
export const ADD_LAYER_NORM = 'PolicyLabAddLayerNorm';
export const ADAM_UPDATE = 'PolicyLabAdamUpdate';
export const CAUSAL_ATTENTION = 'PolicyLabCausalAttention';
export const CAUSAL_ATTENTION_GRAD = 'PolicyLabCausalAttentionGrad';

/** Rows per partial-sum block of the layer norm's gain and bias gradients (LN_BLOCK in fused.ts). */
const LN_BLOCK = 64;
/** Below this many elements (or multiply-adds) an elementwise call stays on one thread. */
const SPLIT_ELEMENTS = 1 << 16;

export interface KernelExports {
  /** The AssemblyScript `matmul` export (arguments documented on MatmulArgs). */
  matmul(...args: MatmulArgs): void;
  transpose(src: number, dst: number, batch: number, rows: number, cols: number, srcBatch: number): void;
  expRange(x: number, y: number, start: number, end: number): void;
  colSum(x: number, out: number, rows: number, cols: number, colStart: number, colEnd: number): void;
  layerNormForward(...args: number[]): void;
  addLayerNormForward(...args: number[]): void;
  layerNormBackward(...args: number[]): void;
  layerNormReduce(partials: number, blocks: number, d: number, dgain: number, dbias: number): void;
  attentionForward(...args: number[]): void;
  attentionBackward(...args: number[]): void;
  adamUpdate(...args: number[]): void;
}

export interface Kernels {
  exports: KernelExports;
  helper?: KernelHelper;
}

const product = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

/**
 * Runs `name` over [0, total), in two halves (caller and helper) when the call is big
 * enough; `args(start, end, thread)` builds the arguments of one part.
 */
function run(
  kernels: Kernels,
  name: HelperFunction,
  total: number,
  work: number,
  args: (start: number, end: number, thread: number) => number[],
  align = 1,
): void {
  const fn = kernels.exports[name] as (...a: number[]) => void;
  const { helper } = kernels;
  const mid = Math.floor(total / 2 / align) * align;
  if (helper && work >= SPLIT_ELEMENTS && mid > 0 && mid < total) {
    helper.start(name, args(mid, total, 1));
    fn(...args(0, mid, 0));
    helper.wait();
  } else {
    fn(...args(0, total, 0));
  }
}

const offset = (backend: WasmBackend, t: TensorInfo): number => backend.dataIdMap.get(t.dataId).memoryOffset;

/** The kernels to register; throws when the module lacks an export (a stale build). */
export function fusedKernels(kernels: Kernels, stockOf: (name: string) => KernelFunc | undefined): Record<string, KernelFunc> {
  // Every export the helper thread may run (the matmul's included), and Adam's, must be in this module.
  for (const name of [...HELPER_FUNCTIONS, 'adamUpdate'] as const) {
    if (typeof kernels.exports[name] !== 'function') throw new Error(`the kernel module has no '${name}' (rebuild the trainer)`);
  }
  const stockSum = stockOf('Sum');
  const stockExp = stockOf('Exp');
  if (!stockSum || !stockExp) throw new Error('stock Sum/Exp kernels not found');
  return {
    Sum: (args) => sumLeading(args, kernels) ?? stockSum(args),
    Exp: (args) => exp(args, kernels) ?? stockExp(args),
    [LAYER_NORM]: (args) => layerNorm(args, kernels),
    [LAYER_NORM_GRAD]: (args) => layerNormGrad(args, kernels),
    [ADD_LAYER_NORM]: (args) => addLayerNorm(args, kernels),
    [ADAM_UPDATE]: (args) => adamUpdate(args, kernels),
    [CAUSAL_ATTENTION]: (args) => attention(args, kernels),
    [CAUSAL_ATTENTION_GRAD]: (args) => attentionGrad(args, kernels),
  };
}

/** Sum over the leading axes [0, r) of a float32 tensor; undefined for other reductions. */
function sumLeading({ inputs, attrs, backend }: KernelArgs, kernels: Kernels): TensorInfo | undefined {
  const x = inputs.x as TensorInfo;
  const rank = x.shape.length;
  if (x.dtype !== 'float32' || rank < 2) return undefined;
  const axis = attrs?.axis;
  if (axis === null || axis === undefined) return undefined;
  const list = (Array.isArray(axis) ? axis : [axis]) as number[];
  const axes = [...new Set(list.map((a) => (a < 0 ? a + rank : a)))].sort((a, b) => a - b);
  const r = axes.length;
  if (r === 0 || r >= rank || axes.some((a, i) => a !== i)) return undefined;
  const rows = product(x.shape.slice(0, r));
  const rest = x.shape.slice(r);
  const cols = product(rest);
  if (cols < 4 || rows === 0) return undefined;
  const out = backend.makeOutput(attrs?.keepDims ? [...new Array(r).fill(1), ...rest] : rest, 'float32');
  const xp = offset(backend, x);
  const op = offset(backend, out);
  run(kernels, 'colSum', cols, rows * cols, (start, end) => [xp, op, rows, cols, start, end], 4);
  return out;
}

function exp({ inputs, backend }: KernelArgs, kernels: Kernels): TensorInfo | undefined {
  const x = inputs.x as TensorInfo;
  if (x.dtype !== 'float32') return undefined;
  const out = backend.makeOutput(x.shape, 'float32');
  const n = product(x.shape);
  if (n === 0) return out;
  const xp = offset(backend, x);
  const yp = offset(backend, out);
  run(kernels, 'expRange', n, n, (start, end) => [xp, yp, start, end], 4);
  return out;
}

/** inputs x [..., d], gain [d], bias [d] (d % 4 == 0, checked by fused-ops); outputs y and stats [rows, 2]. */
function layerNorm({ inputs, attrs, backend }: KernelArgs, kernels: Kernels): TensorInfo[] {
  const { x, gain, bias } = inputs as Record<'x' | 'gain' | 'bias', TensorInfo>;
  const d = x.shape[x.shape.length - 1] as number;
  const rows = product(x.shape) / d;
  const y = backend.makeOutput(x.shape, 'float32');
  const stats = backend.makeOutput([rows, 2], 'float32');
  const ptrs = [offset(backend, x), offset(backend, gain), offset(backend, bias), offset(backend, y), offset(backend, stats)];
  const eps = Number(attrs?.eps ?? 1e-5);
  run(kernels, 'layerNormForward', rows, rows * d, (start, end) => [...ptrs, d, eps, start, end]);
  return [y, stats];
}

/**
 * inputs p, m, v, g (float32, one shape); attrs the update's f32 constants (fused-ops.ts);
 * outputs the new p, m and v.
 */
function adamUpdate({ inputs, attrs, backend }: KernelArgs, kernels: Kernels): TensorInfo[] {
  const { p, m, v, g } = inputs as Record<'p' | 'm' | 'v' | 'g', TensorInfo>;
  const n = product(p.shape);
  const outs = [0, 1, 2].map(() => backend.makeOutput(p.shape, 'float32'));
  const a = attrs as Record<string, number>;
  const constants = [a.beta1, a.oneMinusBeta1, a.beta2, a.oneMinusBeta2, a.correction1, a.correction2, a.eps, a.lr, a.lrDecay];
  if (n > 0) kernels.exports.adamUpdate(...[p, m, v, g, ...outs].map((t) => offset(backend, t)), n, ...(constants as number[]));
  return outs;
}

/** inputs x, delta, gain, bias; outputs h = x + delta, y = layerNorm(h) and stats [rows, 2]. */
function addLayerNorm({ inputs, attrs, backend }: KernelArgs, kernels: Kernels): TensorInfo[] {
  const { x, delta, gain, bias } = inputs as Record<'x' | 'delta' | 'gain' | 'bias', TensorInfo>;
  const d = x.shape[x.shape.length - 1] as number;
  const rows = product(x.shape) / d;
  const h = backend.makeOutput(x.shape, 'float32');
  const y = backend.makeOutput(x.shape, 'float32');
  const stats = backend.makeOutput([rows, 2], 'float32');
  const ptrs = [x, delta, h, gain, bias, y, stats].map((t) => offset(backend, t));
  const eps = Number(attrs?.eps ?? 1e-5);
  run(kernels, 'addLayerNormForward', rows, rows * d, (start, end) => [...ptrs, d, eps, start, end]);
  return [h, y, stats];
}

/** inputs x, gain, dy, stats and optionally dres (added to dx); outputs dx, dgain, dbias. */
function layerNormGrad({ inputs, backend }: KernelArgs, kernels: Kernels): TensorInfo[] {
  const { x, gain, dy, stats } = inputs as Record<'x' | 'gain' | 'dy' | 'stats', TensorInfo>;
  const dres = inputs.dres ? offset(backend, inputs.dres as TensorInfo) : 0;
  const d = x.shape[x.shape.length - 1] as number;
  const rows = product(x.shape) / d;
  const dx = backend.makeOutput(x.shape, 'float32');
  const dgain = backend.makeOutput([d], 'float32');
  const dbias = backend.makeOutput([d], 'float32');
  const blocks = Math.ceil(rows / LN_BLOCK);
  const partials = backend.wasm._malloc(Math.max(1, blocks) * 2 * d * 4);
  try {
    const ptrs = [offset(backend, x), offset(backend, gain), offset(backend, dy), offset(backend, stats), offset(backend, dx)];
    run(kernels, 'layerNormBackward', blocks, rows * d, (start, end) => [...ptrs, partials, rows, d, start, end, dres]);
    kernels.exports.layerNormReduce(partials, blocks, d, offset(backend, dgain), offset(backend, dbias));
  } finally {
    backend.wasm._free(partials);
  }
  return [dx, dgain, dbias];
}

/** Strides (in floats) of the two layouts fused-ops passes: [B, H, T, dh] or [B, T, H, dh]. */
function geometry(t: TensorInfo, layout: unknown) {
  const [b, second, third, dh] = t.shape as [number, number, number, number];
  if (layout === 'bthd') {
    const [time, heads] = [second, third];
    return { batch: b, heads, time, dh, bStride: time * heads * dh, hStride: dh, tStride: heads * dh };
  }
  const [heads, time] = [second, third];
  return { batch: b, heads, time, dh, bStride: heads * time * dh, hStride: time * dh, tStride: dh };
}

function attention({ inputs, attrs, backend }: KernelArgs, kernels: Kernels): TensorInfo[] {
  const { q, k, v } = inputs as Record<'q' | 'k' | 'v', TensorInfo>;
  const g = geometry(q, attrs?.layout);
  const o = backend.makeOutput(q.shape, 'float32');
  const p = backend.makeOutput([g.batch * g.heads, g.time, g.time], 'float32');
  runAttention('attentionForward', [q, k, v, o, p], g, Number(attrs?.scale), backend, kernels);
  return [o, p];
}

function attentionGrad({ inputs, attrs, backend }: KernelArgs, kernels: Kernels): TensorInfo[] {
  const { q, k, v, p, dy } = inputs as Record<'q' | 'k' | 'v' | 'p' | 'dy', TensorInfo>;
  const g = geometry(q, attrs?.layout);
  const dq = backend.makeOutput(q.shape, 'float32');
  const dk = backend.makeOutput(q.shape, 'float32');
  const dv = backend.makeOutput(q.shape, 'float32');
  runAttention('attentionBackward', [q, k, v, p, dy, dq, dk, dv], g, Number(attrs?.scale), backend, kernels);
  return [dq, dk, dv];
}

/** Runs an attention kernel over (batch, head) units, each thread with its own scratch rows. */
function runAttention(
  name: 'attentionForward' | 'attentionBackward',
  tensors: readonly TensorInfo[],
  g: ReturnType<typeof geometry>,
  scale: number,
  backend: KernelArgs['backend'],
  kernels: Kernels,
): void {
  const units = g.batch * g.heads;
  const scratchFloats = (g.dh + 8) * (Math.ceil(g.time / 4) * 4);
  const scratch = backend.wasm._malloc(2 * scratchFloats * 4);
  try {
    const ptrs = tensors.map((t) => offset(backend, t));
    const shape = [g.heads, g.time, g.dh, g.bStride, g.hStride, g.tStride, scale];
    run(kernels, name, units, units * g.time * g.time * g.dh, (start, end, thread) => [
      ...ptrs,
      scratch + thread * scratchFloats * 4,
      ...shape,
      start,
      end,
    ]);
  } finally {
    backend.wasm._free(scratch);
  }
}
