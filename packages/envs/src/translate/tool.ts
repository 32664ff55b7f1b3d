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

/** The query of the first `<lookup>...</lookup>` call, or undefined when there is none. */
export function lookupQuery(action: string): string | undefined {
  const match = /<lookup>([\s\S]*?)<\/lookup>/.exec(action);
  return match ? (match[1] as string).trim() : undefined;
}

/**
 * The first `<answer>...</answer>` block followed only by whitespace up to a line end
 * (the paper's `.*?<answer>(.*?)</answer>\s*$` with DOTALL and MULTILINE), stripped;
 * undefined when there is none.
 */
export function extractTranslation(action: string): string | undefined {
  const match = /<answer>([\s\S]*?)<\/answer>\s*$/m.exec(action);
  return match ? (match[1] as string).trim() : undefined;
}
