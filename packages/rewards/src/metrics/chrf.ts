/**
 * chrF and chrF++ exactly as sacreBLEU 2.x computes them: character n-grams
 * over code points with whitespace removed, optional word n-grams with one punctuation split
 * per token, precision and recall macro-averaged over the effective orders before the F-beta,
 * the best reference per sentence, statistics summed over a corpus.
 */
import { codePoints, ngramCounts, pySplit } from './text.js';

export interface ChrfOptions {
  charOrder?: number;
  /** 0 = chrF, 2 = chrF++. */
  wordOrder?: number;
  beta?: number;
  lowercase?: boolean;
  /** Keep whitespace inside character n-grams. */
  whitespace?: boolean;
  /** Average per-order F scores over all orders with 1e-16 for empty counts (sacreBLEU's eps_smoothing). */
  eps?: boolean;
}

export interface ChrfResult {
  /** 0-100. */
  score: number;
}

const PUNCTUATION = new Set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~');
const EPS = 1e-16;

interface Resolved {
  charOrder: number;
  wordOrder: number;
  beta: number;
  lowercase: boolean;
  whitespace: boolean;
  eps: boolean;
}

function resolve(options: ChrfOptions): Resolved {
  const o = {
    charOrder: options.charOrder ?? 6,
    wordOrder: options.wordOrder ?? 0,
    beta: options.beta ?? 2,
    lowercase: options.lowercase ?? false,
    whitespace: options.whitespace ?? false,
    eps: options.eps ?? false,
  };
  if (!Number.isInteger(o.charOrder) || o.charOrder < 1)
    throw new RangeError(`chrf: charOrder must be a positive integer, got ${o.charOrder}`);
  if (!Number.isInteger(o.wordOrder) || o.wordOrder < 0)
    throw new RangeError(`chrf: wordOrder must be an integer >= 0, got ${o.wordOrder}`);
  if (!(o.beta >= 0)) throw new RangeError(`chrf: beta must be >= 0, got ${o.beta}`);
  return o;
}

/** One split per token: a trailing punctuation mark first, else a leading one. */
function words(text: string): string[] {
  const out: string[] = [];
  for (const w of pySplit(text)) {
    const chars = codePoints(w);
    if (chars.length === 1) out.push(w);
    else if (PUNCTUATION.has(chars.at(-1) as string)) out.push(chars.slice(0, -1).join(''), chars.at(-1) as string);
    else if (PUNCTUATION.has(chars[0] as string)) out.push(chars[0] as string, chars.slice(1).join(''));
    else out.push(w);
  }
  return out;
}

function ngrams(text: string, o: Resolved): Map<string, number>[] {
  const s = o.lowercase ? text.toLowerCase() : text;
  const chars = codePoints(o.whitespace ? s : pySplit(s).join(''));
  const out: Map<string, number>[] = [];
  for (let n = 1; n <= o.charOrder; n++) out.push(ngramCounts(chars, n, ''));
  if (o.wordOrder > 0) {
    const tokens = words(s);
    for (let n = 1; n <= o.wordOrder; n++) out.push(ngramCounts(tokens, n, ' '));
  }
  return out;
}

/** Per order: [hyp n-grams (0 when the reference has none), ref n-grams, matches]. */
function matchStats(hyp: readonly Map<string, number>[], ref: readonly Map<string, number>[]): number[] {
  const stats: number[] = [];
  hyp.forEach((h, i) => {
    const r = ref[i] as Map<string, number>;
    let hypCount = 0;
    let matches = 0;
    for (const [gram, count] of h) {
      hypCount += count;
      matches += Math.min(count, r.get(gram) ?? 0);
    }
    let refCount = 0;
    for (const count of r.values()) refCount += count;
    stats.push(r.size > 0 ? hypCount : 0, refCount, matches);
  });
  return stats;
}

function fScore(stats: readonly number[], o: Resolved): number {
  const factor = o.beta ** 2;
  const orders = stats.length / 3;
  let epsScore = 0;
  let precision = 0;
  let recall = 0;
  let effective = 0;
  for (let i = 0; i < orders; i++) {
    const [nHyp, nRef, nMatch] = stats.slice(3 * i, 3 * i + 3) as [number, number, number];
    const p = nHyp > 0 ? nMatch / nHyp : EPS;
    const r = nRef > 0 ? nMatch / nRef : EPS;
    const denominator = factor * p + r;
    epsScore += denominator > 0 ? ((1 + factor) * p * r) / denominator : EPS;
    if (nHyp > 0 && nRef > 0) {
      precision += p;
      recall += r;
      effective++;
    }
  }
  if (o.eps) return (100 * epsScore) / orders;
  if (effective === 0) return 0;
  precision /= effective;
  recall /= effective;
  if (precision + recall === 0) return 0;
  return (100 * (1 + factor) * precision * recall) / (factor * precision + recall);
}

/** The statistics of the reference with the best F (the first on ties). */
function bestStats(hyp: string, refs: readonly string[], o: Resolved): number[] {
  const h = ngrams(hyp, o);
  let best: number[] | undefined;
  let bestF = -1;
  for (const ref of refs) {
    const stats = matchStats(h, ngrams(ref, o));
    const f = fScore(stats, o);
    if (f > bestF) {
      bestF = f;
      best = stats;
    }
  }
  return best as number[];
}

export function sentenceChrf(hyp: string, refs: readonly string[], options: ChrfOptions = {}): ChrfResult {
  if (refs.length === 0) throw new RangeError('sentenceChrf: needs at least one reference');
  const o = resolve(options);
  return { score: fScore(bestStats(hyp, refs, o), o) };
}

/** Corpus chrF: per-sentence statistics (best reference each) summed, then one F. `refs[k][i]`: k-th reference of segment i. */
export function corpusChrf(hyps: readonly string[], refs: readonly (readonly string[])[], options: ChrfOptions = {}): ChrfResult {
  if (refs.length === 0) throw new RangeError('corpusChrf: needs at least one reference stream');
  refs.forEach((stream, k) => {
    if (stream.length !== hyps.length)
      throw new RangeError(`corpusChrf: reference stream ${k} has ${stream.length} segments for ${hyps.length} hypotheses`);
  });
  const o = resolve(options);
  const sums = new Array<number>(3 * (o.charOrder + o.wordOrder)).fill(0);
  hyps.forEach((hyp, i) => {
    bestStats(
      hyp,
      refs.map((stream) => stream[i] as string),
      o,
    ).forEach((v, j) => {
      sums[j] = (sums[j] as number) + v;
    });
  });
  return { score: fScore(sums, o) };
}
