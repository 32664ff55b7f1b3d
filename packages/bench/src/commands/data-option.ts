/**
 * --data for `bench train` and `bench compare`: a folder goes to the environment
 * (envOptions.data, e.g. translate's dictionary and corpus); a file is a JSONL preference
 * dataset for offline preference training, parsed here so that a malformed line is an error
 * (naming the line) before any training starts.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { UsageError } from '@policy-lab/core';
import type { PreferencePair, UnpairedExample } from '@policy-lab/trainer';

export interface PreferenceDataset {
  file: string;
  pairs?: PreferencePair[];
  examples?: UnpairedExample[];
  /** Of the file's text: a comparison records it and its workers check it. */
  sha256: string;
}

export async function dataOption(data: string, overrides: Record<string, unknown>): Promise<PreferenceDataset | undefined> {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(data).isDirectory();
  } catch (error) {
    throw new UsageError(`--data ${data}: cannot read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (isDirectory) {
    overrides.envOptions = { ...((overrides.envOptions as Record<string, unknown>) ?? {}), data };
    return undefined;
  }
  const { parsePreferenceData } = await import('@policy-lab/trainer');
  const text = readFileSync(data, 'utf8');
  return { ...parsePreferenceData(text, data), sha256: createHash('sha256').update(text).digest('hex') };
}
