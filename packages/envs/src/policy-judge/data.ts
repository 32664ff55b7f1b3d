/**
 * A user's own rule sets and items for policy-judge (`--data`): a JSONL file, or a folder
 * holding `policy-judge.jsonl` (the form `bench train --data <dir>` passes to environments).
 * One JSON object per line, blank lines skipped:
 *
 *   {"rules": ["no weapons for kids", "no gambling ad"], "item": "weapons guide for kids", "verdict": "unsafe"}
 *   {"rules": ["no spoilers"], "item": "a film review that names the killer", "verdict": "unsafe"}
 *
 * `rules` (1-8 strings: the allowed-content policy; their order does not matter), `item` (a
 * string) and `verdict` (`safe` or `unsafe`). The verdict may be left out when every rule and the
 * item are in the built-in rule language; it is then computed, and when given it must agree.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '@policy-lab/core';
import { parseItem, parseRule, type Rule, verdict } from './rules.js';

export const DATA_FILE = 'policy-judge.jsonl';
const FIELDS = ['rules', 'item', 'verdict'] as const;
const VERDICTS = ['safe', 'unsafe'] as const;
export const MAX_RULES_PER_SET = 8;
const MAX_TEXT = 200;

export interface JudgeRecord {
  /** Rule texts, trimmed and sorted (the policy's identity). */
  rules: string[];
  item: string;
  verdict: 'safe' | 'unsafe';
  /** The 1-based line of the file it came from. */
  line: number;
}

/** A rule or item text: non-empty, at most 200 characters, one line, and (a rule) without ';', which separates rules. */
function text(value: unknown, where: string, field: string, rule: boolean): string {
  if (typeof value !== 'string' || value.trim() === '')
    throw new UsageError(`${where}: field '${field}' must be a non-empty string, got ${JSON.stringify(value)}`);
  const trimmed = value.trim();
  if (trimmed.length > MAX_TEXT)
    throw new UsageError(`${where}: field '${field}' is ${trimmed.length} characters long; at most ${MAX_TEXT} are accepted`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused here
  if (/[\u0000-\u001f]/.test(trimmed))
    throw new UsageError(`${where}: field '${field}' holds a control character (a line break?); one line of text is accepted`);
  if (rule && trimmed.includes(';'))
    throw new UsageError(`${where}: field '${field}' holds ';', which separates rules; give each rule as its own string`);
  return trimmed;
}

export function parseJudgeRecord(line: string, where: string, lineNumber: number): JudgeRecord {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new UsageError(`${where}: not a JSON object (one per line is accepted): ${JSON.stringify(line.slice(0, 80))}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new UsageError(`${where}: not a JSON object (one per line is accepted): ${JSON.stringify(line.slice(0, 80))}`);
  const record = value as Record<string, unknown>;
  const unknown = Object.keys(record).find((k) => !(FIELDS as readonly string[]).includes(k));
  if (unknown !== undefined) throw new UsageError(`${where}: unknown field '${unknown}'; accepted: ${FIELDS.join(', ')}`);
  const rawRules = record.rules;
  if (!Array.isArray(rawRules) || rawRules.length < 1 || rawRules.length > MAX_RULES_PER_SET)
    throw new UsageError(
      `${where}: field 'rules' must be a list of 1 to ${MAX_RULES_PER_SET} strings, got ${JSON.stringify(rawRules)?.slice(0, 80)}`,
    );
  const rules = rawRules.map((r, k) => text(r, where, `rules[${k}]`, true));
  if (new Set(rules).size !== rules.length) throw new UsageError(`${where}: field 'rules' repeats a rule`);
  const item = text(record.item, where, 'item', false);
  const parsed = rules.map(parseRule);
  const parsedItem = parseItem(item);
  const computed =
    parsedItem && parsed.every((r): r is Rule => r !== undefined) ? verdict(parsed as Rule[], parsedItem) : undefined;
  const given = record.verdict;
  if (given !== undefined && !(VERDICTS as readonly unknown[]).includes(given))
    throw new UsageError(`${where}: field 'verdict' is ${JSON.stringify(given)}; accepted: ${VERDICTS.join(', ')}`);
  if (given === undefined && computed === undefined)
    throw new UsageError(
      `${where}: field 'verdict' is missing; accepted: ${VERDICTS.join(', ')} (it may be left out only when every rule and the item are in the built-in rule language)`,
    );
  if (given !== undefined && computed !== undefined && given !== computed)
    throw new UsageError(
      `${where}: field 'verdict' is '${String(given)}', but the built-in rule engine gives '${computed}' for these rules and item`,
    );
  return { rules: [...rules].sort(), item, verdict: (given ?? computed) as 'safe' | 'unsafe', line: lineNumber };
}

/** Parses a whole file; a task (rule set and item) given twice must keep its verdict. */
export function parseJudgeData(content: string, file: string): JudgeRecord[] {
  const records = new Map<string, JudgeRecord>();
  content.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    const record = parseJudgeRecord(line, `${file}:${i + 1}`, i + 1);
    const key = `${record.rules.join('; ')} | ${record.item}`;
    const earlier = records.get(key);
    if (earlier && earlier.verdict !== record.verdict)
      throw new UsageError(
        `${file}:${i + 1}: field 'verdict' is '${record.verdict}', but line ${earlier.line} gives the same rules and item '${earlier.verdict}'`,
      );
    if (!earlier) records.set(key, record);
  });
  if (records.size === 0) throw new UsageError(`policy-judge: ${file} holds no records (one JSON object per line)`);
  return [...records.values()];
}

/** `--data`: a JSONL file, or a folder holding policy-judge.jsonl. */
export function loadJudgeData(path: string): { file: string; records: JudgeRecord[] } {
  let file = path;
  let content: string;
  try {
    if (statSync(path).isDirectory()) file = join(path, DATA_FILE);
    content = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(
      `policy-judge: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'}); --data takes a JSONL file or a folder with ${DATA_FILE}`,
    );
  }
  return { file, records: parseJudgeData(content, file) };
}
