/**
 * Owner-recording lock files: one writer at a time for a run folder, one builder at a time for
 * an SFT cache entry. The lock file holds its owner (pid, host, start time, purpose); a lock
 * whose owner is a dead process on this host is broken at once, without waiting for any age.
 *
 * Why liveness and not age (proper-lockfile, lockfile decide staleness by mtime): the owner of
 * these locks is a training process whose event loop is blocked for long stretches by tensor
 * work, so it cannot refresh an mtime on a timer; an age rule either breaks a live owner's lock
 * (two writers) or makes every later run wait out the age after a kill -9 (the old 30 minutes).
 * A pid check answers both at once. Its limit: the owner of a lock written on another host
 * cannot be checked from here, so such a lock is treated as held and named.
 */
import {
  closeSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { UsageError } from '@policy-lab/core';

export interface LockOwner {
  pid: number;
  host: string;
  /** ISO time the lock was taken. */
  started: string;
  /** What the owner is doing: 'sft warm start', 'bench train', ... */
  purpose: string;
  /** Linux: the process start time in clock ticks (/proc/<pid>/stat), so a reused pid is not taken for the owner. */
  processStart?: string;
}

export interface HeldLock {
  readonly file: string;
  readonly owner: LockOwner;
  /** Removes the lock file if it still names this owner. Idempotent. */
  release(): void;
}

export type LockAttempt = { acquired: true; lock: HeldLock } | { acquired: false; holder: LockOwner | undefined };

/** A garbled or empty lock file younger than this may be mid-write by a process without hard links. */
const GARBLED_GRACE_MS = 5_000;
/** A break marker older than this was left by a process killed while breaking a lock. */
const BREAK_MARKER_STALE_MS = 10_000;

function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime); the command name in field 2 may contain spaces, so count after its ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/**
 * True for a process that has exited but was not reaped: its parent was killed too, and in a
 * container the init process may never reap it. It answers kill(pid, 0) but will never run again.
 */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state === 'Z' || state === 'X';
  } catch {
    return false;
  }
}

function ownOwner(purpose: string): LockOwner {
  const start = processStart(process.pid);
  return {
    pid: process.pid,
    host: hostname(),
    started: new Date().toISOString(),
    purpose,
    ...(start ? { processStart: start } : {}),
  };
}

/** "pid 123 on host h since 2026-12-04T15:00:00.000Z (bench train)". */
export function describeOwner(owner: LockOwner | undefined): string {
  if (!owner) return 'an unknown process (the lock file names no owner)';
  return `pid ${owner.pid} on host ${owner.host} since ${owner.started} (${owner.purpose})`;
}

/** 'dead' only when this host can prove it: the pid does not exist, or it is another process now. */
export function ownerState(owner: LockOwner): 'alive' | 'dead' | 'elsewhere' {
  if (owner.host !== hostname()) return 'elsewhere';
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return 'dead';
  }
  if (isZombie(owner.pid)) return 'dead';
  if (owner.processStart !== undefined) {
    const now = processStart(owner.pid);
    if (now !== undefined && now !== owner.processStart) return 'dead';
  }
  return 'alive';
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockOwner>;
    if (
      Number.isSafeInteger(value.pid) &&
      (value.pid as number) > 0 &&
      typeof value.host === 'string' &&
      typeof value.started === 'string' &&
      typeof value.purpose === 'string'
    )
      return value as LockOwner;
  } catch {
    // garbled: handled by the caller
  }
  return undefined;
}

/** Creates `file` with `text` only if it does not exist; the content is complete when the name appears. */
function createExclusive(file: string, text: string): boolean {
  const temporary = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(temporary, text);
  try {
    linkSync(temporary, file);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    // A file system without hard links: an exclusive create, written right after.
    let fd: number;
    try {
      fd = openSync(file, 'wx');
    } catch (inner) {
      if ((inner as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw inner;
    }
    try {
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
    return true;
  } finally {
    rmSync(temporary, { force: true });
  }
}

function readLock(file: string): { text: string; ageMs: number } | undefined {
  try {
    return { text: readFileSync(file, 'utf8'), ageMs: Date.now() - statSync(file).mtimeMs };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Removes the lock if it still has the content judged dead. Two processes may judge the same
 * lock dead; the break marker makes sure the second does not remove the lock the first just took.
 */
function breakDeadLock(file: string, deadText: string): void {
  const marker = `${file}.break`;
  let fd: number;
  try {
    fd = openSync(marker, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const age = readLock(marker)?.ageMs ?? 0;
    if (age > BREAK_MARKER_STALE_MS) rmSync(marker, { force: true });
    return; // another process is breaking it now; the caller tries again
  }
  try {
    if (readLock(file)?.text === deadText) unlinkSync(file);
  } finally {
    closeSync(fd);
    rmSync(marker, { force: true });
  }
}

const held = new Set<HeldLock>();
let exitHookInstalled = false;

function makeHeld(file: string, owner: LockOwner, text: string): HeldLock {
  const lock: HeldLock = {
    file,
    owner,
    release() {
      if (!held.delete(lock)) return;
      if (readLock(file)?.text === text) rmSync(file, { force: true });
    },
  };
  held.add(lock);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // A normal exit (also process.exit after an error) leaves no lock; a kill -9 leaves one whose pid is dead.
    process.on('exit', () => {
      for (const lock of [...held]) lock.release();
    });
  }
  return lock;
}

/** One attempt, no waiting: takes the lock, breaking it first when its owner is provably dead. */
export function tryLock(file: string, purpose: string): LockAttempt {
  mkdirSync(path.dirname(file), { recursive: true });
  const owner = ownOwner(purpose);
  const text = `${JSON.stringify(owner)}\n`;
  // At most a few rounds: each either takes the lock, finds a live holder, or removes a dead one.
  for (let round = 0; round < 5; round++) {
    if (createExclusive(file, text)) return { acquired: true, lock: makeHeld(file, owner, text) };
    const current = readLock(file);
    if (!current) continue; // released between our attempt and the read
    const holder = parseOwner(current.text);
    const dead = holder ? ownerState(holder) === 'dead' : current.ageMs > GARBLED_GRACE_MS;
    if (!dead) return { acquired: false, holder };
    breakDeadLock(file, current.text);
  }
  return { acquired: false, holder: parseOwner(readLock(file)?.text ?? '') };
}

export interface WaitOptions {
  /** Called once the wait passes `quietMs`, then every `reportEveryMs`: say what is waited for. */
  onWait?(holder: LockOwner | undefined, waitedSeconds: number): void;
  quietMs?: number;
  reportEveryMs?: number;
  pollMs?: number;
}

/** Waits for a live holder to finish; a dead holder's lock is taken at once. */
export async function waitForLock(file: string, purpose: string, options: WaitOptions = {}): Promise<HeldLock> {
  const { quietMs = 3_000, reportEveryMs = 30_000, pollMs = 200 } = options;
  const started = Date.now();
  let nextReport = started + quietMs;
  for (;;) {
    const attempt = tryLock(file, purpose);
    if (attempt.acquired) return attempt.lock;
    if (Date.now() >= nextReport) {
      options.onWait?.(attempt.holder, Math.round((Date.now() - started) / 1000));
      nextReport = Date.now() + reportEveryMs;
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** The lock file that guards a folder: beside it, so the folder holds only what its writer puts there. */
export function folderLockFile(dir: string): string {
  return `${path.resolve(dir)}.lock`;
}

/**
 * Holds a run or comparison folder for this process (one writer at a time). A second writer
 * is refused with the holder named; a holder killed with kill -9 is replaced at once.
 */
export function holdFolder(dir: string, purpose: string): HeldLock {
  const file = folderLockFile(dir);
  let attempt: LockAttempt;
  try {
    attempt = tryLock(file, purpose);
  } catch (error) {
    throw new UsageError(`--out ${dir} is not writable: cannot create its lock ${file} (${(error as Error).message})`);
  }
  if (attempt.acquired) return attempt.lock;
  throw new UsageError(
    `--out ${dir} is in use by ${describeOwner(attempt.holder)}; wait for it to finish or stop it (lock: ${file})`,
  );
}
