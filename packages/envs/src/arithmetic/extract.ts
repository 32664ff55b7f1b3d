/**
 * GSM8K answer extraction as verl's `gsm8k.py` does it: strict takes the first
 * `#### <number>` and removes commas and dollar signs; flexible takes the last number-like
 * run in the text and keeps its commas.
 */

export type Extraction = 'strict' | 'flexible';

export function extractStrict(text: string): string | undefined {
  const match = /#### (-?[0-9.,]+)/.exec(text);
  return match ? (match[1] as string).replaceAll(',', '').replaceAll('$', '') : undefined;
}

export function extractFlexible(text: string): string | undefined {
  const runs = [...text.matchAll(/(-?[0-9.,]+)/g)].map((m) => m[1] as string).filter((s) => s !== '' && s !== '.');
  return runs.at(-1);
}

export function extractAnswer(text: string, extraction: Extraction): string | undefined {
  return extraction === 'strict' ? extractStrict(text) : extractFlexible(text);
}
