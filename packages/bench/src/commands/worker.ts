import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '@policy-lab/core';
import { Worker } from 'bullmq';
import type { Command } from 'commander';
import { CommandContext } from '../context.js';
import type { Io } from '../io.js';
import { checkReachable, connectionOptions, isFatalRedisError, parseQueueUrl, QUEUE_NAME } from '../queue/connection.js';
import { SETUP_VARIABLE, type WorkerSetup } from '../queue/job.js';

function positive(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new UsageError(`bad ${flag} '${text}': expected a positive integer`);
  return value;
}

export function register(program: Command, io: Io): void {
  program
    .command('worker')
    .description('process comparison runs from a BullMQ queue (start one per machine or core; stop with Ctrl-C)')
    .requiredOption('--queue <url>', 'the Redis of the comparison: redis://[user:password@]host:port[/db], rediss:// for TLS')
    .option('--concurrency <n>', 'runs processed at once by this worker (each in its own process)', '1')
    .option('--lock-duration <ms>', "job lock duration; a killed worker's job is taken over after about this long", '30000')
    .option('--stalled-interval <ms>', 'how often stalled jobs are checked for', '30000')
    .option('--max-jobs <n>', 'exit after this many jobs, completed or failed (default: keep waiting)')
    .option(
      '--dir <folder>',
      "the worker's folder: run folders and SFT caches go there, and a job's teacher run or data must be inside it",
      path.join(tmpdir(), 'policy-lab-worker'),
    )
    .addHelpText(
      'after',
      '\nExamples:\n  bench compare grpo gdpo --queue redis://10.0.0.5:6379 --out results/q   (on the coordinator)\n  bench worker --queue redis://10.0.0.5:6379                              (on each worker machine)\n  bench worker --queue rediss://:password@10.0.0.5:6380 --plugin ./my-plugin.js\n\nA worker loads only the plugins its own --plugin and --config name (jobs carry registered names),\nso start it with the plugins of the comparison. Checkpoints stay in --dir on the worker machine.',
    )
    .action(async function (
      this: Command,
      opts: { queue: string; concurrency: string; lockDuration: string; stalledInterval: string; maxJobs?: string; dir: string },
    ) {
      const ctx = new CommandContext(io, this);
      const connection = parseQueueUrl(opts.queue);
      const concurrency = positive('--concurrency', opts.concurrency);
      const maxJobs = opts.maxJobs === undefined ? Number.POSITIVE_INFINITY : positive('--max-jobs', opts.maxJobs);
      const lockDuration = positive('--lock-duration', opts.lockDuration);
      const stalledInterval = positive('--stalled-interval', opts.stalledInterval);
      // Load the plugins now: a broken --plugin fails here, not in every job.
      await ctx.registry();
      await checkReachable(connection);
      const setup: WorkerSetup = {
        cwd: io.cwd,
        folder: path.resolve(io.cwd, opts.dir),
        plugins: ctx.options.plugin,
        ...(ctx.options.config ? { config: ctx.options.config } : {}),
      };
      const processor = fileURLToPath(new URL('../queue/processor.js', import.meta.url));
      const worker = new Worker(QUEUE_NAME, processor, {
        connection: connectionOptions(connection) as never,
        concurrency,
        lockDuration,
        stalledInterval,
        maxStalledCount: 3,
        workerForkOptions: { env: { ...process.env, [SETUP_VARIABLE]: JSON.stringify(setup) } },
      });
      let completed = 0;
      let failed = 0;
      let fatal: Error | undefined;
      const shown = new Set<string>();
      await new Promise<void>((resolve) => {
        const count = () => {
          if (completed + failed >= maxJobs) resolve();
        };
        worker.on('completed', (job) => {
          completed += 1;
          if (!ctx.options.json) io.stderr(`worker: finished ${job.id}\n`);
          count();
        });
        worker.on('failed', (job, error) => {
          failed += 1;
          io.stderr(`worker: ${job?.id ?? 'a job'} failed: ${error.message}\n`);
          count();
        });
        // One line per distinct connection error, never a stack trace; errors no retry can cure end the worker.
        worker.on('error', (error) => {
          if (!shown.has(error.message)) io.stderr(`worker: Redis at ${connection.url}: ${error.message}\n`);
          shown.add(error.message);
          if (isFatalRedisError(error)) {
            fatal = error;
            resolve();
          }
        });
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await (fatal ? worker.close(true) : worker.close());
      if (fatal) throw new UsageError(`bad --queue '${connection.url}': ${fatal.message}`);
      if (ctx.options.json) ctx.printJson('worker', { finished: completed, failed });
    });
}
