export type { BleuOptions, BleuResult, Smoothing } from './bleu.js';
export { corpusBleu, sentenceBleu } from './bleu.js';
export type { ChrfOptions, ChrfResult } from './chrf.js';
export { corpusChrf, sentenceChrf } from './chrf.js';
export { tokenSetRatio } from './fuzzy.js';
export { pySplit } from './text.js';
export type { Tokenizer } from './tokenize.js';
export { tokenize13a } from './tokenize.js';
