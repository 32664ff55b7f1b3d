/**
 * BLEU exactly as sacreBLEU 2.x computes it: 13a tokenisation, clipped n-gram
 * counts against the per-n-gram maximum over references, the closest reference length (ties
 * to the shorter), and the smoothing methods exp / floor / add-k / none.
 */
import { ngramCounts, pyRstrip, pySplit } from './text.js';
import { type Tokenizer, tokenizeWith } from './tokenize.js';

export type Smoothing = 'exp' | 'floor' | 'add-k' | 'none';

export interface BleuOptions {
  smooth?: Smoothing;
  /** floor: the floor (default 0.1); add-k: k (default 1). */
  smoothValue?: number;
  /** Average over the orders the hypothesis has (sacreBLEU's sentence_bleu default). */
  effectiveOrder?: boolean;
  tokenize?: Tokenizer;
  lowercase?: boolean;
  maxOrder?: number;
}

export interface BleuResult {
  /** 0-100. */
  score: number;
  /** Clipped matches per order (before add-k smoothing). */
  counts: number[];
  /** Hypothesis n-grams per order (before add-k smoothing). */
  totals: number[];
  /** Precisions per order, 0-100, after smoothing (0 for orders not reached). */
  precisions: number[];
  bp: number;
  sysLen: number;
  refLen: number;
}

const DEFAULT_SMOOTH_VALUE: Record<Smoothing, number> = { exp: 0, floor: 0.1, 'add-k': 1, none: 0 };
/** sacreBLEU's my_log(0): keeps 'none' smoothing at exactly 0 without -Infinity. */
const LOG_ZERO = -9999999999;

interface Resolved {
  smooth: Smoothing;
  smoothValue: number;
  effectiveOrder: boolean;
  tokenize: Tokenizer;
  lowercase: boolean;
  maxOrder: number;
}

function resolve(options: BleuOptions, effectiveDefault: boolean): Resolved {
  const smooth = options.smooth ?? 'exp';
  if (!(smooth in DEFAULT_SMOOTH_VALUE))
    throw new RangeError(`bleu: unknown smoothing '${String(smooth)}'; accepted: exp, floor, add-k, none`);
  const tokenize = options.tokenize ?? '13a';
  if (tokenize !== '13a' && tokenize !== 'none')
    throw new RangeError(`bleu: unknown tokenizer '${String(tokenize)}'; accepted: 13a, none`);
  const maxOrder = options.maxOrder ?? 4;
  if (!Number.isInteger(maxOrder) || maxOrder < 1)
    throw new RangeError(`bleu: maxOrder must be a positive integer, got ${maxOrder}`);
  const smoothValue = options.smoothValue ?? DEFAULT_SMOOTH_VALUE[smooth];
  if (!(smoothValue >= 0)) throw new RangeError(`bleu: smoothValue must be >= 0, got ${smoothValue}`);
  return {
    smooth,
    smoothValue,
    effectiveOrder: options.effectiveOrder ?? effectiveDefault,
    tokenize,
    lowercase: options.lowercase ?? false,
    maxOrder,
  };
}

function preprocess(text: string, o: Resolved): string[] {
  return pySplit(tokenizeWith(o.tokenize, pyRstrip(o.lowercase ? text.toLowerCase() : text)));
}

/** Per segment: [sysLen, refLen, correct_1..N, total_1..N]. */
function segmentStats(hyp: string, refs: readonly string[], o: Resolved): number[] {
  const hypTokens = preprocess(hyp, o);
  const refTokens = refs.map((r) => preprocess(r, o));
  let refLen = -1;
  let closest = -1;
  for (const tokens of refTokens) {
    const diff = Math.abs(hypTokens.length - tokens.length);
    if (closest === -1 || diff < closest) {
      closest = diff;
      refLen = tokens.length;
    } else if (diff === closest) refLen = Math.min(refLen, tokens.length);
  }
  const correct: number[] = [];
  const total: number[] = [];
  for (let n = 1; n <= o.maxOrder; n++) {
    const maxRef = new Map<string, number>();
    for (const tokens of refTokens)
      for (const [gram, count] of ngramCounts(tokens, n)) maxRef.set(gram, Math.max(maxRef.get(gram) ?? 0, count));
    let matched = 0;
    for (const [gram, count] of ngramCounts(hypTokens, n)) matched += Math.min(count, maxRef.get(gram) ?? 0);
    correct.push(matched);
    total.push(Math.max(0, hypTokens.length - n + 1));
  }
  return [hypTokens.length, Math.max(refLen, 0), ...correct, ...total];
}

function score(stats: readonly number[], o: Resolved): BleuResult {
  const [sysLen, refLen] = stats as [number, number];
  const counts = stats.slice(2, 2 + o.maxOrder);
  const totals = stats.slice(2 + o.maxOrder, 2 + 2 * o.maxOrder);
  const correct = [...counts];
  const total = [...totals];
  const precisions = new Array<number>(o.maxOrder).fill(0);
  const bp = sysLen < refLen ? (sysLen > 0 ? Math.exp(1 - refLen / sysLen) : 0) : 1;
  const result = (value: number): BleuResult => ({ score: value, counts, totals, precisions, bp, sysLen, refLen });
  if (correct.every((c) => c === 0)) return result(0);
  let mteval = 1;
  let effective = o.maxOrder;
  for (let n = 1; n <= o.maxOrder; n++) {
    const i = n - 1;
    if (o.smooth === 'add-k' && n > 1) {
      correct[i] = (correct[i] as number) + o.smoothValue;
      total[i] = (total[i] as number) + o.smoothValue;
    }
    if (total[i] === 0) break;
    if (o.effectiveOrder) effective = n;
    if (correct[i] === 0) {
      if (o.smooth === 'exp') {
        mteval *= 2;
        precisions[i] = 100 / (mteval * (total[i] as number));
      } else if (o.smooth === 'floor') precisions[i] = (100 * o.smoothValue) / (total[i] as number);
    } else precisions[i] = (100 * (correct[i] as number)) / (total[i] as number);
  }
  const logSum = precisions.slice(0, effective).reduce((sum, p) => sum + (p === 0 ? LOG_ZERO : Math.log(p)), 0);
  return result(bp * Math.exp(logSum / effective));
}

/** Sentence BLEU; effective order on by default, as sacreBLEU's sentence_bleu. */
export function sentenceBleu(hyp: string, refs: readonly string[], options: BleuOptions = {}): BleuResult {
  if (refs.length === 0) throw new RangeError('sentenceBleu: needs at least one reference');
  const o = resolve(options, true);
  return score(segmentStats(hyp, refs, o), o);
}

/**
 * Corpus BLEU: statistics summed over segments, then one score; effective order off by
 * default, as sacreBLEU's corpus_bleu. `refs[k][i]` is the k-th reference of segment i.
 */
export function corpusBleu(hyps: readonly string[], refs: readonly (readonly string[])[], options: BleuOptions = {}): BleuResult {
  if (refs.length === 0) throw new RangeError('corpusBleu: needs at least one reference stream');
  refs.forEach((stream, k) => {
    if (stream.length !== hyps.length)
      throw new RangeError(`corpusBleu: reference stream ${k} has ${stream.length} segments for ${hyps.length} hypotheses`);
  });
  const o = resolve(options, false);
  const sums = new Array<number>(2 + 2 * o.maxOrder).fill(0);
  hyps.forEach((hyp, i) => {
    segmentStats(
      hyp,
      refs.map((stream) => stream[i] as string),
      o,
    ).forEach((v, j) => {
      sums[j] = (sums[j] as number) + v;
    });
  });
  return score(sums, o);
}
