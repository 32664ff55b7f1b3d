/**
 * A user's own language pair from a folder: `dictionary.tsv` (source<TAB>target per line) and
 * `corpus.tsv` (source sentence<TAB>reference translation). Blank lines and lines starting
 * with '#' are skipped; a first line `spa<TAB>guc` or `source<TAB>target` is a header.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '@policy-lab/core';
import { isTestKey } from '../shared/split.js';
import type { DictionaryEntry } from './language.js';

const HEADERS = new Set(['spa\tguc', 'source\ttarget', 'source\treference']);

export function parseTsv(text: string, file: string): [string, string][] {
  const rows: [string, string][] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '' || line.startsWith('#') || (i === 0 && HEADERS.has(line.trim()))) return;
    const fields = line.split('\t');
    if (fields.length !== 2)
      throw new UsageError(
        `${file}:${i + 1}: expected 2 tab-separated fields, got ${fields.length}: ${JSON.stringify(line.slice(0, 80))}`,
      );
    const [a, b] = fields.map((f) => f.trim()) as [string, string];
    if (a === '' || b === '') throw new UsageError(`${file}:${i + 1}: empty ${a === '' ? 'first' : 'second'} field`);
    rows.push([a, b]);
  });
  return rows;
}

export interface TranslationData {
  dictionary: DictionaryEntry[];
  corpus: { source: string; reference: string }[];
}

export function loadTranslationData(dir: string): TranslationData {
  const read = (name: string) => {
    const path = join(dir, name);
    try {
      return { text: readFileSync(path, 'utf8'), path };
    } catch (error) {
      throw new UsageError(
        `translate: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'}); --data needs dictionary.tsv and corpus.tsv`,
      );
    }
  };
  const dictionaryFile = read('dictionary.tsv');
  const corpusFile = read('corpus.tsv');
  const dictionary = parseTsv(dictionaryFile.text, dictionaryFile.path).map(([spa, guc]) => ({ spa, guc }));
  const corpus = parseTsv(corpusFile.text, corpusFile.path).map(([source, reference]) => ({ source, reference }));
  if (corpus.length === 0) throw new UsageError(`translate: ${corpusFile.path} has no sentence pairs`);
  const test = corpus.filter((p) => isTestKey(p.source)).length;
  if (test === 0 || test === corpus.length)
    throw new UsageError(
      `translate: ${corpusFile.path}: ${corpus.length} sentence pairs give ${test} test and ${corpus.length - test} training sentences; both splits need one (about 1 sentence in 5 is a test sentence)`,
    );
  return { dictionary, corpus };
}
