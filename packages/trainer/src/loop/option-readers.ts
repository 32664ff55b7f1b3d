/**
 * Shared options that only some plugins read. Setting one that no active plugin of the run
 * reads is an error naming the key and the plugins that would read it, so a `--set clipLow=0.5`
 * can never be recorded in a run's configuration and silently ignored.
 */
import { type Registry, UsageError } from '@policy-lab/core';
import type { Resolved } from './plugins.js';

interface Reader {
  /** Does this resolved run read the key? */
  reads(run: Resolved): boolean;
  /** Which registered plugins (or settings) would read it, for the error message. */
  readers(registry: Registry): string;
}

const names = (list: readonly { name: string }[]) => list.map((p) => p.name).join(', ') || 'none installed';

const honouredBy = (key: string): Reader => ({
  reads: ({ loss }) => (loss.honours ?? []).includes(key),
  readers: (registry) =>
    `the losses ${names(
      registry
        .list('losses')
        .map((e) => e.item)
        .filter((l) => (l.honours ?? []).includes(key)),
    )}`,
});
const withDivergence: Reader = {
  reads: ({ divergence }) => divergence !== undefined,
  readers: (registry) => `a run with a divergence (--set divergence=<${names(registry.list('divergences').map((e) => e.item))}>)`,
};
const rowLosses: Reader = {
  reads: ({ loss }) => loss.kind === 'rows',
  readers: () => "losses over advantage-weighted rows (kind 'rows'); preference losses train on pairs or labels",
};

/** The shared keys that need a reader; every other key is read by every run. */
export const OPTION_READERS: Readonly<Record<string, Reader>> = {
  clipLow: honouredBy('clipLow'),
  clipHigh: honouredBy('clipHigh'),
  divergenceCoef: withDivergence,
  divergencePlacement: withDivergence,
  targetDivergence: withDivergence,
  valueCoef: {
    reads: ({ estimator, config }) => estimator.needsCritic === true || config.model.valueHead,
    readers: (registry) =>
      `estimators with a critic (${names(
        registry
          .list('estimators')
          .map((e) => e.item)
          .filter((e) => e.needsCritic),
      )}) or a run with model.valueHead=true`,
  },
  resampleRounds: {
    reads: ({ estimator }) => typeof estimator.keepGroup === 'function',
    readers: (registry) =>
      `estimators with dynamic sampling: ${names(
        registry
          .list('estimators')
          .map((e) => e.item)
          .filter((e) => e.keepGroup),
      )}`,
  },
  aggregation: rowLosses,
  topEntropyQuantile: rowLosses,
  softPromptTraining: {
    reads: ({ config }) => (config.softPrompt ?? 0) > 0,
    readers: () => 'a run with a soft prompt (--set softPrompt=<P> with P >= 1)',
  },
  teacher: {
    reads: ({ loss, divergence, estimator }) =>
      divergence !== undefined ||
      (loss.needs?.reference ?? false) ||
      (loss.kind === 'rows' && (loss.needs?.teacher ?? false)) ||
      (estimator.needsTeacher ?? false),
    readers: () =>
      'losses that read a reference or a teacher (opd, gopd, dpo, ...), estimators that score under a teacher (dpo-implicit-dense) or a run with a divergence',
  },
};

/** True when the run reads `key` (keys without an entry are read by every run). */
export function runReads(run: Resolved, key: string): boolean {
  const reader = OPTION_READERS[key];
  return reader === undefined || reader.reads(run);
}

/** The keys of `setKeys` that no active plugin of the run reads. */
export function unreadKeys(run: Resolved, setKeys: Iterable<string>): string[] {
  return [...setKeys].filter((key) => !runReads(run, key));
}

/** Which registered plugins would read `key`, in words. */
export function readersOf(key: string, registry: Registry): string {
  return OPTION_READERS[key]?.readers(registry) ?? 'every run';
}

/** Throws a UsageError for the first key in `setKeys` that no active plugin of the run reads. */
export function checkOptionReaders(run: Resolved, setKeys: ReadonlySet<string>, registry: Registry): void {
  for (const key of unreadKeys(run, setKeys)) {
    const reader = OPTION_READERS[key] as Reader;
    throw new UsageError(
      `--set ${key}: no active plugin of this run reads it (method '${run.method.name}': estimator '${run.estimator.name}', loss '${run.loss.name}'${run.divergence ? `, divergence '${run.divergence.name}'` : ''}); it is read by ${reader.readers(registry)}`,
    );
  }
}
