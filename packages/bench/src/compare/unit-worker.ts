/**
 * A worker process of the local pool: receives units over IPC, trains each, and sends the
 * result back. Long-lived, so tfjs and the plugins load once per process.
 */
import { exitWithParent } from './parent-watch.js';
import type { UnitRequest, WorkerMessage } from './pool.js';
import { runUnit } from './run-unit.js';

// A worker dies with its coordinator: a killed coordinator leaves no trainer behind in --out.
exitWithParent();

const send = (message: WorkerMessage) => process.send?.(message);

process.on('message', async (request: UnitRequest) => {
  try {
    const result = await runUnit(request, {
      cwd: request.cwd,
      outDir: request.outDir,
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
