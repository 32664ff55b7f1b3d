/**
 * A short training run of a registered Method, found through the registry as the CLI finds it,
 * with its per-step metrics (metrics.jsonl) read back: the acting tests of the seed-paper rows.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRegistry } from '@policy-lab/core/node';
import { initBackend, train } from '@policy-lab/trainer';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
export const { registry } = await createRegistry({ cwd: root, discoverFrom: [root] });

export async function shortRun(options: {
  method: string;
  env: string;
  seed: number;
  episodes: number;
  overrides: Record<string, unknown>;
  /** Without it the run starts from random weights; with it, an SFT warm start cached in a fresh folder. */
  sft?: boolean;
}) {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
  const outDir = mkdtempSync(path.join(tmpdir(), `${options.method}-`));
  const result = await train({
    registry,
    method: options.method,
    env: options.env,
    seed: options.seed,
    budget: { episodes: options.episodes },
    overrides: options.overrides,
    ...(options.sft ? { sftCacheDir: mkdtempSync(path.join(tmpdir(), `${options.method}-sft-`)) } : { sft: 'none' as const }),
    outDir,
  });
  const steps = readFileSync(path.join(outDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, number>);
  return { result, steps };
}
