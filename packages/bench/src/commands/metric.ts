import { readFileSync } from 'node:fs';
import { UsageError } from '@policy-lab/core';
import { type Command, Option } from 'commander';
import { CommandContext } from '../context.js';
import type { Io } from '../io.js';

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function lines(file: string, flag: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`${flag} ${file}: cannot read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  // One segment per line, as sacreBLEU reads them; a final newline does not add an empty segment.
  const out = text.split('\n');
  if (out.at(-1) === '') out.pop();
  return out.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
}

function bool(flag: string, text: string): boolean {
  if (text === 'true') return true;
  if (text === 'false') return false;
  throw new UsageError(`bad ${flag} '${text}': expected true or false`);
}

function number(flag: string, text: string, integer: boolean, min: number): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < min || (integer && !Number.isInteger(value)))
    throw new UsageError(`bad ${flag} '${text}': expected ${integer ? 'an integer' : 'a number'} >= ${min}`);
  return value;
}

interface Inputs {
  hyps: string[];
  /** refs[k][i]: the k-th reference of segment i. */
  refs: string[][];
  corpus: boolean;
}

function inputs(opts: { hyp?: string; ref?: string[]; hypFile?: string; refFile?: string[] }): Inputs {
  const sentence = opts.hyp !== undefined;
  const corpus = opts.hypFile !== undefined;
  if (sentence === corpus) throw new UsageError('give --hyp with --ref (one sentence) or --hyp-file with --ref-file (a corpus)');
  if (sentence) {
    if (!opts.ref?.length) throw new UsageError('--hyp needs at least one --ref');
    if (opts.refFile?.length) throw new UsageError('--ref-file goes with --hyp-file, not --hyp');
    return { hyps: [opts.hyp as string], refs: opts.ref.map((r) => [r]), corpus: false };
  }
  if (!opts.refFile?.length) throw new UsageError('--hyp-file needs at least one --ref-file');
  if (opts.ref?.length) throw new UsageError('--ref goes with --hyp, not --hyp-file');
  const hyps = lines(opts.hypFile as string, '--hyp-file');
  const refs = opts.refFile.map((f) => lines(f, '--ref-file'));
  refs.forEach((stream, k) => {
    if (stream.length !== hyps.length)
      throw new UsageError(
        `--ref-file ${opts.refFile?.[k]} has ${stream.length} lines but --hyp-file ${opts.hypFile} has ${hyps.length}`,
      );
  });
  return { hyps, refs, corpus: true };
}

const EXAMPLES = `
Examples:
  bench metric bleu --hyp "the cat sat" --ref "the cat sat down" --json
  bench metric bleu --hyp-file out.txt --ref-file ref1.txt --ref-file ref2.txt
  bench metric chrf --hyp "the cat sat" --ref "the cat sat down" --word-order 2   (chrF++)

Scores match sacreBLEU 2.x: 13a tokenizer, exp smoothing, effective order on for a sentence
and off for a corpus (--effective-order overrides), chrF with beta 2 and 6 character orders.`;

/** The texts to score: one sentence (--hyp, --ref...) or a corpus (--hyp-file, --ref-file...). */
function withInputs(command: Command): Command {
  return command
    .option('--hyp <text>', 'a hypothesis sentence')
    .option('--ref <text>', 'a reference sentence (repeat for several)', collect)
    .option('--hyp-file <file>', 'hypotheses, one segment per line')
    .option('--ref-file <file>', 'references, one segment per line (repeat for several streams)', collect);
}

export function register(program: Command, io: Io): void {
  const metric = program.command('metric').description('BLEU and chrF exactly as sacreBLEU computes them');
  withInputs(metric.command('bleu'))
    .description('sentence BLEU (--hyp/--ref) or corpus BLEU (--hyp-file/--ref-file), 0-100')
    .addOption(new Option('--smooth <method>', 'smoothing').choices(['exp', 'floor', 'add-k', 'none']).default('exp'))
    .option('--smooth-value <v>', 'the floor value (default 0.1) or k of add-k (default 1)')
    .option('--effective-order <bool>', 'true|false; default true for a sentence, false for a corpus')
    .addOption(new Option('--tokenize <name>', 'tokenizer').choices(['13a', 'none']).default('13a'))
    .option('--lowercase', 'case-insensitive')
    .addHelpText('after', EXAMPLES)
    .action(async function (
      this: Command,
      opts: {
        hyp?: string;
        ref?: string[];
        hypFile?: string;
        refFile?: string[];
        smooth: 'exp' | 'floor' | 'add-k' | 'none';
        smoothValue?: string;
        effectiveOrder?: string;
        tokenize: '13a' | 'none';
        lowercase?: boolean;
      },
    ) {
      const ctx = new CommandContext(io, this);
      const { sentenceBleu, corpusBleu } = await import('@policy-lab/rewards');
      const input = inputs(opts);
      const options = {
        smooth: opts.smooth,
        tokenize: opts.tokenize,
        lowercase: Boolean(opts.lowercase),
        ...(opts.smoothValue === undefined ? {} : { smoothValue: number('--smooth-value', opts.smoothValue, false, 0) }),
        effectiveOrder: opts.effectiveOrder === undefined ? !input.corpus : bool('--effective-order', opts.effectiveOrder),
      };
      const result = input.corpus
        ? corpusBleu(input.hyps, input.refs, options)
        : sentenceBleu(
            input.hyps[0] as string,
            input.refs.map((r) => r[0] as string),
            options,
          );
      const document = {
        metric: 'bleu',
        level: input.corpus ? 'corpus' : 'sentence',
        score: result.score,
        counts: result.counts,
        totals: result.totals,
        precisions: result.precisions,
        bp: result.bp,
        sysLen: result.sysLen,
        refLen: result.refLen,
        options,
      };
      if (ctx.options.json) ctx.printJson('metric', document);
      else
        io.stdout(
          `BLEU = ${result.score.toFixed(2)} ${result.precisions.map((p) => p.toFixed(1)).join('/')} (BP = ${result.bp.toFixed(3)} ratio = ${(result.sysLen / Math.max(1, result.refLen)).toFixed(3)} hyp_len = ${result.sysLen} ref_len = ${result.refLen})\n`,
        );
    });
  withInputs(metric.command('chrf'))
    .description('sentence or corpus chrF (chrF++ with --word-order 2), 0-100')
    .option('--char-order <n>', 'character n-gram order', '6')
    .option('--word-order <n>', 'word n-gram order (2 = chrF++)', '0')
    .option('--beta <b>', 'recall weight', '2')
    .option('--lowercase', 'case-insensitive')
    .option('--whitespace', 'keep whitespace in character n-grams')
    .addHelpText('after', EXAMPLES)
    .action(async function (
      this: Command,
      opts: {
        hyp?: string;
        ref?: string[];
        hypFile?: string;
        refFile?: string[];
        charOrder: string;
        wordOrder: string;
        beta: string;
        lowercase?: boolean;
        whitespace?: boolean;
      },
    ) {
      const ctx = new CommandContext(io, this);
      const { sentenceChrf, corpusChrf } = await import('@policy-lab/rewards');
      const input = inputs(opts);
      const options = {
        charOrder: number('--char-order', opts.charOrder, true, 1),
        wordOrder: number('--word-order', opts.wordOrder, true, 0),
        beta: number('--beta', opts.beta, false, 0),
        lowercase: Boolean(opts.lowercase),
        whitespace: Boolean(opts.whitespace),
      };
      const result = input.corpus
        ? corpusChrf(input.hyps, input.refs, options)
        : sentenceChrf(
            input.hyps[0] as string,
            input.refs.map((r) => r[0] as string),
            options,
          );
      const name = options.wordOrder > 0 ? 'chrF++' : 'chrF';
      const document = { metric: 'chrf', level: input.corpus ? 'corpus' : 'sentence', score: result.score, options };
      if (ctx.options.json) ctx.printJson('metric', document);
      else io.stdout(`${name}${options.beta} = ${result.score.toFixed(2)}\n`);
    });
}
