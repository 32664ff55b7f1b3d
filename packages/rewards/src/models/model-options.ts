/**
 * What every learned reward model of this package declares the same way: where it lives (a
 * transformer of its own or a head on the policy's trunk), its size, its optimiser and its replay.
 */
import type { RewardModelArchitecture } from '@policy-lab/core';

export interface ModelSizeOptions {
  architecture: 'transformer' | 'head';
  dim: number;
  layers: number;
  heads: number;
  learningRate: number;
  updatesPerStep: number;
  replay: number;
  batch: number;
}

/** The option specs, with each model's own defaults. */
export function modelOptionSpecs(defaults: Omit<ModelSizeOptions, 'architecture'>) {
  return {
    architecture: {
      type: 'enum',
      values: ['transformer', 'head'],
      default: 'transformer',
      doc: "'transformer': a model of its own; 'head': a scalar head on the policy's trunk (dim, layers, heads unused)",
    },
    dim: { type: 'integer', default: defaults.dim, doc: 'width of its transformer' },
    layers: { type: 'integer', default: defaults.layers, doc: 'its layers' },
    heads: { type: 'integer', default: defaults.heads, doc: 'its attention heads (must divide dim)' },
    learningRate: { type: 'number', default: defaults.learningRate, doc: 'its Adam learning rate' },
    updatesPerStep: { type: 'integer', default: defaults.updatesPerStep, doc: 'its gradient steps per training step' },
    replay: {
      type: 'integer',
      default: defaults.replay,
      doc: 'examples kept for replay (0: each update trains on the step’s examples only)',
    },
    batch: { type: 'integer', default: defaults.batch, doc: 'examples per update drawn from the replay buffer' },
  } as const;
}

/** RangeErrors (the registry reports them as usage errors) for sizes out of range. */
export function checkModelOptions(name: string, o: ModelSizeOptions, positive: readonly string[] = []): void {
  const values = o as unknown as Record<string, number>;
  for (const key of ['dim', 'layers', 'heads', 'updatesPerStep', 'batch', ...positive])
    if (!((values[key] as number) >= 1)) throw new RangeError(`${name}: ${key} must be an integer >= 1, got ${values[key]}`);
  if (!(o.replay >= 0)) throw new RangeError(`${name}: replay must be an integer >= 0, got ${o.replay}`);
  if (o.dim % o.heads !== 0) throw new RangeError(`${name}: heads ${o.heads} must divide dim ${o.dim}`);
  if (!(o.learningRate > 0)) throw new RangeError(`${name}: learningRate must be > 0, got ${o.learningRate}`);
}

/** The declaration the trainer reads: the architecture, the optimiser and the replay buffer. */
export function modelDeclaration(o: ModelSizeOptions): {
  architecture: RewardModelArchitecture;
  learningRate: number;
  updatesPerStep: number;
  replay?: { capacity: number; batch: number };
} {
  return {
    architecture:
      o.architecture === 'head' ? { kind: 'head' } : { kind: 'transformer', dim: o.dim, layers: o.layers, heads: o.heads },
    learningRate: o.learningRate,
    updatesPerStep: o.updatesPerStep,
    ...(o.replay > 0 ? { replay: { capacity: o.replay, batch: o.batch } } : {}),
  };
}
