import { UsageError } from './errors.js';

/** Parses one `--set key=value`: the value as JSON when it is valid JSON, else as a string. */
export function parseSetEntry(entry: string): { path: string[]; value: unknown } {
  const eq = entry.indexOf('=');
  if (eq <= 0) throw new UsageError(`bad --set '${entry}': expected key=value (e.g. --set learningRate=3e-4)`);
  const key = entry.slice(0, eq).trim();
  const raw = entry.slice(eq + 1);
  const path = key.split('.');
  if (path.some((part) => part.length === 0 || part === '__proto__' || part === 'constructor' || part === 'prototype')) {
    throw new UsageError(`bad --set key '${key}'`);
  }
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    value = raw;
  }
  return { path, value };
}

/** Folds `--set` entries into one nested object (`weights.correct=2` -> { weights: { correct: 2 } }). */
export function parseSetOptions(entries: readonly string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const entry of entries) {
    const { path, value } = parseSetEntry(entry);
    let node = out;
    for (const part of path.slice(0, -1)) {
      const next = node[part];
      if (typeof next !== 'object' || next === null || Array.isArray(next)) node[part] = {};
      node = node[part] as Record<string, unknown>;
    }
    node[path[path.length - 1] as string] = value;
  }
  return out;
}

/**
 * Checks options against a factory's declared option specs and fills defaults.
 * Unknown keys and wrong types are UsageErrors naming the key and what is accepted.
 */
export function resolveOptions<T extends object>(
  owner: string,
  specs: Readonly<Record<string, { type: string; default?: unknown; values?: readonly string[] }>>,
  given: Readonly<Record<string, unknown>> = {},
): T {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(given)) {
    if (!(key in specs)) {
      throw new UsageError(`${owner}: unknown option '${key}'; accepted: ${Object.keys(specs).join(', ') || '(none)'}`);
    }
  }
  for (const [key, spec] of Object.entries(specs)) {
    const value = key in given ? given[key] : spec.default;
    if (value === undefined) continue;
    const problem = typeProblem(spec, value);
    if (problem) throw new UsageError(`${owner}: option '${key}' ${problem}, got ${JSON.stringify(value)}`);
    out[key] = value;
  }
  return out as T;
}

function typeProblem(spec: { type: string; values?: readonly string[] }, value: unknown): string | undefined {
  switch (spec.type) {
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? undefined : 'must be a finite number';
    case 'integer':
      return Number.isInteger(value) ? undefined : 'must be an integer';
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'must be true or false';
    case 'string':
      return typeof value === 'string' ? undefined : 'must be a string';
    case 'enum':
      return spec.values?.includes(value as string) ? undefined : `must be one of ${spec.values?.join(', ')}`;
    case 'array':
      return Array.isArray(value) ? undefined : 'must be an array';
    case 'object':
      // A function is accepted where an object is: plugins built from code may pass one (e.g. a potential).
      return (typeof value === 'object' && value !== null && !Array.isArray(value)) || typeof value === 'function'
        ? undefined
        : 'must be an object';
    default:
      return undefined;
  }
}
