import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Bumped when a `--json` shape changes incompatibly. */
export const SCHEMA_VERSION = 1;

/** Every `--json` document kind; each has `schemas/<kind>.schema.json` in this package. */
export const SCHEMA_KINDS = [
  'list',
  'advantages',
  'train',
  'compare',
  'env',
  'metric',
  'speed',
  'certify',
  'policy-cliff',
  'cross-policy-gap',
  'credit-map',
] as const;

/** Absolute path of a kind's JSON Schema (works from src/ and dist/). */
export function schemaPath(kind: (typeof SCHEMA_KINDS)[number]): string {
  return path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'schemas', `${kind}.schema.json`);
}
