/**
 * Trains one unit of a comparison in the current process: what a local pool worker and a
 * BullMQ sandboxed processor both do.
 */
import { createRegistry } from '@policy-lab/core';
import type { TrainProgress, TrainResult } from '@policy-lab/trainer';
import type { UnitRequest } from './pool.js';

export async function runUnit(
  request: UnitRequest,
  where: { cwd: string; outDir: string; sftCacheDir: string; onProgress(progress: TrainProgress): void },
): Promise<TrainResult> {
  const { registry } = await createRegistry({
    cwd: where.cwd,
    plugins: request.plugins,
    ...(request.config ? { config: request.config } : {}),
  });
  const trainer = await import('@policy-lab/trainer');
  await trainer.initBackend({ name: request.backend, kernels: request.kernels, threads: request.threads });
  return trainer.train({
    registry,
    method: request.unit.method,
    env: request.unit.env,
    seed: request.unit.seed,
    budget: request.budget,
    overrides: request.overrides,
    outDir: where.outDir,
    resume: true,
    backend: request.backend,
    sftCacheDir: where.sftCacheDir,
    onProgress: where.onProgress,
  });
}
