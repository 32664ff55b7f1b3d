import type { Plugin } from '@policy-lab/core';

export type { BleuOptions, BleuResult, ChrfOptions, ChrfResult, Smoothing, Tokenizer } from './metrics/index.js';
export { corpusBleu, corpusChrf, pySplit, sentenceBleu, sentenceChrf, tokenize13a } from './metrics/index.js';

/** Registered by discovery like any third-party plugin package. */
export const plugin: Plugin = { name: '@policy-lab/rewards' };
