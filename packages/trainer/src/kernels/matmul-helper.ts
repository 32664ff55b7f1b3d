/**
 * A second thread for the matmul kernel: one worker_thread runs the same AssemblyScript
 * module on the same shared wasm heap, and each call is split between it and the caller.
 * They meet on a small SharedArrayBuffer with Atomics (no messages per call). Each output
 * element is computed by exactly one thread in the same order, so results do not depend
 * on the split.
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

// control layout: [0] job sequence (-1 = stop), [1] last job done, [2] ready flag, [3..16] arguments
const SEQ = 0;
const DONE = 1;
const READY = 2;
const ARGS = 3;

const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { memory, module, control } = workerData;
const kernels = new WebAssembly.Instance(module, { env: { memory } }).exports;
Atomics.store(control, ${READY}, 1);
Atomics.notify(control, ${READY});
let seen = 0;
for (;;) {
  Atomics.wait(control, ${SEQ}, seen);
  const seq = Atomics.load(control, ${SEQ});
  if (seq < 0) break;
  seen = seq;
  const a = [];
  for (let i = 0; i < 14; i++) a.push(control[${ARGS} + i]);
  kernels.matmul(...a);
  Atomics.store(control, ${DONE}, seq);
  Atomics.notify(control, ${DONE});
}
`;

export class MatmulHelper {
  private readonly control = new Int32Array(new SharedArrayBuffer(4 * (ARGS + 14)));
  private readonly worker: Worker;
  private sequence = 0;

  constructor(memory: WebAssembly.Memory, module: WebAssembly.Module) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { memory, module, control: this.control } });
    // A helper parked in Atomics.wait must not keep the process alive.
    this.worker.unref();
    if (Atomics.wait(this.control, READY, 0, 10_000) === 'timed-out' && Atomics.load(this.control, READY) !== 1) {
      void this.worker.terminate();
      throw new Error('the matmul helper thread did not start within 10 s');
    }
  }

  /** Starts `args` on the helper thread; `wait()` blocks until it is done. */
  start(args: MatmulArgs): void {
    this.control.set(args, ARGS);
    this.sequence += 1;
    Atomics.store(this.control, SEQ, this.sequence);
    Atomics.notify(this.control, SEQ);
  }

  wait(): void {
    while (Atomics.load(this.control, DONE) !== this.sequence) {
      Atomics.wait(this.control, DONE, Atomics.load(this.control, DONE), 1000);
    }
  }

  stop(): void {
    Atomics.store(this.control, SEQ, -1);
    Atomics.notify(this.control, SEQ);
  }
}
