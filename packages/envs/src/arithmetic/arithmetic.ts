/**
 * arithmetic: GSM8K-style word problems generated from templates, scored with GSM8K's strict
 * or flexible answer extraction. Two independent components: `correct` (the extracted answer
 * equals the ground truth as a string, as verl compares) and `format` (a strict `#### n`
 * answer is present, right or wrong).
 */
import { type Environment, type Episode, type Rng, resolveOptions, Rng as SeededRng, UsageError } from '@policy-lab/core';
import { drawSplit, TEST_SPLIT_SIZE, TRAIN_POOL_SIZE } from '../shared/split.js';
import { type Extraction, extractAnswer, extractStrict } from './extract.js';

export interface ArithmeticTask {
  question: string;
  /** The ground truth as GSM8K stores it: digits, no commas. */
  answer: string;
  /** The expert's worked solution, ending in `#### answer`. */
  solution: string;
}

export interface ArithmeticOptions {
  steps?: number;
  maxNumber?: number;
  extraction?: Extraction;
  /** Append GSM8K's instruction to the question. */
  instruction?: boolean;
}

const OPTION_SPECS = {
  steps: { type: 'integer', default: 1, doc: 'operations per problem, 1-3 (difficulty)' },
  maxNumber: { type: 'integer', default: 9, doc: 'quantities are drawn from 1..maxNumber (difficulty)' },
  extraction: {
    type: 'enum',
    values: ['strict', 'flexible'],
    default: 'strict',
    doc: "GSM8K answer extraction: first '#### n' (strict) or the last number in the text (flexible)",
  },
  instruction: {
    type: 'boolean',
    default: false,
    doc: `append GSM8K's "Let's think step by step and output the final answer after ####." (longer prompts)`,
  },
} as const;

const NAMES = ['ann', 'bob', 'eve', 'tom', 'mia', 'sam'] as const;
const ITEMS = ['apples', 'pens', 'cards', 'coins', 'books', 'shells'] as const;
const INSTRUCTION = ' Let\'s think step by step and output the final answer after "####".';

interface Operation {
  text: (n: number, item: string) => string;
  apply: (total: number, n: number) => number;
  symbol: '+' | '-' | '*';
}

const OPERATIONS: readonly Operation[] = [
  { text: (n, item) => `then gets ${n} more ${item}.`, apply: (t, n) => t + n, symbol: '+' },
  { text: (n, item) => `then gives away ${n} ${item}.`, apply: (t, n) => t - n, symbol: '-' },
  { text: (n) => `then the pile grows ${n} times.`, apply: (t, n) => t * n, symbol: '*' },
];

function drawTask(rng: Rng, o: Required<ArithmeticOptions>): ArithmeticTask | undefined {
  const name = rng.pick(NAMES);
  const item = rng.pick(ITEMS);
  let total = rng.int(1, o.maxNumber);
  const sentences = [`${name} has ${total} ${item}.`];
  const work: string[] = [];
  for (let i = 0; i < o.steps; i++) {
    const op = rng.pick(OPERATIONS);
    const n = rng.int(op.symbol === '*' ? 2 : 1, op.symbol === '*' ? 4 : o.maxNumber);
    const next = op.apply(total, n);
    if (next < 0) return undefined; // nobody gives away what they do not have
    work.push(`${total}${op.symbol}${n}=${next}`);
    sentences.push(op.text(n, item));
    total = next;
  }
  sentences.push(`how many ${item} now?`);
  const question = sentences.join(' ') + (o.instruction ? INSTRUCTION : '');
  return { question, answer: String(total), solution: `${work.join(' ')} #### ${total}` };
}

export function scoreArithmetic(task: ArithmeticTask, text: string, extraction: Extraction): { correct: number; format: number } {
  return {
    correct: extractAnswer(text, extraction) === task.answer ? 1 : 0,
    format: extractStrict(text) === undefined ? 0 : 1,
  };
}

export function arithmetic(options: ArithmeticOptions = {}): Environment<ArithmeticTask> {
  const o = resolveOptions<Required<ArithmeticOptions>>('arithmetic', OPTION_SPECS, options as Record<string, unknown>);
  if (o.steps < 1 || o.steps > 3) throw new UsageError(`arithmetic: option 'steps' must be 1..3, got ${o.steps}`);
  if (o.maxNumber < 2 || o.maxNumber > 999)
    throw new UsageError(`arithmetic: option 'maxNumber' must be 2..999, got ${o.maxNumber}`);
  return {
    name: 'arithmetic',
    summary: 'GSM8K-style word problems with strict or flexible answer extraction; components correct (1.0) and format (0.1)',
    paper: { title: 'Training Verifiers to Solve Math Word Problems (GSM8K)', arxiv: '2110.14168', year: 2021 },
    options: OPTION_SPECS,
    resolved: o,
    configure: (next) => arithmetic({ ...o, ...next }),
    rewardComponents: [
      { name: 'correct', weight: 1 },
      { name: 'format', weight: 0.1 },
    ],
    maxTurns: 1,
    // Sizes from the longest question and solution the templates produce (checked by a test).
    recommended: {
      dim: 64,
      layers: 2,
      heads: 4,
      contextLength: 64 + 32 * o.steps + 16 + 16 * o.steps + (o.instruction ? 72 : 0),
      maxNewTokens: 16 + 16 * o.steps,
    },
    tasks(split, { seed, count = split === 'test' ? TEST_SPLIT_SIZE : TRAIN_POOL_SIZE }) {
      const rng = SeededRng.seeded(seed).split(`arithmetic/${split}`);
      return drawSplit(
        split,
        count,
        () => drawTask(rng, o),
        (t) => t.question,
      );
    },
    taskId: (task) => task.question,
    demonstrate: (task) => [task.solution],
    alphabet: () => `abcdefghijklmnopqrstuvwxyzL0123456789 .,?'"#+-*=$`,
    start(task): Episode {
      let answer: string | undefined;
      return {
        observation: () => task.question,
        step(action) {
          if (answer !== undefined) throw new Error('arithmetic: step() called after the episode ended');
          answer = action;
          const reward = scoreArithmetic(task, action, o.extraction);
          // An answer the chosen extraction cannot read is the invalid action of this env.
          return { reward, done: true, valid: extractAnswer(action, o.extraction) !== undefined, stateKey: task.question };
        },
        outcome() {
          const reward = answer === undefined ? { correct: 0, format: 0 } : scoreArithmetic(task, answer, o.extraction);
          return { reward, success: reward.correct === 1 };
        },
      };
    },
  };
}
