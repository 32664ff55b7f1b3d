/**
 * Preference datasets in TRL's two JSONL formats: paired `{prompt, chosen, rejected}` (DPO
 * and relatives, with UPO's optional `reliability` or `passes`) and unpaired
 * `{prompt, completion, label}` (KTO). Errors name the file, the line and the problem.
 */
import { UsageError } from '@policy-lab/core';

export interface PreferencePair {
  prompt: string;
  chosen: string;
  rejected: string;
  /** How reliable the label is, in [0, 1] (UPO): given, or 1 - BALD / log 2 of the record's `passes`. */
  reliability?: number;
}

export interface UnpairedExample {
  prompt: string;
  completion: string;
  desirable: boolean;
}

/** One unpaired record: `{"prompt", "completion", "label"}` with a boolean label. */
export function parseUnpairedRecord(record: Record<string, unknown>, where: string): UnpairedExample {
  for (const key of ['prompt', 'completion'] as const) {
    if (!(key in record)) throw new UsageError(`${where}: missing field '${key}'`);
    if (typeof record[key] !== 'string')
      throw new UsageError(`${where}: field '${key}' must be a string, got ${JSON.stringify(record[key])}`);
  }
  if (!('label' in record)) throw new UsageError(`${where}: missing field 'label' (true for desirable, false for undesirable)`);
  if (typeof record.label !== 'boolean')
    throw new UsageError(`${where}: field 'label' must be true or false, got ${JSON.stringify(record.label)}`);
  if ((record.completion as string).length === 0) throw new UsageError(`${where}: completion must not be empty`);
  return { prompt: record.prompt as string, completion: record.completion as string, desirable: record.label };
}

/** The JSONL records of a file as objects, with the line each came from (blank lines skipped). */
function jsonlRecords(text: string, file: string): { record: Record<string, unknown>; where: string }[] {
  const out: { record: Record<string, unknown>; where: string }[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${file}:${i + 1}`;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch (error) {
      throw new UsageError(`${where}: not valid JSON (${(error as Error).message})`);
    }
    if (typeof record !== 'object' || record === null || Array.isArray(record))
      throw new UsageError(`${where}: expected an object ({prompt, chosen, rejected} or {prompt, completion, label})`);
    out.push({ record: record as Record<string, unknown>, where });
  });
  return out;
}

/** BALD of T passes of [p(chosen better), p(rejected better)], as in UPO: H[mean] - mean H, in nats. */
export function baldOfPasses(passes: readonly (readonly number[])[]): number {
  const entropy = (p: readonly number[]) => -p.reduce((sum, x) => (x > 0 ? sum + x * Math.log(x) : sum), 0);
  const mean = [0, 1].map((k) => passes.reduce((sum, pass) => sum + (pass[k] as number), 0) / passes.length);
  return Math.max(0, entropy(mean) - passes.reduce((sum, pass) => sum + entropy(pass), 0) / passes.length);
}

/** UPO's optional per-record reliability: `reliability` in [0, 1], or `passes` (MC-dropout judgements). */
function reliabilityOf(fields: Record<string, unknown>, where: string): number | undefined {
  if ('reliability' in fields) {
    const r = fields.reliability;
    if (typeof r !== 'number' || !(r >= 0 && r <= 1))
      throw new UsageError(`${where}: field 'reliability' must be a number in [0, 1], got ${JSON.stringify(r)}`);
    return r;
  }
  if ('passes' in fields) {
    const passes = fields.passes;
    const valid =
      Array.isArray(passes) &&
      passes.length > 0 &&
      passes.every((p) => Array.isArray(p) && p.length === 2 && p.every((x) => typeof x === 'number' && x >= 0 && x <= 1));
    if (!valid)
      throw new UsageError(
        `${where}: field 'passes' must be a non-empty list of [p(chosen better), p(rejected better)] pairs of probabilities`,
      );
    return Math.min(1, Math.max(0, 1 - baldOfPasses(passes as number[][]) / Math.LN2));
  }
  return undefined;
}

function parsePairRecord(fields: Record<string, unknown>, where: string): PreferencePair {
  for (const key of ['prompt', 'chosen', 'rejected'] as const) {
    if (!(key in fields)) throw new UsageError(`${where}: missing field '${key}'`);
    if (typeof fields[key] !== 'string')
      throw new UsageError(`${where}: field '${key}' must be a string, got ${JSON.stringify(fields[key])}`);
  }
  if ((fields.chosen as string).length === 0 || (fields.rejected as string).length === 0)
    throw new UsageError(`${where}: chosen and rejected must not be empty`);
  const reliability = reliabilityOf(fields, where);
  return {
    prompt: fields.prompt as string,
    chosen: fields.chosen as string,
    rejected: fields.rejected as string,
    ...(reliability !== undefined ? { reliability } : {}),
  };
}

/**
 * Reads a JSONL preference dataset: one `{"prompt", "chosen", "rejected"}` object per line
 * (blank lines skipped; optional UPO `reliability` or `passes`). Errors name the file, the
 * line and what is wrong with it.
 */
export function parsePreferenceJsonl(text: string, file: string): PreferencePair[] {
  const pairs = jsonlRecords(text, file).map(({ record, where }) => parsePairRecord(record, where));
  if (pairs.length === 0) throw new UsageError(`${file}: no preference pairs`);
  return pairs;
}

/**
 * A preference dataset in either of TRL's formats, told apart by the first record: paired
 * `{prompt, chosen, rejected}` or unpaired `{prompt, completion, label}` (KTO). Mixing them
 * is an error naming the line.
 */
export function parsePreferenceData(
  text: string,
  file: string,
): { file: string; pairs: PreferencePair[] } | { file: string; examples: UnpairedExample[] } {
  const records = jsonlRecords(text, file);
  const first = records[0];
  if (!first) throw new UsageError(`${file}: no records`);
  if ('completion' in first.record || 'label' in first.record) {
    const examples = records.map(({ record, where }) => {
      if ('chosen' in record || 'rejected' in record)
        throw new UsageError(`${where}: a paired record in an unpaired dataset (${file}:1 has completion/label)`);
      return parseUnpairedRecord(record, where);
    });
    return { file, examples };
  }
  return { file, pairs: records.map(({ record, where }) => parsePairRecord(record, where)) };
}
