/**
 * Ends a worker process when the process that started it is gone (a coordinator killed with
 * kill -9 runs no cleanup). The watch runs on its own thread because training blocks the
 * main event loop for long stretches, so an IPC 'disconnect' event would only be seen at the
 * end of the unit, after the worker had written into a folder a new coordinator now owns.
 */
import { Worker } from 'node:worker_threads';

const WATCH = `
const { workerData } = require('node:worker_threads');
setInterval(() => {
  let gone = process.ppid !== workerData.parent;
  if (!gone) {
    try { process.kill(workerData.parent, 0); } catch (error) { gone = error.code === 'ESRCH'; }
  }
  // SIGKILL: the main thread may be inside a tensor op; checkpoints are written atomically and resume.
  if (gone) process.kill(workerData.self, 'SIGKILL');
}, workerData.intervalMs);
`;

let watching = false;

/** Starts the watch once per process; `intervalMs` bounds how long an orphan keeps running. */
export function exitWithParent(intervalMs = 250): void {
  if (watching || process.ppid <= 1) return;
  watching = true;
  new Worker(WATCH, { eval: true, workerData: { parent: process.ppid, self: process.pid, intervalMs } }).unref();
}
