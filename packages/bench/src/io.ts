import { SCHEMA_VERSION } from '@policy-lab/core';

/** Where a command writes. Tests pass buffers; the bin passes the process streams. */
export interface Io {
  stdout(text: string): void;
  stderr(text: string): void;
  /** True when stderr is a terminal (progress bars are drawn only then). */
  isTTY: boolean;
  cwd: string;
  env: Readonly<Record<string, string | undefined>>;
}

export function processIo(): Io {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    isTTY: Boolean(process.stderr.isTTY),
    cwd: process.cwd(),
    env: process.env,
  };
}

/** The one JSON document a `--json` command prints: `schemaVersion` and `kind` first. */
export function jsonDocument(kind: string, body: Record<string, unknown>): string {
  return `${JSON.stringify({ schemaVersion: SCHEMA_VERSION, kind, ...body }, null, 2)}\n`;
}

/**
 * A value as a one-line message may show it: JSON, cut at `max` characters; numbers as
 * written (Infinity stays Infinity); a value too deep or cyclic to serialise by its type.
 */
export function showValue(value: unknown, max = 60): string {
  if (typeof value === 'number' || value === undefined) return String(value);
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    return Array.isArray(value) ? 'an array' : `an ${typeof value}`;
  }
  return text.length > max ? `${text.slice(0, max)}...` : text;
}
