/**
 * sacreBLEU's default '13a' tokenizer (mteval-v13a), step by step as sacrebleu/tokenizers/tokenizer_13a.py does it.
 */
import { pySplit } from './text.js';

const RULES: readonly [RegExp, string][] = [
  // Punctuation and symbols, except the apostrophe, hyphen, period and comma, become tokens.
  [/([{-~[-` -&(-+:-@/])/g, ' $1 '],
  // Periods and commas are split off unless they sit between digits.
  [/([^0-9])([.,])/g, '$1 $2 '],
  [/([.,])([^0-9])/g, ' $1 $2'],
  // A dash after a digit is split off.
  [/([0-9])(-)/g, '$1 $2 '],
];

export function tokenize13a(line: string): string {
  let s = line.replaceAll('<skipped>', '').replaceAll('-\n', '').replaceAll('\n', ' ');
  if (s.includes('&')) s = s.replaceAll('&quot;', '"').replaceAll('&amp;', '&').replaceAll('&lt;', '<').replaceAll('&gt;', '>');
  s = ` ${s} `;
  for (const [pattern, replacement] of RULES) s = s.replace(pattern, replacement);
  return pySplit(s).join(' ');
}

export type Tokenizer = '13a' | 'none';

export function tokenizeWith(name: Tokenizer, line: string): string {
  return name === '13a' ? tokenize13a(line) : line;
}
