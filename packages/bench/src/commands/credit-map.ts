import path from 'node:path';
import type { Command } from 'commander';
import { CommandContext } from '../context.js';
import { creditMapBeta, renderCreditMapHtml, runConfig } from '../diagnostics/credit-map.js';
import { numberFlag, registryWith, startBackend } from '../diagnostics/runs.js';
import type { Io } from '../io.js';
import { writeDiagnosticReport } from '../report/diagnostics-html.js';
import { parseSeed } from './train.js';

const HELP = `
The per-token credit map of a finished run (From r to Q*, arXiv 2404.12358): beta log(pi/pi_ref)
per token of answers the run's policy samples on test tasks (each task's best and worst of
--samples), against the run's reference. A run keeps a reference when its loss or divergence
reads one (dpo, token-dpo-beam, --set divergence=kl).

Examples:
  bench train token-dpo-beam --env countdown --budget episodes=640 --out runs/tdpo
  bench credit-map runs/tdpo --out runs/tdpo-credit          results.json and report.html (a heatmap)
  bench credit-map runs/tdpo --pairs 4 --beta 0.1 --json`;

export function register(program: Command, io: Io): void {
  program
    .command('credit-map')
    .description("per-token implicit rewards beta log(pi/pi_ref) of a finished run's answers (From r to Q*)")
    .argument('<run>', 'the --out folder of a finished bench train whose run kept a reference')
    .option('--pairs <n>', 'answer pairs (best, worst of a test task)', '8')
    .option('--samples <n>', 'answers sampled per test task to pick the pair from', '8')
    .option('--beta <b>', "the implicit reward's beta (default: the run's loss's beta, else its divergenceCoef, else 0.1)")
    .option('--seed <n>', 'sampling seed', '1')
    .option('--out <dir>', 'write results.json and report.html (the heatmap) here')
    .addHelpText('after', HELP)
    .action(async function (
      this: Command,
      run: string,
      opts: { pairs: string; samples: string; beta?: string; seed: string; out?: string },
    ) {
      const ctx = new CommandContext(io, this);
      const pairs = numberFlag('--pairs', opts.pairs, { min: 1, max: 1000, integer: true });
      const samples = numberFlag('--samples', opts.samples, { min: 2, max: 256, integer: true });
      const seed = parseSeed(opts.seed);
      const folder = path.resolve(io.cwd, run);
      const trainer = await startBackend(ctx);
      const config = runConfig(folder, run);
      const { registry } = await registryWith(ctx, []);
      const beta =
        opts.beta !== undefined ? numberFlag('--beta', opts.beta, { min: 1e-6, max: 100 }) : creditMapBeta(registry, config);
      const env = registry.resolve('environments', config.env ?? '', config.envOptions ?? {});
      const map = await trainer.creditMapOfRun(folder, env, { pairs, samples, beta, seed });
      const document = { run: folder, ...map };
      if (opts.out) await writeDiagnosticReport(path.resolve(io.cwd, opts.out), 'credit-map', document, renderCreditMapHtml);
      if (ctx.options.json) {
        ctx.printJson('credit-map', document as unknown as Record<string, unknown>);
        return;
      }
      io.stdout(`credit map of ${folder} (${map.method} on ${map.env}, step ${map.step}, beta ${beta})\n`);
      for (const a of map.answers)
        io.stdout(
          `${a.task} ${a.role.padEnd(8)} reward ${a.reward.toFixed(2)}  r ${a.implicitReward.toFixed(4)}  ${a.tokens.map((t, k) => `${t === '' ? '∎' : t}:${(a.credits[k] as number).toFixed(3)}`).join(' ')}\n`,
        );
      io.stdout(
        `mean implicit reward: chosen ${map.chosenReward.toFixed(4)}, rejected ${map.rejectedReward.toFixed(4)}; credit sums match the sequence rewards to ${map.maxSumError.toExponential(2)}\n`,
      );
      if (opts.out) io.stdout(`Wrote ${path.resolve(io.cwd, opts.out)}/results.json, report.html\n`);
    });
}
