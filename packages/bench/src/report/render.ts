/** Renders a comparison: the stdout table, report.md, results.csv and a self-contained report.html. */
import { madZeroWarning } from '@policy-lab/advantage';
import Table from 'cli-table3';
import type { TopLevelSpec } from 'vega-lite';
import { budgetsWords, type CompareConfig, describeRun, modelWords, presetDeviations } from '../compare/plan.js';
import type { Leaderboard } from '../leaderboard/board.js';
import { leaderboardHtml, leaderboardMarkdown } from '../leaderboard/render.js';
import type { Aggregates, EnvAggregate, RunRecord } from './aggregate.js';
import type { BaselineComparison } from './baseline.js';
import { type ComparisonCost, costMarkdown } from './cost.js';
import { creditMapHtml, creditMapMarkdown } from './credit-map-section.js';
import { clipBiasSection, methodDiagnosticsSection, type StepDiagnostic, type StepSeries } from './diagnostics-html.js';
import { escapeHtml, svg } from './svg.js';

/**
 * Warnings a reader must see beside the numbers: MC-GRPO's MAD scale is 0 in most groups (binary
 * rewards), so its advantages are +-1/madEps and swamp every other term of the loss.
 */
export function diagnosticWarnings(env: EnvAggregate): string[] {
  return env.methods.flatMap((m) => {
    const warning = madZeroWarning(`${m.method} (${env.env})`, m.diagnostics);
    return warning ? [warning] : [];
  });
}

export interface ComparisonDocument {
  schemaVersion: number;
  kind: 'compare';
  config: Record<string, unknown> & { preset: string; note: string; methods: string[]; controls: string[] };
  versions: Record<string, string>;
  gitDescribe: string | null;
  backend: string;
  machine: Record<string, unknown>;
  runs: RunRecord[];
  aggregates: Aggregates;
  /** Distinct reasons some runs fell back to the stock kernels (absent when none did). */
  kernelsFallback?: string[];
  /** The comparison against an earlier results.json (--baseline). */
  baseline?: BaselineComparison;
  /** Every method ranked across environments (bench compare --all). */
  leaderboard?: Leaderboard;
  /** A leaderboard's units that failed (the others went on); absent when none did. */
  failed?: { id: string; method: string; env: string; seed: number; message: string }[];
  /** Where the time went (worker seconds by phase). */
  cost?: ComparisonCost;
  /** Per-step diagnostics of the methods' own mechanisms (METHOD_STEP_DIAGNOSTICS), means over seeds. */
  stepDiagnostics?: StepDiagnostic[];
}

type Config = Parameters<typeof describeRun>[0] & Pick<CompareConfig, 'envOptions' | 'splits' | 'evalTasksCapped'>;
const configOf = (doc: ComparisonDocument) => doc.config as unknown as Config;

const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : 'n/a');
const interval = (i: { estimate: number; low: number; high: number }) => `${pct(i.estimate)} [${pct(i.low)}, ${pct(i.high)}]`;
const signed = (x: number) => (Number.isFinite(x) ? `${x > 0 ? '+' : ''}${(100 * x).toFixed(1)}%` : 'n/a');
const signedInterval = (i: { estimate: number; low: number; high: number }) =>
  `${signed(i.estimate)} [${signed(i.low)}, ${signed(i.high)}]`;
const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;
const pValue = (p: number) => (p < 0.001 ? '< 0.001' : p.toFixed(3));

function verdicts(env: EnvAggregate, aggregates: Aggregates): string[] {
  const family = aggregates.multipleComparisons;
  return env.pairs.map((p) => {
    const poi = `P(${p.x} > ${p.y}) = ${p.probability.estimate.toFixed(2)} [${p.probability.low.toFixed(2)}, ${p.probability.high.toFixed(2)}]`;
    const side =
      p.probability.low > 0.5
        ? `; the P(${p.x} > ${p.y}) interval lies above 0.5`
        : p.probability.high < 0.5
          ? `; the P(${p.x} > ${p.y}) interval lies below 0.5`
          : '';
    const raw =
      p.better === 'none'
        ? 'no difference detected (IQM intervals overlap)'
        : `${p.better === 'x' ? p.x : p.y} higher (IQM intervals do not overlap)`;
    // Results of earlier versions carry no paired difference.
    if (!p.difference || !family) return `${p.x} vs ${p.y}: ${raw}; ${poi}${side}`;
    const holm = p.holm === 'none' ? 'no difference' : `${p.holm === 'x' ? p.x : p.y} higher`;
    return `${p.x} vs ${p.y}: ${raw}; paired difference ${signedInterval(p.difference)} over ${p.resampled}, p ${pValue(p.p)}; Holm over ${plural(family.pairs, 'pair')}: p ${pValue(p.pHolm)}, ${holm}; ${poi}${side}`;
  });
}

/**
 * How often a run's training draws repeat, when `draws` tasks are drawn uniformly with
 * replacement from a pool of `pool` distinct tasks (the trainer's default task stream): each
 * task is drawn draws / pool times on average, and the expected number of distinct tasks drawn
 * is pool (1 - (1 - 1/pool)^draws), so the rest of the draws repeat an earlier one.
 */
export function repeatedDraws(pool: number, draws: number): { perTask: number; repeatFraction: number } {
  if (pool <= 0 || draws <= 0) return { perTask: 0, repeatFraction: 0 };
  const distinct = pool * -Math.expm1(draws * Math.log1p(-1 / pool));
  return { perTask: draws / pool, repeatFraction: 1 - distinct / draws };
}

/** The pool should hold at least this many times the tasks a run draws (else the report says how often they repeat). */
export const POOL_PER_DRAW = 10;

/**
 * One line on the training tasks of an environment: the pool a run drew from, how many it drew
 * (steps x tasksPerStep, the most any run of the comparison drew) and how often draws repeat.
 */
function trainingDrawsLine(env: string, split: { trainDistinct: number } | undefined, runs: readonly RunRecord[]) {
  const drawsOf = (r: RunRecord) => r.steps * Number(r.config.tasksPerStep);
  const envRuns = runs.filter((r) => r.env === env && Number.isFinite(drawsOf(r)));
  if (!split || split.trainDistinct === 0 || envRuns.length === 0) return undefined;
  const draws = Math.max(...envRuns.map(drawsOf));
  const pool = split.trainDistinct;
  const { perTask, repeatFraction } = repeatedDraws(pool, draws);
  const sources = [...new Set(envRuns.flatMap((r) => (typeof r.config.taskSource === 'string' ? [r.config.taskSource] : [])))];
  const ratio = pool / draws;
  const verdict =
    ratio >= POOL_PER_DRAW
      ? `the pool is ${ratio.toFixed(1)}x the draws (at least ${POOL_PER_DRAW}x)`
      : `the pool is only ${ratio.toFixed(1)}x the draws (below ${POOL_PER_DRAW}x), so tasks repeat`;
  return `Training tasks on ${env}: a run draws up to ${draws} (steps x tasksPerStep) from a pool of ${pool} distinct tasks; ${verdict}: each task is drawn ${perTask.toFixed(2)} times on average and about ${(100 * repeatFraction).toFixed(0)}% of a run's draws repeat a task it drew before${sources.length ? ` (if drawn uniformly with replacement; these runs drew through the task source ${sources.join(', ')})` : ' (uniform draws with replacement)'}.`;
}

/** The sft-start control in words: the SFT checkpoint, or a pretrained model's weights when it had no SFT start. */
const startControl = (config: Config) =>
  config.model?.sft === 'none'
    ? `sft-start (the pretrained model ${config.model.name} without RL: no SFT start)`
    : 'sft-start (the SFT checkpoint without RL)';

/** Which model every run trained, when a comparison ran on a user's Hugging Face model. */
function modelLine(config: Config): string[] {
  const { model } = config;
  if (!model) return [];
  return [
    `Model: ${modelWords(model)}, from ${model.folder} (files ${Object.entries(model.files)
      .map(([name, sha]) => `${name} sha256 ${sha.slice(0, 12)}`)
      .join(', ')}).`,
  ];
}

/** The header every report starts with: what ran, what differs from the preset, what was evaluated. */
function headerLines(doc: ComparisonDocument): string[] {
  const config = configOf(doc);
  const deviations = presetDeviations(config);
  const lines = [
    `What ran: ${describeRun(config)}.`,
    `Environments ${config.envs.join(', ')}; ${config.seeds.length} seeds (${config.seeds.join(', ')}); budget ${budgetsWords(config)}.`,
    deviations.length
      ? `Differs from the ${config.preset} preset: ${deviations.join(', ')}.`
      : `Nothing differs from the ${config.preset} preset.`,
  ];
  for (const env of config.envs) {
    // Results of earlier versions recorded only the options given, not each environment's resolved ones.
    const options = config.envOptions?.[env] ?? (config.overrides.envOptions as Record<string, unknown> | undefined);
    lines.push(
      `Environment options (envOptions) of ${env}: ${options && Object.keys(options).length ? JSON.stringify(options) : 'none'}.`,
    );
  }
  const requested = config.overrides.evalTasks;
  for (const env of doc.aggregates.envs) {
    const samples = doc.runs.find((r) => r.env === env.env)?.config.evalSamples;
    const split = config.splits?.[env.env];
    const capped = config.evalTasksCapped?.[env.env];
    const asked =
      requested === undefined
        ? ''
        : capped !== undefined
          ? ` (evalTasks ${JSON.stringify(requested)} in the ${config.preset} preset; the test split holds ${capped} under these options, so all ${capped} are evaluated)`
          : ` (evalTasks ${JSON.stringify(requested)}${!split && env.testTasks !== null && typeof requested === 'number' && env.testTasks < requested ? `: the test split holds ${env.testTasks}` : ''})`;
    const of = capped === undefined ? testSplitWords(doc, env.env, env.testTasks, ', of the $ of its test split') : '';
    lines.push(
      env.testTasks === null
        ? `Evaluation on ${env.env}: the runs did not record how many test tasks they ran${asked}; ${String(samples)} samples per task.`
        : `Evaluation on ${env.env}: ${env.testTasks} test tasks per run${of}${asked}, ${String(samples)} samples per task.`,
    );
    const training = trainingDrawsLine(env.env, split, doc.runs);
    if (training) lines.push(training);
  }
  return lines;
}

function baselineLines(baseline: BaselineComparison): string[] {
  return baseline.verdicts.map(
    (v) =>
      `${v.method} on ${v.env}: ${v.verdict} (${interval(v.current)} now, ${interval(v.baseline)} then; difference ${signedInterval(v.difference)} over ${v.resampled}${v.pairedSeeds ? ' (seed k now with seed k then)' : ''}, p ${pValue(v.p)}, Holm over ${plural(baseline.verdicts.length, 'comparison')}: p ${pValue(v.pHolm)})`,
  );
}

/** `words` with $ replaced by the test split's default size, when it was measured and holds the tasks evaluated. */
function testSplitWords(doc: ComparisonDocument, env: string, evaluated: number | null, words: string): string {
  const test = configOf(doc).splits?.[env]?.test;
  return test === undefined || evaluated === null || evaluated > test ? '' : words.replace('$', String(test));
}

export function renderTable(doc: ComparisonDocument): string {
  const out: string[] = [];
  for (const env of doc.aggregates.envs) {
    const components = Object.keys(env.methods[0]?.reward ?? {});
    const table = new Table({
      head: [
        'method',
        'runs',
        'success IQM [95% CI, seeds]',
        '95% CI, seeds+tasks',
        'greedy',
        'pass@k',
        ...components,
        'episodes',
      ],
      style: { head: [], border: [] },
    });
    for (const m of env.methods) {
      table.push([
        m.method,
        String(m.runs),
        interval(m.success),
        m.successTwoLevel ? `[${pct(m.successTwoLevel.low)}, ${pct(m.successTwoLevel.high)}]` : '-',
        pct(m.greedySuccess),
        pct(m.passAtK),
        ...components.map((c) => (m.reward[c] ?? 0).toFixed(3)),
        m.consumed.episodes !== undefined ? m.consumed.episodes.toFixed(0) : '-',
      ]);
    }
    out.push(
      `${env.env}: final test success (sampled, temperature 1) on ${env.testTasks ?? 'an unrecorded number of'} test tasks${testSplitWords(doc, env.env, env.testTasks, ' (of the $ of its test split)')}`,
      table.toString(),
      ...verdicts(env, doc.aggregates).map((v) => `  ${v}`),
      '',
    );
  }
  if (doc.baseline)
    out.push(`Against the baseline ${doc.baseline.file}:`, ...baselineLines(doc.baseline).map((l) => `  ${l}`), '');
  out.push(`Note: ${describeRun(configOf(doc))}`);
  return `${out.join('\n')}\n`;
}

export function renderCsv(doc: ComparisonDocument): string {
  const components = [...new Set(doc.runs.flatMap((r) => Object.keys(r.final.reward)))];
  const header = [
    'id',
    'method',
    'env',
    'seed',
    'point',
    'step',
    'episodes',
    'generatedTokens',
    'success',
    ...components.map((c) => `reward.${c}`),
  ];
  const rows = [header.join(',')];
  for (const run of doc.runs) {
    run.curve.forEach((point, index) => {
      rows.push(
        [
          run.id,
          run.method,
          run.env,
          run.seed,
          index,
          point.step,
          point.episodes,
          point.generatedTokens,
          point.success,
          ...components.map((c) => point.reward[c] ?? ''),
        ].join(','),
      );
    });
  }
  return `${rows.join('\n')}\n`;
}

/** A leaderboard's failed runs, one line each (they are left out of every figure above). */
export function failedLines(failed: NonNullable<ComparisonDocument['failed']>): string[] {
  return [
    `Failed runs (${failed.length}; left out of every figure above; \`--resume\` trains them again):`,
    '',
    ...failed.map((f) => `- ${f.method} on ${f.env}, seed ${f.seed}: ${f.message}`),
  ];
}

export function renderMarkdown(doc: ComparisonDocument): string {
  const lines = [
    '# policy-lab comparison',
    '',
    ...headerLines(doc),
    '',
    `Methods: ${doc.config.methods.join(', ')}; controls: ${[startControl(configOf(doc)), ...doc.config.controls].join(', ')}.`,
    ...modelLine(configOf(doc)),
    `Backend ${doc.backend}; ${String(doc.machine.cpus)} x ${String(doc.machine.cpuModel)}; git ${doc.gitDescribe ?? 'unknown'}.`,
    `Statistics: IQM over seeds with ${doc.aggregates.bootstrap.reps}-sample 95% bootstrap CIs (seeded): over seeds (stratified, as rliable) and, where the runs recorded per-task outcomes, over seeds and test tasks (two-level). Overlapping IQM intervals are reported as no difference detected. Each pair also has its paired difference (the same seed and task draws for both methods) with a two-sided bootstrap p-value, and a verdict Holm-adjusted across ${plural(doc.aggregates.multipleComparisons?.pairs ?? 0, 'pair')} of the comparison at ${doc.aggregates.multipleComparisons?.alpha ?? 0.05}; probability of improvement with CI.`,
    '',
  ];
  const family = doc.aggregates.multipleComparisons;
  // The smallest bootstrap p is 2 / (reps + 1); Holm multiplies the smallest by the number of pairs.
  if (family && family.pairs > 0 && (2 * family.pairs) / (doc.aggregates.bootstrap.reps + 1) >= family.alpha)
    lines.push(
      `Note: with ${doc.aggregates.bootstrap.reps} resamples and ${plural(family.pairs, 'pair')} no Holm-adjusted p can fall below ${family.alpha}; raise --reps to at least ${Math.ceil((2 * family.pairs) / family.alpha)} for the Holm verdicts to detect anything.`,
      '',
    );
  for (const env of doc.aggregates.envs) {
    const components = Object.keys(env.methods[0]?.reward ?? {});
    lines.push(`## ${env.env}`, '', `Normalisation: ${env.normalisation}.`, '');
    if (env.twoLevelMissing) lines.push(`No interval over seeds and tasks: ${env.twoLevelMissing}.`, '');
    lines.push(
      `| method | runs | success IQM [95% CI over seeds] | 95% CI over seeds and tasks | greedy | pass@k | ${components.join(' | ')} | episodes | generated tokens | trained tokens | tokens scored by other models | tokens trained in other models |`,
    );
    lines.push(`|---|---|---|---|---|---|${components.map(() => '---|').join('')}---|---|---|---|---|`);
    for (const m of env.methods) {
      lines.push(
        `| ${m.method} | ${m.runs} | ${interval(m.success)} | ${m.successTwoLevel ? `[${pct(m.successTwoLevel.low)}, ${pct(m.successTwoLevel.high)}]` : '-'} | ${pct(m.greedySuccess)} | ${pct(m.passAtK)} | ${components.map((c) => (m.reward[c] ?? 0).toFixed(3)).join(' | ')} | ${m.consumed.episodes?.toFixed(0) ?? '-'} | ${m.consumed.generatedTokens?.toFixed(0) ?? '-'} | ${m.consumed.trainedTokens?.toFixed(0) ?? '-'} | ${m.consumed.auxScoredTokens?.toFixed(0) ?? '-'} | ${m.consumed.auxTrainedTokens?.toFixed(0) ?? '-'} |`,
      );
    }
    lines.push(
      '',
      '### Pairwise',
      '',
      ...verdicts(env, doc.aggregates).map((v) => `- ${v}`),
      '',
      '### Diagnostics (means over steps and runs)',
      '',
    );
    const keys = [
      'zeroAdvantageFraction',
      'zeroStdGroupFraction',
      'clipFractionLow',
      'clipFractionHigh',
      'clipEntropyBias',
      'clipCorrectionShare',
      'entropy',
      'kl',
      'meanActionTokens',
      'truncationRate',
      'gradNorm',
      'estimator.madZeroGroupFraction',
    ];
    lines.push(`| method | ${keys.join(' | ')} |`, `|---|${keys.map(() => '---|').join('')}`);
    for (const m of env.methods.filter((x) => Object.keys(x.diagnostics).length)) {
      lines.push(
        `| ${m.method} | ${keys.map((k) => (m.diagnostics[k] === undefined ? '-' : m.diagnostics[k].toFixed(3))).join(' | ')} |`,
      );
    }
    lines.push('');
    for (const warning of diagnosticWarnings(env)) lines.push(`> ${warning}`, '');
    lines.push(...creditMapMarkdown(env.env, doc.runs));
  }
  if (doc.baseline) {
    const b = doc.baseline;
    lines.push(
      '## Against the baseline',
      '',
      `Baseline ${b.file} (git ${b.gitDescribe ?? 'unknown'}). Seeds paired when both sides ran the same seeds (seed k shares its SFT start and task draws), else resampled on each side; test tasks shared; ${b.bootstrap.reps}-sample bootstrap; verdicts Holm-adjusted across ${plural(b.verdicts.length, '(environment, method) pair')} at ${b.alpha}.`,
      '',
      b.differences.length ? `Settings that differ: ${b.differences.join('; ')}.` : 'No setting differs.',
      '',
      ...baselineLines(b).map((l) => `- ${l}`),
      '',
    );
  }
  const recipes = (doc.config.recipes ?? {}) as Record<
    string,
    { estimator: string; loss: string; math?: string; unverified?: string[]; paper?: string }
  >;
  if (Object.keys(recipes).length) {
    lines.push('## Methods', '');
    for (const [name, recipe] of Object.entries(recipes)) {
      lines.push(
        `- **${name}**: estimator \`${recipe.estimator}\`, loss \`${recipe.loss}\`${recipe.paper ? `; ${recipe.paper}` : ''}`,
      );
      if (recipe.math) lines.push(`  - ${recipe.math}`);
      for (const u of recipe.unverified ?? []) lines.push(`  - unverified: ${u}`);
    }
    lines.push('');
  }
  lines.push(
    '## Budget and shared hyperparameters',
    '',
    '```json',
    JSON.stringify({ budget: doc.config.budget, overrides: doc.config.overrides, shared: doc.runs[0]?.config }, null, 2),
    '```',
    '',
  );
  const deviations = doc.runs
    .filter((r, i, all) => all.findIndex((x) => x.method === r.method) === i)
    .map((r) => ({ method: r.method, config: r.config }));
  lines.push('Per-method configuration (deviations from the shared values come from the method definitions):', '');
  for (const d of deviations)
    lines.push(
      `- ${d.method}: aggregation ${String(d.config.aggregation)}, groupSize ${String(d.config.groupSize)}, tasksPerStep ${String(d.config.tasksPerStep)}, learningRate ${String(d.config.learningRate)}`,
    );
  lines.push('');
  if (doc.cost) lines.push('', ...costMarkdown(doc.cost, doc.runs.length));
  if (doc.leaderboard) lines.push('', leaderboardMarkdown(doc.leaderboard).trimEnd());
  if (doc.failed?.length) lines.push('', ...failedLines(doc.failed));
  return `${lines.join('\n')}\n`;
}

/** `steps`: the runs' per-step clipping diagnostics (readStepSeries), plotted per environment when given. */
export async function renderHtml(doc: ComparisonDocument, steps: readonly StepSeries[] = []): Promise<string> {
  const sections: string[] = [];
  for (const env of doc.aggregates.envs) {
    const curve = env.curves.flatMap((c) =>
      c.points.map((p) => ({ method: c.method, episodes: p.episodes, iqm: p.iqm, low: p.low, high: p.high })),
    );
    const components = Object.keys(env.curves[0]?.points[0]?.reward ?? {});
    const rewards = env.curves.flatMap((c) =>
      c.points.flatMap((p) =>
        components.map((component) => ({ method: c.method, episodes: p.episodes, component, value: p.reward[component] ?? 0 })),
      ),
    );
    const profile = env.profiles.flatMap((p) =>
      p.thresholds.map((tau, i) => ({ method: p.method, tau, fraction: p.fractions[i] })),
    );
    const bars = env.methods.flatMap((m) =>
      [
        { resampled: 'seeds', ...m.success },
        ...(m.successTwoLevel ? [{ resampled: 'seeds and tasks', ...m.successTwoLevel }] : []),
      ].map((i) => ({ method: m.method, resampled: i.resampled, iqm: i.estimate, low: i.low, high: i.high })),
    );
    const learning = await svg({
      title: `${env.env}: test success (IQM over seeds, 95% CI band) vs episodes`,
      width: 520,
      height: 260,
      data: { values: curve },
      layer: [
        {
          mark: { type: 'area', opacity: 0.2 },
          encoding: {
            x: { field: 'episodes', type: 'quantitative' },
            y: { field: 'low', type: 'quantitative', title: 'success' },
            y2: { field: 'high' },
            color: { field: 'method' },
          },
        },
        {
          mark: { type: 'line', point: true },
          encoding: {
            x: { field: 'episodes', type: 'quantitative' },
            y: { field: 'iqm', type: 'quantitative' },
            color: { field: 'method' },
          },
        },
      ],
    } as TopLevelSpec);
    const perComponent = await svg({
      title: `${env.env}: mean reward per component vs episodes (collapse onto a cheap component shows here)`,
      data: { values: rewards },
      facet: { column: { field: 'component' } },
      spec: {
        width: 240,
        height: 200,
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'episodes', type: 'quantitative' },
          y: { field: 'value', type: 'quantitative' },
          color: { field: 'method' },
        },
      },
    } as TopLevelSpec);
    const intervals = await svg({
      title: `${env.env}: final success IQM with 95% CIs (resampling seeds; seeds and test tasks)`,
      width: 420,
      height: 24 * bars.length,
      data: { values: bars },
      layer: [
        {
          mark: 'rule',
          encoding: {
            y: { field: 'method', type: 'nominal' },
            yOffset: { field: 'resampled' },
            color: { field: 'resampled', title: 'resampled' },
            x: { field: 'low', type: 'quantitative', title: 'success' },
            x2: { field: 'high' },
          },
        },
        {
          mark: { type: 'point', filled: true, size: 60 },
          encoding: {
            y: { field: 'method', type: 'nominal' },
            yOffset: { field: 'resampled' },
            color: { field: 'resampled' },
            x: { field: 'iqm', type: 'quantitative' },
          },
        },
      ],
    } as TopLevelSpec);
    const profiles = await svg({
      title: `${env.env}: performance profile (fraction of runs with success > tau)`,
      width: 420,
      height: 220,
      data: { values: profile },
      mark: 'line',
      encoding: {
        x: { field: 'tau', type: 'quantitative' },
        y: { field: 'fraction', type: 'quantitative' },
        color: { field: 'method' },
      },
    } as TopLevelSpec);
    const clipBias = await clipBiasSection(env.env, steps);
    const methodDiagnostics = await methodDiagnosticsSection(env.env, doc.stepDiagnostics ?? []);
    sections.push(
      `<h2>${escapeHtml(env.env)}</h2>${intervals}${learning}${perComponent}${profiles}${clipBias}${methodDiagnostics}${creditMapHtml(env.env, doc.runs)}<ul>${verdicts(
        env,
        doc.aggregates,
      )
        .map((v) => `<li>${escapeHtml(v)}</li>`)
        .join('')}</ul>`,
    );
  }
  const markdown = escapeHtml(renderMarkdown(doc));
  const board = doc.leaderboard ? await leaderboardHtml(doc.leaderboard) : '';
  return `<!doctype html><html><head><meta charset="utf-8"><title>policy-lab comparison</title><style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:12px}svg{display:block;margin:1em 0}</style></head><body><h1>policy-lab comparison</h1>${headerLines(
    doc,
  )
    .map((line) => `<p>${escapeHtml(line)}</p>`)
    .join('')}${board}${sections.join('')}<h2>Report</h2><pre>${markdown}</pre></body></html>\n`;
}
