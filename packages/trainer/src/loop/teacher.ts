/** A finished run's policy as the teacher of distillation (its last checkpoint, frozen). */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Rng, type TrainConfig, UsageError } from '@policy-lab/core';
import { loadSafetensors } from '../checkpoint/safetensors.js';
import { createPolicy, type TransformerPolicy } from '../model/transformer.js';
import type { PolicyTokenizer } from '../tokenizer/policy-tokenizer.js';
import { refuseHfRun } from './checkpoint.js';
import { writeWeights } from './weights.js';

export function loadTeacher(
  folder: string,
  config: TrainConfig,
  tokenizer: PolicyTokenizer,
): ReturnType<TransformerPolicy['freeze']> {
  const sidecar = path.join(folder, 'checkpoint.json');
  let saved: { weights?: unknown; config?: { model?: Partial<TrainConfig['model']> }; tokenizer?: unknown };
  try {
    saved = JSON.parse(readFileSync(sidecar, 'utf8'));
  } catch (error) {
    throw new UsageError(
      `teacher ${folder}: cannot read ${sidecar} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); train the teacher with --out first`,
    );
  }
  refuseHfRun(saved, folder, 'a teacher');
  const model = saved.config?.model;
  if (typeof saved.weights !== 'string' || !model)
    throw new UsageError(`teacher ${folder}: ${sidecar} has no 'weights' or 'config.model' field (not a finished run)`);
  for (const key of ['dim', 'layers', 'heads', 'contextLength', 'mlpRatio'] as const)
    if (model[key] !== config.model[key])
      throw new UsageError(
        `teacher ${folder}: model.${key} is ${model[key]}, this run's is ${config.model[key]} (they must match)`,
      );
  if (JSON.stringify(saved.tokenizer) !== JSON.stringify(tokenizer.toJSON()))
    throw new UsageError(
      `teacher ${folder}: its alphabet differs from this environment's (train the teacher on the same environment)`,
    );
  const teacher = createPolicy(
    { ...config.model, valueHead: model.valueHead ?? false, vocabSize: tokenizer.vocabSize },
    Rng.seeded(0),
  );
  const { tensors } = loadSafetensors(path.join(folder, saved.weights));
  writeWeights(teacher, teacher.weightNames(), tensors, folder, 'model.');
  const frozen = teacher.freeze();
  teacher.dispose();
  return frozen;
}
