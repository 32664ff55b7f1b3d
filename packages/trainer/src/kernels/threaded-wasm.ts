/**
 * Starts tfjs's threaded wasm build under Node (it only starts in browsers as shipped).
 * Why: its heap is a SharedArrayBuffer, so our own worker thread can compute on tensors in
 * place (the 2-way split of the matmul kernel). Measured: docs/performance.md.
 *
 * Depends on @tensorflow/tfjs-backend-wasm 4.22.0 internals (the worker's 'load' message,
 * the bundler's free names in the factory source, the glue halving the core count); the
 * trainer pins that exact version. Any failure leaves the normal (single-thread) build.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker as NodeWorker } from 'node:worker_threads';

// Names the bundler left free in the factory's source: the worker evaluates that source on its own.
const PRELUDE = [
  'var require$$0 = require("fs"), require$$1 = require("path"), require$$3 = require("perf_hooks"), require$$4 = require("os");',
  'var commonjsGlobal = globalThis;',
  'var __values = function (o) { var s = typeof Symbol === "function" && Symbol.iterator, m = s && o[s], i = 0; if (m) return m.call(o); return { next: function () { if (o && i >= o.length) o = void 0; return { value: o && o[i++], done: !o }; } }; };',
  'var __read = function (o, n) { var m = typeof Symbol === "function" && o[Symbol.iterator]; if (!m) return o; var i = m.call(o), r, ar = []; while ((n === void 0 || n-- > 0) && !(r = i.next()).done) ar.push(r.value); return ar; };',
  'var __spreadArray = function (to, from) { for (var i = 0; i < from.length; i++) to.push(from[i]); return to; };',
  '',
].join('\n');

export interface ThreadedWasmSetup {
  /** Where the worker scripts are written (removed by `cleanup`). */
  directory: string;
  /** Restores the globals the shim replaced (call after `setBackend('wasm')` resolved). */
  restoreGlobals(): void;
  /** Removes the temporary script files (call at exit; workers have read them by then). */
  cleanup(): void;
}

type TextBlob = Blob & { shimText?: string; shimPath?: string };

/**
 * Prepares globals so that the next `setBackend('wasm')` starts the threaded build with
 * `threads` XNNPACK threads. The caller sets WASM_HAS_MULTITHREAD_SUPPORT and calls
 * `setThreadsCount(threads)` itself (it owns the tfjs instances).
 */
export function prepareThreadedWasm(threads: number): ThreadedWasmSetup {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'policy-lab-wasm-mt-'));
  let counter = 0;
  const writeScript = (text: string): string => {
    const file = path.join(dir, `script-${counter++}.cjs`);
    writeFileSync(file, PRELUDE + text);
    return file;
  };

  const OriginalBlob = globalThis.Blob;
  const originalCreateObjectURL = URL.createObjectURL;
  const workerDescriptor = Object.getOwnPropertyDescriptor(globalThis, 'Worker');
  const originalCpus = os.cpus;

  class ShimBlob extends OriginalBlob {
    shimText?: string;
    constructor(...args: ConstructorParameters<typeof Blob>) {
      super(...args);
      const parts = args[0];
      if (parts?.every((part) => typeof part === 'string')) this.shimText = (parts as string[]).join('');
    }
  }
  const pathOf = (blob: TextBlob): string => {
    blob.shimPath ??= writeScript(blob.shimText as string);
    return blob.shimPath;
  };

  class ShimWorker extends NodeWorker {
    constructor(file: string | URL, options?: object) {
      super(file, options);
      // The pool's message ports would keep Node alive after the work is done.
      this.unref();
    }
    override postMessage(message: unknown, transfer?: Parameters<NodeWorker['postMessage']>[1]): void {
      const data = message as { cmd?: string; urlOrBlob?: unknown } | null;
      if (data?.cmd === 'load' && data.urlOrBlob instanceof ShimBlob) {
        super.postMessage({ ...data, urlOrBlob: pathOf(data.urlOrBlob as TextBlob) }, transfer);
        return;
      }
      super.postMessage(message, transfer);
    }
  }

  globalThis.Blob = ShimBlob as typeof Blob;
  URL.createObjectURL = (object: Blob) =>
    object instanceof ShimBlob && object.shimText !== undefined ? pathOf(object) : originalCreateObjectURL(object);
  // The glue assigns `Worker = worker_threads.Worker` itself: keep ours.
  Object.defineProperty(globalThis, 'Worker', { configurable: true, get: () => ShimWorker, set: () => {} });
  // The glue sizes the pool from os.cpus() and the C side halves it: report 2x the threads wanted.
  const fakeCpus = originalCpus.call(os).slice(0, 1);
  (os as { cpus: typeof os.cpus }).cpus = () => Array.from({ length: 2 * threads }, () => fakeCpus[0] as os.CpuInfo);

  return {
    directory: dir,
    restoreGlobals() {
      globalThis.Blob = OriginalBlob;
      URL.createObjectURL = originalCreateObjectURL;
      (os as { cpus: typeof os.cpus }).cpus = originalCpus;
      if (workerDescriptor) Object.defineProperty(globalThis, 'Worker', workerDescriptor);
      else delete (globalThis as { Worker?: unknown }).Worker;
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
