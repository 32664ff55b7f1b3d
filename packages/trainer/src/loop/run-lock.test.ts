import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { folderLockFile, holdFolder, type LockOwner, ownerState, tryLock, waitForLock } from './run-lock.js';

const dir = () => mkdtempSync(path.join(tmpdir(), 'run-lock-'));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}
function livePid(): number {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  children.push(child);
  return child.pid as number;
}
const owner = (pid: number, extra: Partial<LockOwner> = {}): LockOwner => ({
  pid,
  host: hostname(),
  started: '2026-01-02T03:04:05.000Z',
  purpose: 'bench train',
  ...extra,
});
const leave = (file: string, who: LockOwner) => writeFileSync(file, JSON.stringify(who));

describe('run-lock', () => {
  it('breaks a lock whose owner pid is dead at once: the first attempt takes it, no wait loop', () => {
    const file = path.join(dir(), 'a.lock');
    leave(file, owner(deadPid()));
    const attempt = tryLock(file, 'test');
    expect(attempt.acquired).toBe(true);
    expect(JSON.parse(readFileSync(file, 'utf8')).pid).toBe(process.pid);
    if (attempt.acquired) attempt.lock.release();
    expect(existsSync(file)).toBe(false);
  });

  it('refuses a lock whose owner is alive, naming it; a pid reused by another process counts as dead', () => {
    const file = path.join(dir(), 'b.lock');
    const pid = livePid();
    leave(file, owner(pid));
    const attempt = tryLock(file, 'test');
    expect(attempt).toEqual({ acquired: false, holder: owner(pid) });
    expect(ownerState(owner(pid, { processStart: '1' }))).toBe('dead');
    leave(file, owner(pid, { processStart: '1' }));
    expect(tryLock(file, 'test').acquired).toBe(true);
  });

  it('treats an owner on another host as holding (its pid cannot be checked from here)', () => {
    const file = path.join(dir(), 'c.lock');
    leave(file, owner(deadPid(), { host: 'elsewhere.example' }));
    expect(ownerState(owner(1, { host: 'elsewhere.example' }))).toBe('elsewhere');
    expect(tryLock(file, 'test').acquired).toBe(false);
  });

  it('holdFolder refuses a second writer with the holder pid, host and start time; the lock sits beside the folder', () => {
    const run = path.join(dir(), 'run');
    const first = holdFolder(run, 'bench train');
    expect(first.file).toBe(folderLockFile(run));
    expect(first.file).toBe(`${run}.lock`);
    expect(() => holdFolder(run, 'bench train')).toThrow(
      new RegExp(
        `--out ${run} is in use by pid ${process.pid} on host ${hostname()} since \\d{4}-\\d\\d-\\d\\dT.*\\(bench train\\)`,
      ),
    );
    first.release();
    holdFolder(run, 'bench train').release();
  });

  it('a garbled lock is kept while young (it may be mid-write) and broken once old', () => {
    const file = path.join(dir(), 'd.lock');
    writeFileSync(file, '');
    expect(tryLock(file, 'test').acquired).toBe(false);
    const old = new Date(Date.now() - 60_000);
    spawnSync('touch', ['-d', old.toISOString(), file]);
    expect(tryLock(file, 'test').acquired).toBe(true);
  });

  it('waitForLock says what it waits for after the quiet time and takes the lock when the holder dies', async () => {
    const file = path.join(dir(), 'e.lock');
    const pid = livePid();
    leave(file, owner(pid));
    const reports: string[] = [];
    const waiting = waitForLock(file, 'test', {
      quietMs: 100,
      pollMs: 20,
      onWait: (holder) => {
        reports.push(`${holder?.pid}`);
        process.kill(pid, 'SIGKILL');
      },
    });
    const lock = await waiting;
    expect(reports).toEqual([String(pid)]);
    expect(lock.owner.pid).toBe(process.pid);
    lock.release();
  });

  it('a process killed with SIGKILL leaves its lock; the next attempt breaks it at once', () => {
    const folder = dir();
    const script = (file: string, end: string) =>
      `const fs=require('fs');fs.writeFileSync(${JSON.stringify(file)},JSON.stringify({pid:process.pid,host:require('os').hostname(),started:new Date().toISOString(),purpose:'child'}));${end}`;
    const killed = path.join(folder, 'killed.lock');
    spawnSync(process.execPath, ['-e', script(killed, "process.kill(process.pid,'SIGKILL')")]);
    expect(existsSync(killed)).toBe(true);
    expect(tryLock(killed, 'test').acquired).toBe(true);
  });

  it('an owner that exited but was never reaped (a zombie: its parent was killed too) counts as dead', async () => {
    // A parent that forks a child which exits at once and never waits for it: the child stays a zombie.
    const program = 'import os, sys, time\npid = os.fork()\nif pid == 0:\n    os._exit(0)\nprint(pid, flush=True)\ntime.sleep(5)';
    const parent = spawn('python3', ['-c', program], { stdio: ['ignore', 'pipe', 'ignore'] });
    children.push(parent);
    const pid = await new Promise<number>((resolve) =>
      parent.stdout?.once('data', (chunk) => resolve(Number(String(chunk).trim()))),
    );
    const state = () => {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2)[0];
    };
    const deadline = Date.now() + 5_000;
    while (state() !== 'Z' && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(state()).toBe('Z');
    expect(ownerState(owner(pid))).toBe('dead');
  });
});
