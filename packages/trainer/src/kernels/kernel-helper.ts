/**
 * A second thread for the AssemblyScript kernels: one worker_thread runs the same module on
 * the same shared wasm heap, and a call is split between it and the caller (each kernel
 * takes a [start, end) range of its outer loop). They meet on a small SharedArrayBuffer with
 * Atomics (no messages per call). Each output element is computed by exactly one thread in
 * the same order, so results do not depend on the split.
 */
import { Worker } from 'node:worker_threads';

/** The 14 integer arguments of the AssemblyScript `matmul` export. */
export type MatmulArgs = [
  a: number,
  b: number,
  c: number,
  batchStart: number,
  batchEnd: number,
  rowStart: number,
  rowEnd: number,
  m: number,
  k: number,
  n: number,
  aBatch: number,
  bBatch: number,
  aRow: number,
  aCol: number,
];

/** Exports the helper can run, by index (the index travels through the control block). */
export const HELPER_FUNCTIONS = [
  'matmul',
  'expRange',
  'colSum',
  'layerNormForward',
  'addLayerNormForward',
  'layerNormBackward',
  'attentionForward',
  'attentionBackward',
] as const;
export type HelperFunction = (typeof HELPER_FUNCTIONS)[number];

const MAX_ARGS = 24;
/** Polls of the done flag before blocking (roughly 10-20 microseconds). */
const SPIN = 2000;
// control layout: [0] job sequence (-1 = stop), [1] last job done, [2] ready flag, [3] function, [4] argument count
const SEQ = 0;
const DONE = 1;
const READY = 2;
const FN = 3;
const COUNT = 4;

const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { memory, module, control, args, names } = workerData;
const kernels = new WebAssembly.Instance(module, { env: { memory } }).exports;
const functions = names.map((name) => kernels[name]);
Atomics.store(control, ${READY}, 1);
Atomics.notify(control, ${READY});
let seen = 0;
for (;;) {
  // Timed, so that a missed notify (seen on the caller's side, below) costs 50 ms, not a hang.
  Atomics.wait(control, ${SEQ}, seen, 50);
  const seq = Atomics.load(control, ${SEQ});
  if (seq < 0) break;
  if (seq === seen) continue;
  seen = seq;
  const list = Array.from(args.subarray(0, control[${COUNT}]));
  functions[control[${FN}]](...list);
  Atomics.store(control, ${DONE}, seq);
  Atomics.notify(control, ${DONE});
}
`;

export class KernelHelper {
  private readonly control = new Int32Array(new SharedArrayBuffer(4 * 8));
  // Float64 so that f32 arguments (scale, eps) and pointers travel exactly.
  private readonly args = new Float64Array(new SharedArrayBuffer(8 * MAX_ARGS));
  private readonly worker: Worker;
  private sequence = 0;

  constructor(memory: WebAssembly.Memory, module: WebAssembly.Module) {
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { memory, module, control: this.control, args: this.args, names: [...HELPER_FUNCTIONS] },
    });
    // A helper parked in Atomics.wait must not keep the process alive.
    this.worker.unref();
    if (Atomics.wait(this.control, READY, 0, 10_000) === 'timed-out' && Atomics.load(this.control, READY) !== 1) {
      void this.worker.terminate();
      throw new Error('the kernel helper thread did not start within 10 s');
    }
  }

  /** Starts `name(...args)` on the helper thread; `wait()` blocks until it is done. */
  start(name: HelperFunction, args: readonly number[]): void {
    this.args.set(args);
    this.control[FN] = HELPER_FUNCTIONS.indexOf(name);
    this.control[COUNT] = args.length;
    this.sequence += 1;
    Atomics.store(this.control, SEQ, this.sequence);
    Atomics.notify(this.control, SEQ);
  }

  wait(): void {
    const target = this.sequence;
    // Both halves take about as long, so the helper is usually done within microseconds:
    // spin briefly before blocking (a futex wake-up costs more than that).
    for (let i = 0; i < SPIN; i++) if (Atomics.load(this.control, DONE) === target) return;
    while (Atomics.load(this.control, DONE) !== target) {
      // Node 20 occasionally misses the helper's notify here (measured: about 1 in 7000 calls
      // slept until the timeout, then 1000 ms): a 1 ms timeout bounds that cost.
      Atomics.wait(this.control, DONE, Atomics.load(this.control, DONE), 1);
    }
  }

  stop(): void {
    Atomics.store(this.control, SEQ, -1);
    Atomics.notify(this.control, SEQ);
  }
}
