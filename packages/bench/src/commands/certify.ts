import { statSync } from 'node:fs';
import path from 'node:path';
import { type Environment, parseBudget, Rng, UsageError } from '@policy-lab/core';
import { perturbObservations, smoothObservations } from '@policy-lab/envs';
import { type Command, Option } from 'commander';
import { CommandContext } from '../context.js';
import { BOUND_KINDS, type BoundKind, type Certificate, certifiedRadius, certify } from '../diagnostics/certificate.js';
import {
  finalOutcomes,
  MODEL_FREE_POLICIES,
  type ModelFreePolicy,
  numberFlag,
  numberList,
  playEpisodes,
  registryWith,
  startBackend,
  trainRun,
} from '../diagnostics/runs.js';
import type { Io } from '../io.js';
import { renderCertifyHtml, writeDiagnosticReport } from '../report/diagnostics-html.js';
import { parseSeed } from './train.js';

/**
 * A run folder: a path holding a separator, or an existing folder whose name is not a method's
 * (a method name never holds a path separator; `./grpo` names a folder called grpo).
 */
function runFolderOf(policy: string, cwd: string, isMethod: boolean): string | undefined {
  const explicit = policy.includes('/') || policy.includes(path.sep);
  if (isMethod && !explicit) return undefined;
  const folder = path.resolve(cwd, policy);
  let isDirectory = false;
  try {
    isDirectory = statSync(folder).isDirectory();
  } catch {
    if (explicit) throw new UsageError(`bad run '${policy}': no such folder; give the --out folder of a finished bench train`);
  }
  return isDirectory ? folder : undefined;
}

const HELP = `
The policy reads every observation through smoothing noise: each character is replaced, with
probability --rate, by a random symbol of the environment's alphabet. The certificate bounds its
success under any adversary (adaptive, knowing the policy) that substitutes at most --radius
characters per episode: success >= lower - (1 - rate^radius), where lower is a one-sided
lower confidence bound on the smoothed success from Monte Carlo episodes (docs/robustness-certificates.md).
A radius B is certified with a loss of at most d only when rate >= (1 - d)^(1/B): 0.8 for d = 0.2
at B = 1. Low rates keep a policy working but certify nothing beyond radius 0.

<policy> is expert or random (no model: iid episodes on test tasks drawn with replacement), a
finished run's folder (bench train --out; a path, e.g. ./grpo for a folder named like a method):
its last checkpoint plays --samples iid episodes, each on a test task drawn with replacement,
reading smoothed observations (the run's environment and options; --env may be left out), or a
method: it trains a smoothed policy (SFT and RL read noisy observations) within --budget and
certifies its final evaluation (evalTasks x evalSamples episodes of fixed test tasks; Hoeffding,
since the tasks are fixed, not drawn). --attack adds, for a method, one paired run per radius whose
evaluation is attacked by a random substitution of that many characters (training is identical);
for a run folder, the same task draws, noise and decoding replayed under each radius's attack.

--out <dir> writes results.json (the --json document) and report.html (certified success against
the radius, with the smoothed success and its lower bound).

Examples:
  bench certify expert --env policy-judge --rate 0.1 --radius 0,1,2 --samples 2000
  bench certify runs/judge --rate 0.9 --radius 0,1,2 --samples 1000 --attack --out runs/judge-certify
  bench certify grpo --env policy-judge --rate 0.05 --radius 1,2 --budget episodes=960 --attack --json
  bench certify random --env countdown --bound hoeffding --confidence 0.999`;

interface Options {
  env?: string;
  out?: string;
  rate: string;
  radius: string;
  samples: string;
  confidence: string;
  bound?: BoundKind;
  seed: string;
  budget: string;
  attack?: boolean;
  threshold: string;
}

export function register(program: Command, io: Io): void {
  program
    .command('certify')
    .description("a smoothed policy's success certified against any observation attack within a radius (Policy Smoothing)")
    .argument(
      '<policy>',
      'expert, random, a finished run folder, or a method to train a smoothed policy with (bench list --kind methods)',
    )
    .option('--env <env>', "environment (bench list --kind environments); a run folder's own by default")
    .option('--rate <p>', 'smoothing noise: probability that an observed character is replaced, in [0, 1]', '0.1')
    .option('--radius <list>', 'attack budgets: substituted characters per episode, comma-separated', '0,1,2,4')
    .option('--samples <n>', 'Monte Carlo episodes (a method: evalTasks x evalSamples, rounded up)', '1000')
    .option('--confidence <c>', 'confidence level of the lower bound, in (0, 1)', '0.99')
    .addOption(
      new Option('--bound <kind>', 'clopper-pearson (iid episodes: expert, random) or hoeffding; default by policy').choices([
        ...BOUND_KINDS,
      ]),
    )
    .option('--threshold <t>', 'report the largest radius whose certified success is at least this', '0.5')
    .option('--seed <n>', 'seed', '1')
    .option('--budget <budget>', 'a method: RL budget of the smoothed run (episodes=N | tokens=N)', 'episodes=256')
    .option(
      '--attack',
      'also measure success under a random attack at each radius (a method: one paired run per radius, training identical)',
    )
    .option('--out <dir>', 'write results.json and report.html there')
    .addHelpText('after', HELP)
    .action(async function (this: Command, policy: string, opts: Options) {
      const ctx = new CommandContext(io, this);
      const rate = numberFlag('--rate', opts.rate, { min: 0, max: 1 });
      const radii = numberList('--radius', opts.radius, { min: 0, max: 1e6, integer: true });
      const samples = numberFlag('--samples', opts.samples, { min: 1, max: 1e7, integer: true });
      const confidence = numberFlag('--confidence', opts.confidence, { min: 1e-9, max: 1 - 1e-12 });
      const threshold = numberFlag('--threshold', opts.threshold, { min: 0, max: 1 });
      const seed = parseSeed(opts.seed);
      const modelFree = (MODEL_FREE_POLICIES as readonly string[]).includes(policy);
      const { registry } = await ctx.registry();
      const runFolder = modelFree ? undefined : runFolderOf(policy, ctx.io.cwd, registry.has('methods', policy));
      // A run folder's episodes are iid (tasks drawn with replacement), as the model-free policies' are.
      const iid = modelFree || runFolder !== undefined;
      const bound = opts.bound ?? (iid ? 'clopper-pearson' : 'hoeffding');
      if (!iid && bound === 'clopper-pearson')
        throw new UsageError(
          `bad --bound 'clopper-pearson' for a trained policy: its evaluation episodes are fixed test tasks, not iid draws; accepted: hoeffding`,
        );
      if (!iid && !registry.has('methods', policy))
        throw new UsageError(
          `unknown policy '${policy}': accepted ${MODEL_FREE_POLICIES.join(', ')}, a run folder, or a method (${registry.names('methods').join(', ')})`,
        );
      const overrides = await ctx.overrides();
      // Environment options as `bench train` takes them (envOptions.key=value) or as `bench env run` does (key=value).
      const given = (overrides.envOptions as Record<string, unknown> | undefined) ?? overrides;
      const envOptions = Object.keys(given).length ? given : undefined;
      const trainer = runFolder === undefined ? undefined : await startBackend(ctx);
      const checkpoint = runFolder === undefined ? undefined : trainer?.loadCheckpointPolicy(runFolder);
      if (checkpoint && opts.env !== undefined && opts.env !== checkpoint.config.env)
        throw new UsageError(
          `bad --env '${opts.env}': run ${runFolder} was trained on '${checkpoint.config.env}'; accepted: ${checkpoint.config.env} (or leave --env out)`,
        );
      const envName = checkpoint?.config.env ?? opts.env;
      if (envName === undefined)
        throw new UsageError(`--env is required for policy '${policy}'; accepted: bench list --kind environments`);
      const base = registry.resolve(
        'environments',
        envName,
        checkpoint ? checkpoint.config.envOptions : modelFree ? envOptions : undefined,
      ) as Environment;
      const smoothed = smoothObservations(base, { rate });

      let outcomes: number[];
      let attacked: { radius: number; success: number }[] | undefined;
      let run: Record<string, unknown> | undefined;
      if (checkpoint && runFolder) {
        // iid episodes: tasks drawn with replacement; the same draws and decoding seed at every radius (paired).
        const testTasks = base.tasks('test', { seed: 0 });
        const draw = Rng.seeded(seed).split('certify');
        const tasks = Array.from({ length: samples }, () => draw.pick(testTasks));
        try {
          outcomes = await checkpoint.play(smoothed, tasks, seed);
          if (opts.attack) {
            attacked = [];
            for (const radius of radii) {
              const env = smoothObservations(perturbObservations(base, { radius }), { rate });
              const values = await checkpoint.play(env, tasks, seed);
              attacked.push({ radius, success: values.reduce((a, b) => a + b, 0) / values.length });
            }
          }
        } finally {
          checkpoint.dispose();
        }
        run = { folder: runFolder, method: checkpoint.config.method, steps: checkpoint.step };
      } else if (modelFree) {
        outcomes = playEpisodes(smoothed, policy as ModelFreePolicy, samples, seed);
        if (opts.attack)
          attacked = radii.map((radius) => {
            const env = smoothObservations(perturbObservations(base, { radius }), { rate });
            const values = playEpisodes(env, policy as ModelFreePolicy, samples, seed);
            return { radius, success: values.reduce((a, b) => a + b, 0) / values.length };
          });
      } else {
        const budget = parseBudget(opts.budget);
        const testTasks = base.tasks('test', { seed: 0 }).length;
        const evalTasks = Math.min(samples, testTasks);
        const runOverrides = { ...overrides, evalTasks, evalSamples: Math.ceil(samples / evalTasks) };
        const request = { method: policy, env: smoothed.name, seed, budget, overrides: runOverrides };

        const clean = await trainRun(ctx, { ...request, registry: (await registryWith(ctx, [smoothed])).registry });
        outcomes = finalOutcomes(clean);
        run = {
          method: policy,
          steps: clean.steps,
          consumed: clean.budget.consumed,
          initialSuccess: clean.initial.success,
          finalSuccess: clean.final.success,
        };
        if (opts.attack) {
          attacked = [];
          for (const radius of radii) {
            // The same name, seed and training tasks: the run trains identically; only its test episodes are attacked.
            const env = smoothObservations(perturbObservations(base, { radius, split: 'test' }), {
              rate,
              name: smoothed.name,
            });
            const result = await trainRun(ctx, { ...request, registry: (await registryWith(ctx, [env])).registry });
            // Training never sees a test task, so the training diagnostics must match the clean run's exactly.
            const trained = (r: typeof result) => JSON.stringify([r.diagnostics, r.budget.consumed.episodes, r.steps]);
            if (trained(result) !== trained(clean))
              throw new Error(`certify --attack: the paired run at radius ${radius} trained differently from the clean run`);
            attacked.push({ radius, success: result.final.success });
          }
        }
      }
      const certificates: (Certificate & { radius: number })[] = radii.map((radius) => ({
        radius,
        ...certify(outcomes, { rate, radius, confidence, bound }),
      }));
      const cleanLower = certificates[0]?.cleanLower ?? 0;
      const largest = certifiedRadius(cleanLower, rate, threshold);
      const document = {
        policy,
        env: envName,
        rate,
        bound,
        confidence,
        episodes: outcomes.length,
        seed,
        perturbation: 'character substitution, Hamming radius per episode',
        certificates,
        certifiedRadius: { threshold, radius: Number.isFinite(largest) ? largest : null },
        ...(attacked ? { attacked } : {}),
        ...(run ? { run } : {}),
      };
      if (opts.out !== undefined)
        await writeDiagnosticReport(path.resolve(ctx.io.cwd, opts.out), 'certify', document, renderCertifyHtml);
      if (ctx.options.json) {
        ctx.printJson('certify', document);
        return;
      }
      const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
      io.stdout(
        [
          `${policy} on ${envName}, smoothing rate ${rate}: ${outcomes.length} episodes, smoothed success ${pct(certificates[0]?.mean ?? 0)}, ${bound} lower bound ${pct(cleanLower)} at ${confidence}`,
          ...certificates.map((c) => {
            const seen = attacked?.find((a) => a.radius === c.radius);
            return `  radius ${String(c.radius).padStart(3)}: certified success >= ${pct(c.certified)} (distance ${c.distance.toFixed(4)})${seen ? `; attacked (random substitutions) ${pct(seen.success)}` : ''}`;
          }),
          `largest radius certified at success >= ${threshold}: ${largest < 0 ? `none (the lower bound ${pct(cleanLower)} is below it at radius 0)` : (document.certifiedRadius.radius ?? 'every radius')}`,
          ...(opts.out === undefined ? [] : [`wrote ${path.join(opts.out, 'results.json')} and report.html`]),
          '',
        ].join('\n'),
      );
    });
}
