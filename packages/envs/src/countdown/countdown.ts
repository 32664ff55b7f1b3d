/**
 * Countdown (TinyZero): reach a target with the given numbers (each used once) and + - * /.
 * Two independent reward components: `correct` (the equation uses exactly the given numbers
 * and hits the target) and `format` (the answer is a well-formed equation, right or wrong).
 * TinyZero's "0.1 only when wrong" rule is not a component here: it is anti-correlated with
 * `correct`, and per-reward normalisation (GDPO) would then cancel the correctness signal.
 */
import { type Environment, type Episode, type Rng, resolveOptions, Rng as SeededRng, UsageError } from '@policy-lab/core';
import { drawSplit, isTestKey, TEST_SPLIT_SIZE, TRAIN_POOL_SIZE } from '../shared/split.js';
import { parseExpression } from './expression.js';
import { solveCountdown } from './solve.js';

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
  /** Targets are 1..maxTarget. */
  maxTarget?: number;
}

const OPTION_SPECS = {
  numbers: { type: 'integer', default: 2, doc: 'how many numbers a task gives (difficulty)' },
  maxNumber: { type: 'integer', default: 99, doc: 'numbers are drawn from 1..maxNumber (difficulty)' },
  maxTarget: { type: 'integer', default: 99, doc: 'targets are 1..maxTarget (TinyZero: 1-100)' },
} as const;

const OPERATORS = ['+', '-', '*', '/'] as const;

function taskKey(task: CountdownTask): string {
  return `${[...task.numbers].sort((a, b) => a - b).join(',')}=${task.target}`;
}

/**
 * A random solvable task: a left-to-right expression over the numbers with + - * and exact
 * division (TinyZero's operators), its value the target.
 */
function drawTask(rng: Rng, count: number, maxNumber: number, maxTarget: number): CountdownTask | undefined {
  const numbers = Array.from({ length: count }, () => rng.int(1, maxNumber));
  let expression = String(numbers[0]);
  let value = numbers[0] as number;
  let additive = false;
  for (let i = 1; i < count; i++) {
    const n = numbers[i] as number;
    const op = rng.pick(OPERATORS);
    if (op === '/' && (n === 1 || value % n !== 0)) return undefined;
    // Parenthesise the running sum before * or / so the expert's answer computes what was drawn.
    const left = (op === '*' || op === '/') && additive ? `(${expression})` : expression;
    expression = `${left}${op}${n}`;
    value = op === '+' ? value + n : op === '-' ? value - n : op === '*' ? value * n : value / n;
    additive = op === '+' || op === '-';
  }
  if (value <= 0 || value > maxTarget) return undefined;
  return { numbers: rng.shuffle(numbers), target: value, solution: expression };
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

/**
 * A task written as text, within the environment's difficulty (as many numbers, each in
 * 1..maxNumber, a target in 1..maxTarget) and solvable: either its statement as the observation
 * shows it (`use 3 5 make 8`, checked by the exhaustive solver) or an equation over the numbers
 * (`3*5`: the task of reaching its value, 15, with them; the equation is its solution, as a
 * proposer writes a problem whose answer the environment computes).
 */
function readTask(text: string, o: Required<CountdownOptions>): CountdownTask | undefined {
  const source = text.trim().replace(/\s+/g, ' ');
  if (source.length === 0 || source.length > 64) return undefined;
  const inRange = (numbers: readonly number[], target: number) =>
    numbers.length === o.numbers &&
    numbers.every((n) => Number.isInteger(n) && n >= 1 && n <= o.maxNumber) &&
    Number.isInteger(target) &&
    target >= 1 &&
    target <= o.maxTarget;
  const statement = /^use((?: [0-9]+)+) make ([0-9]+)$/.exec(source);
  if (statement) {
    const numbers = (statement[1] as string).trim().split(' ').map(Number);
    const target = Number(statement[2]);
    if (!inRange(numbers, target)) return undefined;
    const solution = solveCountdown(numbers, target);
    return solution === undefined ? undefined : { numbers, target, solution };
  }
  const equation = parseExpression(source);
  if (!equation) return undefined;
  const target = Math.round(equation.value);
  if (Math.abs(equation.value - target) > 1e-9 || !inRange(equation.numbers, target)) return undefined;
  return { numbers: equation.numbers, target, solution: source.replace(/ /g, '') };
}

export function countdown(options: CountdownOptions = {}): Environment<CountdownTask> {
  const resolved = resolveOptions<Required<CountdownOptions>>('countdown', OPTION_SPECS, options as Record<string, unknown>);
  if (resolved.numbers < 2 || resolved.numbers > 6)
    throw new UsageError(`countdown: option 'numbers' must be 2..6, got ${resolved.numbers}`);
  if (resolved.maxNumber < 2 || resolved.maxNumber > 99)
    throw new UsageError(`countdown: option 'maxNumber' must be 2..99, got ${resolved.maxNumber}`);
  if (resolved.maxTarget < 1 || resolved.maxTarget > 9999)
    throw new UsageError(`countdown: option 'maxTarget' must be 1..9999, got ${resolved.maxTarget}`);

  return {
    name: 'countdown',
    summary: 'Reach a target with the given numbers and + - * / (TinyZero); components correct (1.0) and format (0.1)',
    paper: { title: 'TinyZero (Countdown task)', year: 2025, url: 'https://github.com/Jiayi-Pan/TinyZero' },
    options: OPTION_SPECS,
    resolved,
    configure: (next) => countdown({ ...resolved, ...next }),
    rewardComponents: [
      { name: 'correct', weight: 1 },
      { name: 'format', weight: 0.1 },
    ],
    maxTurns: 1,
    recommended: { dim: 64, layers: 2, heads: 4, contextLength: 48, maxNewTokens: 16, sftSteps: 500 },
    tasks(split, { seed, count = split === 'test' ? TEST_SPLIT_SIZE : TRAIN_POOL_SIZE }) {
      const rng = SeededRng.seeded(seed).split(`countdown/${split}`);
      return drawSplit(split, count, () => drawTask(rng, resolved.numbers, resolved.maxNumber, resolved.maxTarget), taskKey);
    },
    taskId: (task) => taskKey(task),
    demonstrate: (task) => [task.solution],
    parseTask(text) {
      const task = readTask(text, resolved);
      if (!task || isTestKey(taskKey(task)) || scoreCountdown(task, task.solution).correct !== 1) return undefined;
      return task;
    },
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
