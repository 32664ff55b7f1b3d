/**
 * code: write a tiny program from input/output examples; hidden unit tests judge it
 * (VeRPO's setting in miniature). Components: `passed` (every hidden test passes),
 * `partial` (the fraction that pass) and one `testK` per hidden test (0/1) so that shapers
 * such as VeRPO's can weigh tests by their pass rate in the group. Every test runs with a step
 * limit, so a program that never stops fails that test instead of hanging the run.
 */
import { type Environment, type Episode, type Rng, resolveOptions, Rng as SeededRng, UsageError } from '@policy-lab/core';
import { drawSplit, TEST_SPLIT_SIZE, TRAIN_POOL_SIZE } from '../shared/split.js';
import { parseProgram, runProgram } from './language.js';

export interface CodeTask {
  /** The expert's program (one of possibly many correct ones). */
  solution: string;
  examples: readonly { x: number; y: number }[];
  hidden: readonly { x: number; y: number }[];
}

export type CodeLevel = 'easy' | 'medium' | 'hard';

export interface CodeOptions {
  level?: CodeLevel;
  examples?: number;
  hiddenTests?: number;
  attempts?: number;
  stepLimit?: number;
}

const OPTION_SPECS = {
  level: {
    type: 'enum',
    values: ['easy', 'medium', 'hard'],
    default: 'easy',
    doc: "program families: 'easy' linear / max / parity, 'medium' adds squares and distances, 'hard' adds recursion",
  },
  examples: { type: 'integer', default: 3, doc: 'input/output examples shown to the policy' },
  hiddenTests: { type: 'integer', default: 4, doc: 'hidden unit tests that judge the program' },
  attempts: {
    type: 'integer',
    default: 1,
    doc: 'programs the policy may submit; after a failure it sees its outputs on the examples (multi-turn refinement)',
  },
  stepLimit: { type: 'integer', default: 5000, doc: 'evaluation steps per test before the test fails (100-100000)' },
} as const;

/** Every test of every attempt may run this many evaluations: a bound on the time one step() takes. */
const MAX_STEP_LIMIT = 100_000;

type Family = (rng: Rng) => string;

const FAMILIES: Record<CodeLevel, readonly Family[]> = {
  easy: [
    (rng) => `${rng.int(2, 5)}*x+${rng.int(0, 9)}`,
    (rng) => `x<${rng.int(2, 7)}?${rng.int(2, 7)}:x`,
    (rng) => `x%2=0?${rng.int(0, 4)}:${rng.int(5, 9)}`,
  ],
  medium: [
    (rng) => `x*x+${rng.int(0, 9)}`,
    (rng) => {
      const c = rng.int(2, 7);
      return `x<${c}?${c}-x:x-${c}`;
    },
  ],
  hard: [(rng) => `x<1?${rng.int(0, 3)}:x+f(x-1)`, (rng) => `x<1?${rng.int(1, 3)}:${rng.int(2, 3)}*f(x-1)`],
};

function familiesFor(level: CodeLevel): readonly Family[] {
  if (level === 'easy') return FAMILIES.easy;
  if (level === 'medium') return [...FAMILIES.easy, ...FAMILIES.medium];
  return [...FAMILIES.easy, ...FAMILIES.medium, ...FAMILIES.hard];
}

function drawTask(rng: Rng, o: Required<CodeOptions>): CodeTask | undefined {
  const solution = rng.pick(familiesFor(o.level))(rng);
  const parsed = parseProgram(solution);
  if (!parsed.ok) throw new Error(`code: a task family produced an invalid program '${solution}': ${parsed.error}`);
  // Inputs 0..9 without repeats; the first ones are shown, the rest are the hidden tests.
  const inputs = rng.shuffle([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]).slice(0, o.examples + o.hiddenTests);
  const cases = inputs.map((x) => {
    const result = runProgram(parsed.program, x, o.stepLimit);
    if (!result.ok) throw new Error(`code: the expert program '${solution}' fails at x=${x}: ${result.error}`);
    return { x, y: result.value };
  });
  return { solution, examples: cases.slice(0, o.examples).sort((a, b) => a.x - b.x), hidden: cases.slice(o.examples) };
}

function taskKey(task: CodeTask): string {
  return `${task.examples.map((c) => `${c.x}:${c.y}`).join(' ')}|${task.hidden.map((c) => `${c.x}:${c.y}`).join(' ')}`;
}

export interface CodeScore {
  parsed: boolean;
  /** 1 or 0 per hidden test. */
  tests: number[];
}

/** Runs a program on every hidden test; an unparsable program fails them all. */
export function scoreProgram(task: CodeTask, source: string, stepLimit = 5000): CodeScore {
  const parsed = parseProgram(source.trim());
  if (!parsed.ok) return { parsed: false, tests: task.hidden.map(() => 0) };
  return {
    parsed: true,
    tests: task.hidden.map(({ x, y }) => {
      const result = runProgram(parsed.program, x, stepLimit);
      return result.ok && result.value === y ? 1 : 0;
    }),
  };
}

function rewardOf(score: CodeScore): Record<string, number> {
  const passed = score.tests.reduce((a, b) => a + b, 0);
  const reward: Record<string, number> = {
    passed: passed === score.tests.length ? 1 : 0,
    partial: passed / score.tests.length,
  };
  score.tests.forEach((t, i) => {
    reward[`test${i + 1}`] = t;
  });
  return reward;
}

function feedbackOn(task: CodeTask, source: string, stepLimit: number): string {
  const parsed = parseProgram(source.trim());
  if (!parsed.ok) return `syntax error: ${parsed.error}.`;
  const outputs = task.examples.map(({ x }) => {
    const r = runProgram(parsed.program, x, stepLimit);
    return `f(${x})=${r.ok ? r.value : r.error}`;
  });
  return `failed. yours: ${outputs.join(' ')}.`;
}

export function code(options: CodeOptions = {}): Environment<CodeTask> {
  const o = resolveOptions<Required<CodeOptions>>('code', OPTION_SPECS, options as Record<string, unknown>);
  if (o.examples < 1 || o.hiddenTests < 1 || o.examples + o.hiddenTests > 10)
    throw new UsageError(
      `code: need examples >= 1, hiddenTests >= 1 and examples + hiddenTests <= 10, got ${o.examples} and ${o.hiddenTests}`,
    );
  if (o.attempts < 1 || o.attempts > 5) throw new UsageError(`code: option 'attempts' must be 1..5, got ${o.attempts}`);
  if (o.stepLimit < 100 || o.stepLimit > MAX_STEP_LIMIT)
    throw new UsageError(`code: option 'stepLimit' must be 100..${MAX_STEP_LIMIT}, got ${o.stepLimit}`);
  const components = [
    { name: 'passed', weight: 1 },
    { name: 'partial', weight: 0 },
    ...Array.from({ length: o.hiddenTests }, (_, i) => ({ name: `test${i + 1}`, weight: 0 })),
  ];
  return {
    name: 'code',
    summary: 'Write a tiny program from examples; hidden unit tests with a step limit; components passed, partial, test1..N',
    paper: { title: 'VeRPO: Verifiable Dense Reward Policy Optimization for Code Generation', arxiv: '2601.03525', year: 2026 },
    options: OPTION_SPECS,
    resolved: o,
    configure: (next) => code({ ...o, ...next }),
    rewardComponents: components,
    maxTurns: o.attempts,
    recommended: { dim: 64, layers: 2, heads: 4, contextLength: 64 + 96 * o.attempts, maxNewTokens: 24 },
    tasks(split, { seed, count = split === 'test' ? TEST_SPLIT_SIZE : TRAIN_POOL_SIZE }) {
      const rng = SeededRng.seeded(seed).split(`code/${split}`);
      return drawSplit(split, count, () => drawTask(rng, o), taskKey);
    },
    taskId: taskKey,
    demonstrate: (task) => [task.solution],
    alphabet: () => "abcdefghijklmnopqrstuvwxyz0123456789 .,:;()=<>?+-*/%'",
    start(task): Episode {
      let attempt = 0;
      let last: CodeScore | undefined;
      let feedback = '';
      let done = false;
      return {
        observation: () =>
          attempt === 0 ? `write f(x). ${task.examples.map(({ x, y }) => `f(${x})=${y}`).join(' ')}` : feedback,
        step(action) {
          if (done) throw new Error('code: step() called after the episode ended');
          attempt++;
          last = scoreProgram(task, action, o.stepLimit);
          const reward = rewardOf(last);
          done = reward.passed === 1 || attempt >= o.attempts;
          if (!done) feedback = feedbackOn(task, action, o.stepLimit);
          return { reward, done, valid: last.parsed, stateKey: `attempt${attempt}` };
        },
        outcome() {
          const reward = rewardOf(last ?? { parsed: false, tests: task.hidden.map(() => 0) });
          return { reward, success: reward.passed === 1 };
        },
        // A score is never mutated after it is made, so a snapshot can share it.
        snapshot: () => ({ attempt, last, feedback, done }),
        restore(state) {
          ({ attempt, last, feedback, done } = state as { attempt: number; last?: CodeScore; feedback: string; done: boolean });
        },
      };
    },
  };
}
