import { fileURLToPath } from 'node:url';
import { UsageError } from '@policy-lab/core';
import { Worker } from 'bullmq';
import type { Command } from 'commander';
import { CommandContext } from '../context.js';
import type { Io } from '../io.js';
import { checkReachable, connectionOptions, parseQueueUrl, QUEUE_NAME } from '../queue/connection.js';

function positive(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new UsageError(`bad ${flag} '${text}': expected a positive integer`);
  return value;
}

export function register(program: Command, io: Io): void {
  program
    .command('worker')
    .description('process comparison runs from a BullMQ queue (start one per machine or core; stop with Ctrl-C)')
    .requiredOption('--queue <url>', 'the Redis of the comparison, redis://host:port')
    .option('--concurrency <n>', 'runs processed at once by this worker (each in its own process)', '1')
    .option('--lock-duration <ms>', "job lock duration; a killed worker's job is taken over after about this long", '30000')
    .option('--stalled-interval <ms>', 'how often stalled jobs are checked for', '30000')
    .option('--max-jobs <n>', 'exit after this many runs (default: keep waiting)')
    .addHelpText(
      'after',
      '\nExamples:\n  bench compare grpo gdpo --queue redis://10.0.0.5:6379 --out results/q   (on the coordinator)\n  bench worker --queue redis://10.0.0.5:6379                              (on each worker machine)\n\nWorkers need the same plugins installed; checkpoints stay on the worker machine.',
    )
    .action(async function (
      this: Command,
      opts: { queue: string; concurrency: string; lockDuration: string; stalledInterval: string; maxJobs?: string },
    ) {
      const ctx = new CommandContext(io, this);
      const connection = parseQueueUrl(opts.queue);
      await checkReachable(connection);
      const concurrency = positive('--concurrency', opts.concurrency);
      const maxJobs = opts.maxJobs === undefined ? Number.POSITIVE_INFINITY : positive('--max-jobs', opts.maxJobs);
      const processor = fileURLToPath(new URL('../queue/processor.js', import.meta.url));
      const worker = new Worker(QUEUE_NAME, processor, {
        connection: connectionOptions(connection) as never,
        concurrency,
        lockDuration: positive('--lock-duration', opts.lockDuration),
        stalledInterval: positive('--stalled-interval', opts.stalledInterval),
        maxStalledCount: 3,
      });
      let done = 0;
      await new Promise<void>((resolve) => {
        worker.on('completed', (job) => {
          done += 1;
          if (!ctx.options.json) io.stderr(`worker: finished ${job.id}\n`);
          if (done >= maxJobs) resolve();
        });
        worker.on('failed', (job, error) => io.stderr(`worker: ${job?.id ?? 'a job'} failed: ${error.message}\n`));
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await worker.close();
      if (ctx.options.json) ctx.printJson('worker', { finished: done });
    });
}
