/**
 * Per-kernel wall time of a workload (docs/performance.md): every kernel registered for the active
 * backend is wrapped with a timer for the measured runs, then put back. What the kernels do not
 * cover (tfjs dispatch, the gradient tape, JS between ops) is the step's time minus theirs.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Workload } from './reference.js';

export interface KernelTime {
  /** The kernel's name; with `byShape`, followed by its input shapes (and BatchMatMul's transposes). */
  name: string;
  calls: number;
  /**
   * Wall time inside the kernel a run: the median over the runs of each run's total (on a shared
   * machine a preempted run inflates a mean, much less a median).
   */
  ms: number;
  /**
   * Calls a run times the fastest call of each input shape (summed over the shapes for a kernel
   * name): about the cost on a core of its own, when other processes preempt some calls.
   */
  minMs: number;
}

export interface WorkloadProfile {
  runs: number;
  /** Each measured run's wall time (ms). */
  runMs: number[];
  /** Median of runMs. */
  medianMs: number;
  /** Kernel calls a run. */
  calls: number;
  /** Time inside kernels, ms a run (the median over the runs). */
  kernelMs: number;
  /** Median over the runs of the run's time minus its time in kernels: dispatch, tape and JS. */
  outsideMs: number;
  /** The sum of the kernels' minMs. */
  kernelMinMs: number;
  /** The least, over the runs, of the run's time minus its time in kernels. */
  outsideMinMs: number;
  /** By kernel name, the slowest first (by minMs). */
  kernels: KernelTime[];
  /** By kernel name and input shapes, the slowest first (by minMs). */
  shapes: KernelTime[];
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

function shapeKey(name: string, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap | undefined): string {
  const shapes = Object.values(inputs)
    .map((t) => `[${t?.shape.join(',')}]`)
    .join('x');
  const transposes = name === 'BatchMatMul' ? `${attrs?.transposeA ? 'T' : 'N'}${attrs?.transposeB ? 'T' : 'N'}` : '';
  return `${name} ${transposes}${transposes ? ' ' : ''}${shapes}`;
}

/**
 * Runs `workload` `warmup` times untimed, then `runs` times with every kernel of the active backend
 * timed (the wrappers cost well under a microsecond a call). The kernels are restored afterwards,
 * also on failure.
 */
export async function profileWorkload(
  workload: Workload,
  options: { runs?: number; warmup?: number } = {},
): Promise<WorkloadProfile> {
  const runs = options.runs ?? 10;
  const backendName = tf.getBackend();
  for (let i = 0; i < (options.warmup ?? 2); i++) await workload.run();
  const configs = tf.getKernelsForBackend(backendName);
  // Per key, calls and each run's time.
  const byName = new Map<string, { calls: number; ms: number[]; fastest: number }>();
  const byShape = new Map<string, { calls: number; ms: number[]; fastest: number }>();
  const kernelRunMs: number[] = [];
  let run = 0;
  const add = (map: typeof byName, key: string, ms: number) => {
    const entry = map.get(key) ?? { calls: 0, ms: new Array<number>(runs).fill(0), fastest: Number.POSITIVE_INFINITY };
    entry.calls += 1;
    entry.ms[run] = (entry.ms[run] as number) + ms;
    entry.fastest = Math.min(entry.fastest, ms);
    map.set(key, entry);
  };
  let timing = false;
  const swap = (kernelFunc: (config: tf.KernelConfig) => tf.KernelFunc) => {
    for (const config of configs) {
      tf.unregisterKernel(config.kernelName, backendName);
      tf.registerKernel({ ...config, kernelFunc: kernelFunc(config) });
    }
  };
  swap((config) => (args) => {
    if (!timing) return config.kernelFunc(args);
    const start = performance.now();
    const out = config.kernelFunc(args);
    const ms = performance.now() - start;
    kernelRunMs[run] = (kernelRunMs[run] ?? 0) + ms;
    add(byName, config.kernelName, ms);
    add(byShape, shapeKey(config.kernelName, args.inputs, args.attrs), ms);
    return out;
  });
  const runMs: number[] = [];
  try {
    timing = true;
    for (run = 0; run < runs; run++) {
      const start = performance.now();
      await workload.run();
      runMs.push(performance.now() - start);
    }
  } finally {
    timing = false;
    swap((config) => config.kernelFunc);
  }
  const shapes: KernelTime[] = [...byShape.entries()]
    .map(([name, { calls, ms, fastest }]) => ({ name, calls: calls / runs, ms: median(ms), minMs: (calls / runs) * fastest }))
    .sort((a, b) => b.minMs - a.minMs);
  const kernels: KernelTime[] = [...byName.entries()]
    .map(([name, { calls, ms }]) => ({
      name,
      calls: calls / runs,
      ms: median(ms),
      minMs: shapes.filter((k) => k.name.startsWith(`${name} `)).reduce((sum, k) => sum + k.minMs, 0),
    }))
    .sort((a, b) => b.minMs - a.minMs);
  const inside = runMs.map((_, i) => kernelRunMs[i] ?? 0);
  const outside = runMs.map((ms, i) => ms - (inside[i] as number));
  return {
    runs,
    runMs,
    medianMs: median(runMs),
    calls: kernels.reduce((sum, k) => sum + k.calls, 0),
    kernelMs: median(inside),
    outsideMs: median(outside),
    kernelMinMs: kernels.reduce((sum, k) => sum + k.minMs, 0),
    outsideMinMs: Math.min(...outside),
    kernels,
    shapes,
  };
}
