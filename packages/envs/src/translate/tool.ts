/**
 * The dictionary tool and the answer extraction, with the semantics of the Spanish-Wayuunaiki
 * paper's code: entries are scanned in order and an entry matches when the query
 * occurs in its source side as a whole word, case-insensitively; the scan stops after 5
 * matches. Word boundaries are Unicode-aware, as Python's `\b` is on str (JavaScript's `\b`
 * is ASCII-only and would split "niño").
 */
import type { DictionaryEntry } from './language.js';

export const MAX_MATCHES = 5;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function lookup(dictionary: readonly DictionaryEntry[], query: string): DictionaryEntry[] {
  const q = query.trim();
  if (q === '') return [];
  // A query longer than every entry matches none (case folding keeps a code point one code
  // point); checking first keeps the pattern small: a 12,280-character one overflowed V8's
  // regular-expression compiler.
  const longest = dictionary.reduce((max, entry) => Math.max(max, entry.spa.length), 0);
  if (q.length > 2 * longest) return [];
  const pattern = new RegExp(`(?<![\\p{L}\\p{N}_])${escapeRegExp(q)}(?![\\p{L}\\p{N}_])`, 'iu');
  const out: DictionaryEntry[] = [];
  for (const entry of dictionary) {
    if (!pattern.test(entry.spa)) continue;
    out.push(entry);
    if (out.length === MAX_MATCHES) break;
  }
  return out;
}

/** The tool's answer; entries are separated by "; " (the paper uses newlines) to keep observations on one line. */
export function formatMatches(matches: readonly DictionaryEntry[]): string {
  return matches.length === 0
    ? '<matches> No matches found </matches>'
    : `<matches> ${matches.map((m) => `${m.spa}: ${m.guc}`).join('; ')} </matches>`;
}

/**
 * The query of the first `<lookup>...</lookup>` call, or undefined when there is none: what
 * `/<lookup>([\s\S]*?)<\/lookup>/` finds, in one pass (the expression retries from every
 * `<lookup>` when no closing tag follows: quadratic on long actions).
 */
export function lookupQuery(action: string): string | undefined {
  const open = action.indexOf('<lookup>');
  if (open < 0) return undefined;
  const close = action.indexOf('</lookup>', open + '<lookup>'.length);
  return close < 0 ? undefined : action.slice(open + '<lookup>'.length, close).trim();
}

/** JavaScript's line terminators: where a multiline `$` may match. */
const LINE_END = new Set(['\n', '\r', '\u2028', '\u2029']);

/**
 * The first `<answer>...</answer>` block followed only by whitespace up to a line end
 * (the paper's `.*?<answer>(.*?)</answer>\s*$` with DOTALL and MULTILINE), stripped;
 * undefined when there is none. Computed in one pass: the block opens at the first
 * `<answer>` (a later one could only close at a tag the first one also reaches) and closes
 * at the first `</answer>` after which the run of whitespace holds a line end or reaches
 * the end of the text. Each whitespace run is read once, so the cost is linear; the regular
 * expression took 2 s on 160,000 characters.
 */
export function extractTranslation(action: string): string | undefined {
  const open = action.indexOf('<answer>');
  if (open < 0) return undefined;
  const start = open + '<answer>'.length;
  for (let close = action.indexOf('</answer>', start); close >= 0; close = action.indexOf('</answer>', close + 1)) {
    let at = close + '</answer>'.length;
    for (; at < action.length && /\s/.test(action[at] as string); at++) {
      if (LINE_END.has(action[at] as string)) return action.slice(start, close).trim();
    }
    if (at === action.length) return action.slice(start, close).trim();
  }
  return undefined;
}
