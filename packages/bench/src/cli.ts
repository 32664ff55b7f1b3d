import { readFileSync } from 'node:fs';
import { isUsageError, RegressionError } from '@policy-lab/core';
import { Command, CommanderError, Option } from 'commander';
import { COMMANDS } from './commands/index.js';
import { type Io, processIo } from './io.js';

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** Builds the `bench` program. Every error path throws instead of exiting, so `main` owns exit codes. */
export function buildProgram(io: Io): Command {
  const program = new Command('bench')
    .description('Compare RL post-training methods for language-model policies on equal budgets.')
    .version(VERSION, '-V, --version')
    .option('--plugin <module>', 'load a plugin package or file (repeatable)', collect, [])
    .option('--config <file>', 'config file (default: policy-lab.config.{ts,mts,mjs,js,json} in the current folder)')
    .addOption(new Option('--backend <name>', 'tensor backend').choices(['wasm', 'cpu', 'tensorflow', 'webgpu']))
    .option('--json', 'print one JSON document on stdout (progress and logs go to stderr)', false)
    .option('--debug', 'print stack traces on errors', false)
    .option(
      '--set <key=value>',
      'override an option; the value is parsed as JSON when it is valid JSON (repeatable)',
      collect,
      [],
    )
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      `
Examples:
  bench list                                  every registered plugin
  bench compare grpo mc-grpo gdpo             equal-budget comparison (quick preset)
  bench list --json --plugin ./my-plugin.js   load a third-party plugin

Exit codes: 0 success, 1 the run failed, 2 bad input, 3 a regression against --baseline (compare --fail-on-regression).`,
    );
  program.exitOverride();
  program.configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  for (const command of COMMANDS) command.register(program, io);
  // Subcommands inherit error handling and output routing.
  for (const sub of program.commands) {
    sub.exitOverride();
    sub.configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
    sub.showHelpAfterError(false);
  }
  return program;
}

/** Runs the CLI and returns the exit code (0 success, 1 run failed, 2 bad input, 3 regression against a baseline). */
export async function main(argv: readonly string[], io: Io = processIo()): Promise<number> {
  const program = buildProgram(io);
  const debug = argv.includes('--debug');
  try {
    if (argv.length === 0) {
      io.stdout(program.helpInformation());
      return 0;
    }
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // help and version "errors" are successes; everything else commander rejects is bad input.
      if (['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(error.code)) return 0;
      return 2;
    }
    const message = error instanceof Error ? error.message : String(error);
    io.stderr(`bench: ${message}\n`);
    if (debug && error instanceof Error && error.stack) io.stderr(`${error.stack}\n`);
    else if (!isUsageError(error) && !(error instanceof RegressionError))
      io.stderr('(run again with --debug for the stack trace)\n');
    return isUsageError(error) ? 2 : ((error as { exitCode?: number }).exitCode ?? 1);
  }
}
