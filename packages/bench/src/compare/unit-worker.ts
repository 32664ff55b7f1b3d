/**
 * A worker process of the local pool: receives units over IPC, trains each, and sends the
 * result back. Long-lived, so tfjs and the plugins load once per process.
 */
import { createRegistry } from '@policy-lab/core';
import type { UnitRequest, WorkerMessage } from './pool.js';

const send = (message: WorkerMessage) => process.send?.(message);

process.on('message', async (request: UnitRequest) => {
  try {
    const { registry } = await createRegistry({
      cwd: request.cwd,
      plugins: request.plugins,
      ...(request.config ? { config: request.config } : {}),
    });
    const trainer = await import('@policy-lab/trainer');
    await trainer.initBackend({ name: request.backend, kernels: request.kernels, threads: request.threads });
    const result = await trainer.train({
      registry,
      method: request.unit.method,
      env: request.unit.env,
      seed: request.unit.seed,
      budget: request.budget,
      overrides: request.overrides,
      outDir: request.outDir,
      resume: true,
      backend: request.backend,
      sftCacheDir: request.sftCacheDir,
      onProgress: (p) => send({ type: 'progress', id: request.unit.id, fraction: p.fraction, phase: p.phase }),
    });
    send({ type: 'done', id: request.unit.id, result });
  } catch (error) {
    send({
      type: 'failed',
      id: request.unit.id,
      message: (error as Error).message,
      usage: (error as { exitCode?: number }).exitCode === 2,
    });
  }
});
send({ type: 'ready' });
