import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '@policy-lab/core';
import { crossPolicyGap, type PolicyJudgeTask, policyJudge } from '@policy-lab/envs';
import type { Command } from 'commander';
import { CommandContext } from '../context.js';
import type { Io } from '../io.js';

const HELP = `
Reads a finished run of the policy-judge environment (its folder or result.json) that was
evaluated with --set envOptions.evalRules=mixed: every other test task then uses a training rule set. The
gap is success on held-out rule sets minus success on training rule sets (negative: the judge
does worse on policies it never trained on; SafeGuard-VL, arXiv 2603.01228).

Examples:
  bench train grpo --env policy-judge --set envOptions.evalRules=mixed --out runs/judge
  bench cross-policy-gap runs/judge --json`;

interface RunResult {
  env?: unknown;
  config?: { evalTasks?: unknown; envOptions?: Record<string, unknown> };
  initial?: { perTask?: unknown };
  final?: { perTask?: unknown };
}

function readResult(target: string): { file: string; result: RunResult } {
  let file = target;
  try {
    if (statSync(target).isDirectory()) file = path.join(target, 'result.json');
    return { file, result: JSON.parse(readFileSync(file, 'utf8')) as RunResult };
  } catch (error) {
    const reason = error instanceof SyntaxError ? 'not JSON' : ((error as NodeJS.ErrnoException).code ?? 'unreadable');
    throw new UsageError(`bad run '${target}': cannot read ${file} (${reason}); give a run folder or its result.json`);
  }
}

function perTaskOf(value: unknown, file: string, which: string): number[] {
  if (!Array.isArray(value) || value.some((x) => typeof x !== 'number'))
    throw new UsageError(`bad run ${file}: ${which}.perTask is not a list of numbers`);
  return value as number[];
}

export function register(program: Command, io: Io): void {
  program
    .command('cross-policy-gap')
    .description("a policy-judge run's success on held-out rule sets minus on training rule sets")
    .argument('<run>', 'a run folder or its result.json (trained with --set envOptions.evalRules=mixed)')
    .addHelpText('after', HELP)
    .action(function (this: Command, target: string) {
      const ctx = new CommandContext(io, this);
      const { file, result } = readResult(target);
      if (result.env !== 'policy-judge')
        throw new UsageError(`bad run ${file}: environment '${String(result.env)}'; accepted: policy-judge`);
      const options = result.config?.envOptions ?? {};
      if (options.evalRules !== 'mixed')
        throw new UsageError(
          `bad run ${file}: evalRules '${String(options.evalRules ?? 'held-out')}'; accepted: mixed (train with --set envOptions.evalRules=mixed)`,
        );
      const final = perTaskOf(result.final?.perTask, file, 'final');
      const initial = perTaskOf(result.initial?.perTask, file, 'initial');
      // The trainer evaluates on tasks('test', { seed: 0, count: evalTasks }): the same tasks, in the same order.
      const env = policyJudge(options as never);
      const tasks = env.tasks('test', { seed: 0, count: final.length }) as PolicyJudgeTask[];
      const document = {
        run: file,
        env: 'policy-judge',
        envOptions: options,
        initial: crossPolicyGap(tasks, initial),
        final: crossPolicyGap(tasks, final),
      };
      if (ctx.options.json) {
        ctx.printJson('cross-policy-gap', document);
        return;
      }
      const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
      const line = (name: string, g: typeof document.final) =>
        `${name}: held-out rule sets ${pct(g.heldOut)} (${g.heldOutTasks} tasks), training rule sets ${pct(g.seen)} (${g.seenTasks} tasks), gap ${(100 * g.gap).toFixed(1)} points`;
      io.stdout(`${line('SFT start', document.initial)}\n${line('final    ', document.final)}\n`);
    });
}
