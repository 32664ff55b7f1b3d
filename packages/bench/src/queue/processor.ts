/**
 * BullMQ's sandboxed processor: runs in a child process of `bench worker`, so training never
 * blocks the worker's event loop (its job lock keeps being renewed). The worker's own setup
 * (plugins, config, folder) comes through the environment; the job is checked against it.
 */
import { exitWithParent } from '../compare/parent-watch.js';
import { runUnit } from '../compare/run-unit.js';
import { acceptJob, SETUP_VARIABLE, type WorkerSetup } from './job.js';

// The sandbox dies with its `bench worker` (a killed worker's job is retried elsewhere).
exitWithParent();

interface SandboxedJob {
  id?: string;
  data: unknown;
  updateProgress(value: number): Promise<void>;
}

export default async function process(job: SandboxedJob) {
  const setup = JSON.parse(globalThis.process.env[SETUP_VARIABLE] ?? 'null') as WorkerSetup | null;
  if (!setup) throw new Error(`${SETUP_VARIABLE} is not set: this processor runs under bench worker`);
  const request = acceptJob(job.data, setup);
  let last = 0;
  return runUnit(request, {
    cwd: request.cwd,
    outDir: request.outDir,
    sftCacheDir: request.sftCacheDir,
    onProgress: (p) => {
      if (p.fraction - last >= 0.05) {
        last = p.fraction;
        void job.updateProgress(p.fraction);
      }
    },
  });
}
