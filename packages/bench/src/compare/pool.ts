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

export interface PoolEvents {
  onProgress(id: string, fraction: number, phase: string): void;
  onDone(id: string, result: TrainResult): void;
  /**
   * A unit failed (its error, or its worker process died). Given, the pool goes on with the other
   * units on a fresh worker process (a leaderboard); absent, the first failure stops the pool
   * and is thrown.
   */
  onFailed?(failure: UnitFailure): void;
}

/** Runs requests on `size` worker processes; resolves when every request is done (or failed, with onFailed). */
export async function runOnPool(requests: readonly UnitRequest[], size: number, events: PoolEvents): Promise<void> {
  const script = fileURLToPath(new URL('./unit-worker.js', import.meta.url));
  const queue = [...requests];
  const workers: ChildProcess[] = [];
  let failure: UnitFailure | undefined;
  const failed = (unitFailure: UnitFailure) => {
    if (events.onFailed) events.onFailed(unitFailure);
    else failure ??= unitFailure;
  };
  // One worker process at a time in this slot; a failed unit's process is replaced (its wasm heap may be gone).
  const runSlot = async (): Promise<void> => {
    while (!failure && queue.length > 0) if (!(await runWorker())) break;
  };
  /** Resolves true when its process was retired after a failure (the slot starts another), false when the queue ran dry. */
  const runWorker = () =>
    new Promise<boolean>((resolve, reject) => {
      const child = fork(script, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
      workers.push(child);
      let current: UnitRequest | undefined;
      let settled = false;
      const settle = (retired: boolean) => {
        if (settled) return;
        settled = true;
        resolve(retired);
      };
      const next = () => {
        current = failure ? undefined : queue.shift();
        if (!current) {
          child.kill();
          settle(false);
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
          current = undefined;
          failed(new UnitFailure(message.id, message.message, message.usage));
          child.kill();
          settle(true);
        }
      });
      child.on('exit', (code, signal) => {
        if (current && code !== 0 && signal !== 'SIGTERM') {
          const unit = current.unit.id;
          current = undefined;
          failed(new UnitFailure(unit, `worker process exited (${signal ?? code})`, false));
          settle(true);
        }
        settle(false);
      });
      child.on('error', reject);
    });
  await Promise.all(Array.from({ length: Math.max(1, Math.min(size, requests.length)) }, runSlot));
  if (failure) throw failure;
  // Worker processes that died before taking a unit (a missing script, no memory) must not drop units silently.
  if (queue.length > 0)
    throw new Error(`the worker processes exited before training ${queue.length} unit(s) (${queue[0]?.unit.id}, ...)`);
}
