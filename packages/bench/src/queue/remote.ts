/**
 * Runs comparison units as BullMQ jobs: one job per unit (job id = comparison fingerprint +
 * unit id, so adding it twice is a no-op), processed by `bench worker` anywhere that reaches
 * Redis; results travel back through the queue and the coordinator writes --out.
 */

import type { TrainResult } from '@policy-lab/trainer';
import { Queue, QueueEvents } from 'bullmq';
import type { UnitFailure, UnitRequest } from '../compare/pool.js';
import { connectionOptions, QUEUE_NAME, type QueueConnection } from './connection.js';
import type { UnitJob } from './job.js';

export function queueRunner(connection: QueueConnection, fingerprint: string) {
  return async (
    requests: UnitRequest[],
    events: { onProgress(id: string, fraction: number, phase: string): void; onDone(id: string, result: TrainResult): void },
  ): Promise<void> => {
    const options = { connection: connectionOptions(connection) } as never;
    const queue = new Queue(QUEUE_NAME, options);
    const queueEvents = new QueueEvents(QUEUE_NAME, options);
    await queueEvents.waitUntilReady();
    const byJob = new Map(requests.map((r) => [`${fingerprint}__${r.unit.id}`, r])); // BullMQ ids may not contain ":"
    try {
      await new Promise<void>((resolve, reject) => {
        let remaining = byJob.size;
        const finish = async (jobId: string, run: () => Promise<void>) => {
          if (!byJob.has(jobId)) return;
          byJob.delete(jobId);
          await run();
          remaining -= 1;
          if (remaining === 0) resolve();
        };
        queueEvents.on('progress', ({ jobId, data }) => {
          const request = byJob.get(jobId);
          if (request) events.onProgress(request.unit.id, Number(data), 'train');
        });
        queueEvents.on('completed', ({ jobId }) => {
          const request = byJob.get(jobId);
          if (!request) return;
          void finish(jobId, async () => {
            const job = await queue.getJob(jobId);
            events.onDone(request.unit.id, job?.returnvalue as TrainResult);
          }).catch(reject);
        });
        queueEvents.on('failed', ({ jobId, failedReason }) => {
          const request = byJob.get(jobId);
          if (request)
            reject(
              Object.assign(new Error(`run ${request.unit.id} failed on a worker: ${failedReason}`), {
                unitId: request.unit.id,
              }) as UnitFailure,
            );
        });
        void (async () => {
          for (const [jobId, request] of byJob) {
            // Data only: each worker loads its own plugins and keeps its own folders.
            const data: UnitJob = {
              unit: request.unit,
              fingerprint,
              backend: request.backend,
              kernels: request.kernels,
              threads: request.threads,
              budget: request.budget,
              overrides: request.overrides,
              ...(request.preferences ? { preferences: request.preferences } : {}),
              ...(request.model ? { model: request.model } : {}),
            };
            const job = await queue.add('unit', data, { jobId, attempts: 2, removeOnComplete: false, removeOnFail: false });
            // Already finished earlier (a resumed coordinator): take its stored result.
            if ((await job.getState()) === 'completed') {
              await finish(jobId, async () => {
                const done = await queue.getJob(jobId);
                events.onDone(request.unit.id, done?.returnvalue as TrainResult);
              });
            }
          }
          if (byJob.size === 0) resolve();
        })().catch(reject);
      });
    } finally {
      await queueEvents.close();
      await queue.close();
    }
  };
}
