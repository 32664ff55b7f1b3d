import { readFileSync } from 'node:fs';
import { SCHEMA_KINDS, schemaPath } from '@policy-lab/core';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { main } from '../cli.js';
import type { Io } from '../io.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in-process with captured streams. */
export async function runCli(argv: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const io: Io = {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    isTTY: false,
    cwd: options.cwd ?? process.cwd(),
    env: options.env ?? {},
  };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

/**
 * Validates a document against the repo's JSON Schema of its kind; returns the errors (empty when
 * valid). Every schema is loaded, so that one may refer to another's definitions by file name.
 */
export function schemaErrors(kind: (typeof SCHEMA_KINDS)[number], document: unknown): string[] {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  const ids = new Map<string, string>();
  for (const each of SCHEMA_KINDS) {
    const schema = JSON.parse(readFileSync(schemaPath(each), 'utf8')) as { $id: string };
    ajv.addSchema(schema);
    ids.set(each, schema.$id);
  }
  const validate = ajv.getSchema(ids.get(kind) as string);
  if (!validate) throw new Error(`no JSON Schema for kind '${kind}'`);
  if (validate(document)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}
