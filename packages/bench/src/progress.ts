import cliProgress from 'cli-progress';
import type { Io } from './io.js';

export interface Progress {
  update(fraction: number, label: string): void;
  stop(): void;
}

/** A progress bar on stderr, drawn only on a terminal and never under --json. */
export function progressBar(io: Io, json: boolean, title: string): Progress {
  if (json || !io.isTTY) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      format: `${title} [{bar}] {percentage}% | ETA {eta_formatted} | {label}`,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(1000, 0, { label: '' });
  return {
    update(fraction, label) {
      bar.update(Math.round(Math.max(0, Math.min(1, fraction)) * 1000), { label });
    },
    stop() {
      bar.stop();
    },
  };
}
