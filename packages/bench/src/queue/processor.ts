/**
 * BullMQ's sandboxed processor: runs in a child process of `bench worker`, so training never
 * blocks the worker's event loop (its job lock keeps being renewed).
 */
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRegistry } from '@policy-lab/core';
import type { UnitRequest } from '../compare/pool.js';

interface SandboxedJob {
  id?: string;
  data: UnitRequest & { fingerprint: string };
  updateProgress(value: number): Promise<void>;
}

export default async function process(job: SandboxedJob) {
  const request = job.data;
  const cwd = globalThis.process.cwd();
  const { registry } = await createRegistry({
    cwd,
    plugins: request.plugins,
    ...(request.config ? { config: request.config } : {}),
  });
  const trainer = await import('@policy-lab/trainer');
  await trainer.initBackend({ name: request.backend, kernels: request.kernels, threads: request.threads });
  // Checkpoints and the SFT cache live on this machine; a unit restarted elsewhere starts over
  // (deterministically, so its result is the same).
  const scratch = path.join(tmpdir(), 'policy-lab-worker', request.fingerprint);
  mkdirSync(scratch, { recursive: true });
  let last = 0;
  return trainer.train({
    registry,
    method: request.unit.method,
    env: request.unit.env,
    seed: request.unit.seed,
    budget: request.budget,
    overrides: request.overrides,
    outDir: path.join(scratch, request.unit.id),
    resume: true,
    backend: request.backend,
    sftCacheDir: path.join(scratch, 'sft-cache'),
    onProgress: (p) => {
      if (p.fraction - last >= 0.05) {
        last = p.fraction;
        void job.updateProgress(p.fraction);
      }
    },
  });
}
