/**
 * The local process pool: N long-lived child processes (training blocks the event loop, so
 * it never runs in the coordinator). Units are handed out as workers free up.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BudgetLimit } from '@policy-lab/core';
import type { TrainResult } from '@policy-lab/trainer';
import type { CompareModel, PreferencesRef, Unit } from './plan.js';

export interface UnitRequest {
  unit: Unit;
  cwd: string;
  plugins: string[];
  config?: string;
  backend: string;
  kernels: string;
  threads: number;
  budget: BudgetLimit;
  overrides: Record<string, unknown>;
  outDir: string;
  sftCacheDir: string;
  /** Offline preference data (bench compare --data file.jsonl): read and checked by each unit. */
  preferences?: PreferencesRef;
  /** The comparison's Hugging Face model (bench compare --model): each unit checks the folder's files against it. */
  model?: CompareModel;
}

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'progress'; id: string; fraction: number; phase: string }
  | { type: 'done'; id: string; result: TrainResult }
  | { type: 'failed'; id: string; message: string; usage: boolean };

export type UnitRunner = (request: UnitRequest, onProgress: (fraction: number, phase: string) => void) => Promise<TrainResult>;

export class UnitFailure extends Error {
  constructor(
    readonly unitId: string,
    message: string,
    readonly usage: boolean,
  ) {
    super(`run ${unitId} failed: ${message}`);
  }
}

/** Runs requests on `size` worker processes; resolves with every result, in request order. */
export async function runOnPool(
  requests: readonly UnitRequest[],
  size: number,
  events: { onProgress(id: string, fraction: number, phase: string): void; onDone(id: string, result: TrainResult): void },
): Promise<void> {
  const script = fileURLToPath(new URL('./unit-worker.js', import.meta.url));
  const queue = [...requests];
  const workers: ChildProcess[] = [];
  let failure: UnitFailure | undefined;
  const runWorker = () =>
    new Promise<void>((resolve, reject) => {
      const child = fork(script, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
      workers.push(child);
      let current: UnitRequest | undefined;
      const next = () => {
        current = failure ? undefined : queue.shift();
        if (!current) {
          child.kill();
          resolve();
          return;
        }
        child.send(current);
      };
      child.on('message', (message: WorkerMessage) => {
        if (message.type === 'ready') next();
        else if (message.type === 'progress') events.onProgress(message.id, message.fraction, message.phase);
        else if (message.type === 'done') {
          events.onDone(message.id, message.result);
          next();
        } else {
          failure ??= new UnitFailure(message.id, message.message, message.usage);
          child.kill();
          resolve();
        }
      });
      child.on('exit', (code, signal) => {
        if (current && !failure && code !== 0 && signal !== 'SIGTERM') {
          failure = new UnitFailure(current.unit.id, `worker process exited (${signal ?? code})`, false);
        }
        resolve();
      });
      child.on('error', reject);
    });
  await Promise.all(Array.from({ length: Math.max(1, Math.min(size, requests.length)) }, runWorker));
  if (failure) throw failure;
}
