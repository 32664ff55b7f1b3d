/**
 * BullMQ's sandboxed processor: runs in a child process of `bench worker`, so training never
 * blocks the worker's event loop (its job lock keeps being renewed).
 */
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { exitWithParent } from '../compare/parent-watch.js';
import type { UnitRequest } from '../compare/pool.js';
import { runUnit } from '../compare/run-unit.js';

// The sandbox dies with its `bench worker` (a killed worker's job is retried elsewhere).
exitWithParent();

interface SandboxedJob {
  id?: string;
  data: UnitRequest & { fingerprint: string };
  updateProgress(value: number): Promise<void>;
}

export default async function process(job: SandboxedJob) {
  const request = job.data;
  // Checkpoints and the SFT cache live on this machine; a unit restarted elsewhere starts over
  // (deterministically, so its result is the same).
  const scratch = path.join(tmpdir(), 'policy-lab-worker', request.fingerprint);
  mkdirSync(scratch, { recursive: true });
  let last = 0;
  return runUnit(request, {
    cwd: globalThis.process.cwd(),
    outDir: path.join(scratch, request.unit.id),
    sftCacheDir: path.join(scratch, 'sft-cache'),
    onProgress: (p) => {
      if (p.fraction - last >= 0.05) {
        last = p.fraction;
        void job.updateProgress(p.fraction);
      }
    },
  });
}
