import path from 'node:path';
import { type Environment, parseBudget, UsageError } from '@policy-lab/core';
import { type Command, Option } from 'commander';
import { CommandContext } from '../context.js';
import {
  type PairDistance,
  PERTURBATIONS,
  type Perturbation,
  pairDistance,
  perturbedWeights,
  withStyle,
} from '../diagnostics/policy-cliff.js';
import { numberFlag, numberList, registryWith, trainRun } from '../diagnostics/runs.js';
import type { Io } from '../io.js';
import { renderPolicyCliffHtml, writeDiagnosticReport } from '../report/diagnostics-html.js';

const HELP = `
Paired runs: for every seed and entropy coefficient, one run under the reward and one under the
reward perturbed by --epsilon, the same seed, SFT start, tasks and settings otherwise. The
environment gets a zero-weight 'style' component: an arbitrary bit of the first answer's text.
  tie    the perturbed run adds epsilon x style: a tie-breaking bonus between equally good answers
  scale  the perturbed run multiplies every reward weight by 1 + epsilon
Reported per pair: successShift |s' - s|, taskDistance (mean over test tasks of |p'_i - p_i|) and
styleShift |style' - style| (the share of style-1 answers), with means over seeds. The Policy
Cliff (arXiv 2507.20150) predicts jumps under ties without entropy regularisation and smooth,
order-epsilon/tau moves with it. Two runs of the same seed differ by the perturbation only: a
pair with epsilon 0 measures 0 (the runs are deterministic).
--out <dir> writes results.json (the --json document) and report.html (the three distances per
entropy coefficient: bars the mean over seeds, points each seed).

Examples:
  bench policy-cliff grpo --env policy-judge --budget episodes=960 --seeds 1,2,3
  bench policy-cliff grpo --env countdown --perturb scale --epsilon 0.02 --entropy 0,0.01 --json
  bench policy-cliff grpo --env countdown --out runs/cliff`;

interface Options {
  env: string;
  perturb: Perturbation;
  epsilon: string;
  entropy: string;
  seeds: string;
  budget: string;
  out?: string;
}

interface PairRow extends PairDistance {
  seed: number;
  entropyCoef: number;
  base: { success: number; style: number };
  perturbed: { success: number; style: number };
}

export function register(program: Command, io: Io): void {
  program
    .command('policy-cliff')
    .description('how far the learned behaviour jumps under a tiny reward perturbation, with and without entropy (Policy Cliff)')
    .argument('<method>', 'a registered method (bench list --kind methods)')
    .requiredOption('--env <env>', 'environment (bench list --kind environments)')
    .addOption(
      new Option('--perturb <kind>', 'tie (a style bonus) or scale (all weights)').choices([...PERTURBATIONS]).default('tie'),
    )
    .option('--epsilon <e>', 'size of the perturbation', '0.01')
    .option('--entropy <list>', 'entropy coefficients to compare, comma-separated (0 = none)', '0,0.01')
    .option('--seeds <list>', 'seeds, comma-separated', '1,2')
    .option('--budget <budget>', 'RL budget of every run (episodes=N | tokens=N)', 'episodes=256')
    .option('--out <dir>', 'write results.json and report.html there')
    .addHelpText('after', HELP)
    .action(async function (this: Command, method: string, opts: Options) {
      const ctx = new CommandContext(io, this);
      const epsilon = numberFlag('--epsilon', opts.epsilon, { min: -1, max: 1 });
      const entropies = numberList('--entropy', opts.entropy, { min: 0, max: 10 });
      const seeds = numberList('--seeds', opts.seeds, { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true });
      const budget = parseBudget(opts.budget);
      const { registry } = await ctx.registry();
      registry.get('methods', method);
      const base = registry.get('environments', opts.env) as Environment;
      const styled = withStyle(base);
      const runs = (await registryWith(ctx, [styled])).registry;
      const overrides = await ctx.overrides();
      if ('entropyCoef' in overrides)
        throw new UsageError(`--set entropyCoef: policy-cliff sets it from --entropy (${opts.entropy}); give the values there`);
      const given = (overrides.weights ?? {}) as Record<string, number>;
      const weights = perturbedWeights(styled.rewardComponents, opts.perturb, epsilon, given);
      const rows: PairRow[] = [];
      for (const entropyCoef of entropies)
        for (const seed of seeds) {
          const run = (extra: Record<string, unknown>) =>
            trainRun(ctx, {
              registry: runs,
              method,
              env: styled.name,
              seed,
              budget,
              overrides: { ...overrides, entropyCoef, ...extra },
            });
          const a = await run({});
          const b = await run({ weights });
          const summary = (r: typeof a) => ({
            success: r.final.success,
            perTask: r.final.perTask,
            style: r.final.reward.style ?? 0,
          });
          rows.push({
            seed,
            entropyCoef,
            base: { success: a.final.success, style: a.final.reward.style ?? 0 },
            perturbed: { success: b.final.success, style: b.final.reward.style ?? 0 },
            ...pairDistance(summary(a), summary(b)),
          });
        }
      const mean = (values: number[]) => values.reduce((x, y) => x + y, 0) / values.length;
      const summaries = entropies.map((entropyCoef) => {
        const mine = rows.filter((r) => r.entropyCoef === entropyCoef);
        return {
          entropyCoef,
          pairs: mine.length,
          successShift: mean(mine.map((r) => r.successShift)),
          taskDistance: mean(mine.map((r) => r.taskDistance)),
          styleShift: mean(mine.map((r) => r.styleShift)),
          maxStyleShift: Math.max(...mine.map((r) => r.styleShift)),
        };
      });
      const document = {
        method,
        env: opts.env,
        perturbation: opts.perturb,
        epsilon,
        weights,
        budget,
        seeds,
        pairs: rows,
        summaries,
      };
      if (opts.out !== undefined)
        await writeDiagnosticReport(path.resolve(ctx.io.cwd, opts.out), 'policy-cliff', document, renderPolicyCliffHtml);
      if (ctx.options.json) {
        ctx.printJson('policy-cliff', document);
        return;
      }
      const f = (x: number) => x.toFixed(3);
      io.stdout(
        [
          `${method} on ${opts.env}: ${opts.perturb} perturbation of ${epsilon} (weights ${JSON.stringify(weights)}), ${seeds.length} seed(s) per entropy coefficient`,
          'entropyCoef  successShift  taskDistance  styleShift (max)',
          ...summaries.map(
            (s) =>
              `${String(s.entropyCoef).padEnd(11)}  ${f(s.successShift).padStart(12)}  ${f(s.taskDistance).padStart(12)}  ${f(s.styleShift).padStart(10)} (${f(s.maxStyleShift)})`,
          ),
          ...(opts.out === undefined ? [] : [`wrote ${path.join(opts.out, 'results.json')} and report.html`]),
          '',
        ].join('\n'),
      );
    });
}
