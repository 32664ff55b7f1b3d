/**
 * The segment matcher: a lexical stand-in for RLPT's generative judge (arXiv 2509.19249), which
 * rewards a predicted segment that is semantically consistent with the true one. Token F1 is
 * SQuAD's answer metric (Rajpurkar et al. 2016, arXiv 1606.05250): the harmonic mean of the
 * precision and recall of the multiset of shared tokens. Tokens here are lowercase runs of
 * letters and digits (SQuAD also drops articles and punctuation; articles are kept, so
 * "the cat sat on the mat" against "a cat sat on a mat" is 0.667).
 */

const MAX_TOKENS = 512;

export function tokens(text: string): string[] {
  return (text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).slice(0, MAX_TOKENS);
}

export function tokenF1(prediction: string, reference: string): number {
  const predicted = tokens(prediction);
  const gold = tokens(reference);
  if (predicted.length === 0 || gold.length === 0) return predicted.length === gold.length ? 1 : 0;
  const counts = new Map<string, number>();
  for (const t of gold) counts.set(t, (counts.get(t) ?? 0) + 1);
  let shared = 0;
  for (const t of predicted) {
    const left = counts.get(t) ?? 0;
    if (left > 0) {
      shared++;
      counts.set(t, left - 1);
    }
  }
  if (shared === 0) return 0;
  const precision = shared / predicted.length;
  const recall = shared / gold.length;
  return (2 * precision * recall) / (precision + recall);
}
