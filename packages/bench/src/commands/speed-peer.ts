/**
 * Running a PyTorch peer of a `bench speed` workload (packages/bench/peers/): which Python, as
 * many threads as ours, and the refusal of a peer whose matmuls run on the reference BLAS.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { RunError, UsageError } from '@policy-lab/core';

const PYTHON = '/usr/bin/python3';

/** Where the peer's Python is: POLICY_LAB_PEER_PYTHON (tests point it at a stub), else Debian's. */
export const peerPython = (env: Record<string, string | undefined>) => env.POLICY_LAB_PEER_PYTHON ?? PYTHON;
export const INSTALL = 'apt-get install -y python3-torch libopenblas0-pthread';
/** BLAS libraries that make PyTorch's matmuls fast; anything else times the peer at its worst. */
const OPTIMISED_BLAS = ['openblas', 'blis', 'mkl'];

/**
 * Runs `peers/<script> ...args` with `threads` threads for every pool torch may use and returns
 * the JSON of its last stdout line; refuses (exit 2) a missing Python, a Python without torch,
 * and a torch on an unoptimised BLAS.
 */
export function runPeer(python: string, script: string, args: readonly string[], threads: number): Record<string, unknown> {
  const file = fileURLToPath(new URL(`../../peers/${script}`, import.meta.url));
  if (!existsSync(python)) throw new UsageError(`--peer torch needs ${python} with torch: ${INSTALL}`);
  let peer: Record<string, unknown>;
  try {
    const output = execFileSync(python, [file, ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 64 * 1024 * 1024,
      env: {
        ...process.env,
        OMP_NUM_THREADS: String(threads),
        OPENBLAS_NUM_THREADS: String(threads),
        MKL_NUM_THREADS: String(threads),
      },
    });
    peer = JSON.parse(output.trim().split('\n').pop() as string);
  } catch (error) {
    const text = String((error as { stderr?: string }).stderr ?? (error as Error).message);
    if (/No module named 'torch'/.test(text)) throw new UsageError(`--peer torch: ${python} has no torch module: ${INSTALL}`);
    throw new RunError(`the PyTorch peer failed: ${text.trim().split('\n').slice(-3).join(' ')}`);
  }
  // A peer on the reference BLAS is PyTorch at its worst: a ratio to it would flatter us.
  if (!OPTIMISED_BLAS.includes(String(peer.blas)))
    throw new UsageError(
      `--peer torch: its matmuls run on ${peer.blas === 'reference' ? 'the reference BLAS' : `an unrecognised BLAS (${String(peer.blas)})`} (${((peer.blasLibraries as string[] | undefined) ?? []).join(', ') || 'no BLAS library found'}), not PyTorch at its best; install an optimised one (it becomes libblas.so.3): ${INSTALL}`,
    );
  return peer;
}

/** The CPU's model and the vector extensions that decide matmul speed (from /proc/cpuinfo on Linux). */
function cpuFlags(): string[] {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const flags = new Set((/^flags\s*:\s*(.*)$/m.exec(info)?.[1] ?? '').split(/\s+/));
    return ['sse4_2', 'avx', 'avx2', 'fma', 'avx512f', 'avx512_vnni', 'amx_tile'].filter((f) => flags.has(f));
  } catch {
    return [];
  }
}

/** The machine a figure was measured on. */
export function machine(): { cpus: number; cpuModel: string; cpuFlags: string[]; node: string } {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    cpuFlags: cpuFlags(),
    node: process.version,
  };
}
