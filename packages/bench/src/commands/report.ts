import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '@policy-lab/core';
import type { Command } from 'commander';
import { checkRun, writeReports } from '../compare/run-compare.js';
import { CommandContext } from '../context.js';
import type { Io } from '../io.js';
import { aggregate } from '../report/aggregate.js';
import { type ComparisonDocument, renderTable } from '../report/render.js';
import { parseReps } from './compare.js';

export function register(program: Command, io: Io): void {
  program
    .command('report')
    .description(
      "re-render a comparison's reports (results.csv, report.md, report.html) from its results.json, which it leaves as it is",
    )
    .argument('<dir>', 'the --out folder of a comparison')
    .option('--reps <n>', 'bootstrap resamples', '2000')
    .action(async function (this: Command, dir: string, opts: { reps: string }) {
      const ctx = new CommandContext(io, this);
      const reps = parseReps(opts.reps);
      const file = path.resolve(io.cwd, dir, 'results.json');
      if (!existsSync(file)) throw new UsageError(`${file} not found: give the --out folder of a comparison`);
      let document: ComparisonDocument;
      try {
        document = JSON.parse(readFileSync(file, 'utf8')) as ComparisonDocument;
      } catch (error) {
        throw new UsageError(`${file}: not valid JSON (${(error as Error).message})`);
      }
      if (document.kind !== 'compare' || !Array.isArray(document.runs))
        throw new UsageError(`${file}: not a comparison (kind ${String(document.kind)})`);
      document.runs.forEach((run, i) => checkRun(run, file, `runs[${i}].`));
      // The aggregates are recomputed (at --reps) for the reports only: results.json is an input here.
      document.aggregates = aggregate(document.runs, { reps });
      await writeReports(path.dirname(file), document);
      if (ctx.options.json) ctx.printJson('compare', document as unknown as Record<string, unknown>);
      else io.stdout(renderTable(document));
    });
}
