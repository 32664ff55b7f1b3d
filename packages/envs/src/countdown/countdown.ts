/**
 * Countdown (TinyZero): reach a target with the given numbers (each used once) and + - * /.
 * Two independent reward components: `correct` (the equation uses exactly the given numbers
 * and hits the target) and `format` (the answer is a well-formed equation, right or wrong).
 * TinyZero's "0.1 only when wrong" rule is not a component here: it is anti-correlated with
 * `correct`, and per-reward normalisation (GDPO) would then cancel the correctness signal.
 */
import { type Environment, type Episode, type Rng, resolveOptions, Rng as SeededRng, UsageError } from '@policy-lab/core';
import { isTestKey } from '../shared/split.js';
import { parseExpression } from './expression.js';

export interface CountdownTask {
  numbers: number[];
  target: number;
  /** An expression that reaches the target (the expert's answer). */
  solution: string;
}

export interface CountdownOptions {
  /** How many numbers a task gives. */
  numbers?: number;
  /** Numbers are drawn from 1..maxNumber. */
  maxNumber?: number;
}

const OPTION_SPECS = {
  numbers: { type: 'integer', default: 2, doc: 'how many numbers a task gives (difficulty)' },
  maxNumber: { type: 'integer', default: 9, doc: 'numbers are drawn from 1..maxNumber (difficulty)' },
} as const;

const OPERATORS = ['+', '-', '*'] as const;

function taskKey(task: CountdownTask): string {
  return `${[...task.numbers].sort((a, b) => a - b).join(',')}=${task.target}`;
}

function isTestTask(task: CountdownTask): boolean {
  return isTestKey(taskKey(task));
}

/** A random solvable task: a left-to-right expression over the shuffled numbers. */
function drawTask(rng: Rng, count: number, maxNumber: number): CountdownTask | undefined {
  const numbers = Array.from({ length: count }, () => rng.int(1, maxNumber));
  let expression = String(numbers[0]);
  for (let i = 1; i < count; i++) {
    const op = rng.pick(OPERATORS);
    // Parenthesise the running sum before a product so the expert's answer is what it computes.
    expression = op === '*' && /[+-]/.test(expression) ? `(${expression})*${numbers[i]}` : `${expression}${op}${numbers[i]}`;
  }
  const parsed = parseExpression(expression);
  if (!parsed || !Number.isInteger(parsed.value) || parsed.value <= 0) return undefined;
  return { numbers: rng.shuffle(numbers), target: parsed.value, solution: expression };
}

function observation(task: CountdownTask): string {
  return `use ${task.numbers.join(' ')} make ${task.target}`;
}

export function scoreCountdown(task: CountdownTask, answer: string): { correct: number; format: number } {
  const parsed = parseExpression(answer);
  if (!parsed) return { correct: 0, format: 0 };
  const used = [...parsed.numbers].sort((a, b) => a - b).join(',');
  const given = [...task.numbers].sort((a, b) => a - b).join(',');
  const correct = used === given && Math.abs(parsed.value - task.target) < 1e-9 ? 1 : 0;
  return { correct, format: 1 };
}

export function countdown(options: CountdownOptions = {}): Environment<CountdownTask> {
  const resolved = resolveOptions<Required<CountdownOptions>>('countdown', OPTION_SPECS, options as Record<string, unknown>);
  if (resolved.numbers < 2 || resolved.numbers > 6)
    throw new UsageError(`countdown: option 'numbers' must be 2..6, got ${resolved.numbers}`);
  if (resolved.maxNumber < 2 || resolved.maxNumber > 99)
    throw new UsageError(`countdown: option 'maxNumber' must be 2..99, got ${resolved.maxNumber}`);

  return {
    name: 'countdown',
    summary: 'Reach a target with the given numbers and + - * / (TinyZero); components correct (1.0) and format (0.1)',
    paper: { title: 'TinyZero (Countdown task)', year: 2025, url: 'https://github.com/Jiayi-Pan/TinyZero' },
    options: OPTION_SPECS,
    resolved,
    configure: (next) => countdown({ ...resolved, ...next }) as never,
    rewardComponents: [
      { name: 'correct', weight: 1 },
      { name: 'format', weight: 0.1 },
    ],
    maxTurns: 1,
    recommended: { dim: 64, layers: 2, heads: 4, contextLength: 48, maxNewTokens: 16 },
    tasks(split, { seed, count = split === 'test' ? 64 : 512 }) {
      const rng = SeededRng.seeded(seed).split(`countdown/${split}`);
      const out: CountdownTask[] = [];
      const seen = new Set<string>();
      for (let attempts = 0; out.length < count && attempts < count * 200; attempts++) {
        const task = drawTask(rng, resolved.numbers, resolved.maxNumber);
        if (!task || isTestTask(task) !== (split === 'test')) continue;
        const key = taskKey(task);
        if (split === 'test' && seen.has(key)) continue; // a test set of distinct tasks
        seen.add(key);
        out.push(task);
      }
      return out;
    },
    taskId: (task) => taskKey(task),
    demonstrate: (task) => [task.solution],
    alphabet: () => 'usemak 0123456789+-*/()',
    start(task): Episode {
      let answer: string | undefined;
      return {
        observation: () => observation(task),
        step(action) {
          answer = action;
          const reward = scoreCountdown(task, action);
          return { reward, done: true, valid: reward.format === 1, stateKey: taskKey(task) };
        },
        outcome() {
          const reward = answer === undefined ? { correct: 0, format: 0 } : scoreCountdown(task, answer);
          return { reward, success: reward.correct === 1 };
        },
      };
    },
  };
}
