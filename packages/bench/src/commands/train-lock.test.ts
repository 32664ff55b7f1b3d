import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli } from '../test-support/run-cli.js';

const tiny = fileURLToPath(new URL('../../../trainer/src/test-support/tiny.ts', import.meta.url));
const settings =
  'train reinforce-mean --env echo --budget episodes=24 --sft none --threads 1 --set evalTasks=4 --set tasksPerStep=4 --set groupSize=6';
const train = (out: string) => runCli([...settings.split(' '), '--plugin', tiny, '--out', out]);

describe('bench train --out: one writer per run folder', () => {
  it('refuses a folder held by a live process (exit 2, the holder named) and takes over from a dead one', async () => {
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'train-lock-')), 'run');
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    writeFileSync(
      `${out}.lock`,
      JSON.stringify({ pid: holder.pid, host: hostname(), started: '2026-01-02T03:04:05.000Z', purpose: 'bench train' }),
    );
    try {
      const refused = await train(out);
      expect(refused.code).toBe(2);
      expect(refused.stderr.trim()).toBe(
        `bench: --out ${out} is in use by pid ${holder.pid} on host ${hostname()} since 2026-01-02T03:04:05.000Z (bench train); wait for it to finish or stop it (lock: ${out}.lock)`,
      );
      expect(existsSync(path.join(out, 'metrics.jsonl'))).toBe(false);
    } finally {
      holder.kill('SIGKILL');
      await new Promise((resolve) => holder.on('exit', resolve));
    }
    const done = await train(out);
    expect(done.stderr).toBe('');
    expect(done.code).toBe(0);
    expect(existsSync(path.join(out, 'result.json'))).toBe(true);
    expect(existsSync(`${out}.lock`)).toBe(false);
  });
});
