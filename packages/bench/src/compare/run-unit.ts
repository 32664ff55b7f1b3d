/**
 * Trains one unit of a comparison in the current process: what a local pool worker and a
 * BullMQ sandboxed processor both do.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { UsageError } from '@policy-lab/core';
import { createRegistry } from '@policy-lab/core/node';
import type { TrainProgress, TrainResult } from '@policy-lab/trainer';
import { type RunCreditMap, runCreditMap } from '../diagnostics/credit-map.js';
import { type CompareModel, hfOptions, type PreferencesRef } from './plan.js';
import type { UnitRequest } from './pool.js';

/** A unit's result: the run's, and the comparison's diagnostics of its final policy. */
export type UnitResult = TrainResult & { creditMap?: RunCreditMap };

export async function runUnit(
  request: UnitRequest,
  where: { cwd: string; outDir: string; sftCacheDir: string; onProgress(progress: TrainProgress): void },
): Promise<UnitResult> {
  const { registry } = await createRegistry({
    cwd: where.cwd,
    plugins: request.plugins,
    ...(request.config ? { config: request.config } : {}),
  });
  const trainer = await import('@policy-lab/trainer');
  const preferences = request.preferences && readPreferences(request.preferences, trainer.parsePreferenceData);
  if (request.model) checkModelFiles(request.model, trainer);
  await trainer.initBackend({ name: request.backend, kernels: request.kernels, threads: request.threads });
  // One writer per run folder: a unit still trained by an orphaned worker is refused, not interleaved.
  const hold = trainer.holdFolder(where.outDir, `bench compare unit ${request.unit.id}`);
  try {
    const result = await trainer.train({
      registry,
      method: request.unit.method,
      env: request.unit.env,
      seed: request.unit.seed,
      budget: request.budget,
      overrides: request.overrides,
      outDir: where.outDir,
      resume: true,
      backend: request.backend,
      sftCacheDir: where.sftCacheDir,
      onProgress: where.onProgress,
      ...(preferences ? { preferences } : {}),
      ...(request.model ? hfOptions(request.model) : {}),
    });
    // A diagnostic of the finished policy, on a side cost: never part of the run's budget or trajectory.
    return { ...result, creditMap: await runCreditMap(where.outDir, registry, trainer.creditMapOfRun) };
  } finally {
    hold.release();
  }
}

/** The model folder on this worker, refused when its files are not those the comparison planned with. */
function checkModelFiles(
  model: CompareModel,
  trainer: Pick<typeof import('@policy-lab/trainer'), 'modelFingerprint' | 'changedModelFiles'>,
): void {
  const changed = trainer.changedModelFiles({ files: model.files }, trainer.modelFingerprint(model.folder));
  if (changed.length)
    throw new UsageError(`--model ${model.folder}: the folder changed since the comparison started: ${changed.join(', ')}`);
}

/** The comparison's preference file, refused when its content is not what the comparison planned with. */
function readPreferences(
  ref: PreferencesRef,
  parse: typeof import('@policy-lab/trainer').parsePreferenceData,
): ReturnType<typeof parse> {
  let text: string;
  try {
    text = readFileSync(ref.file, 'utf8');
  } catch (error) {
    throw new UsageError(`--data ${ref.file}: cannot read on this worker (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const sha256 = createHash('sha256').update(text).digest('hex');
  if (sha256 !== ref.sha256)
    throw new UsageError(
      `--data ${ref.file}: the file changed since the comparison started (sha256 ${sha256.slice(0, 12)}, planned ${ref.sha256.slice(0, 12)})`,
    );
  return parse(text, ref.file);
}
