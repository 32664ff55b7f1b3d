/** Renders a comparison: the stdout table, report.md, results.csv and a self-contained report.html. */
import Table from 'cli-table3';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { Aggregates, EnvAggregate, RunRecord } from './aggregate.js';

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
}

const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : 'n/a');
const interval = (i: { estimate: number; low: number; high: number }) => `${pct(i.estimate)} [${pct(i.low)}, ${pct(i.high)}]`;

function verdicts(env: EnvAggregate): string[] {
  return env.pairs.map((p) => {
    const poi = `P(${p.x} > ${p.y}) = ${p.probability.estimate.toFixed(2)} [${p.probability.low.toFixed(2)}, ${p.probability.high.toFixed(2)}]`;
    if (p.better === 'none') {
      const side =
        p.probability.low > 0.5
          ? `; the P(${p.x} > ${p.y}) interval lies above 0.5`
          : p.probability.high < 0.5
            ? `; the P(${p.x} > ${p.y}) interval lies below 0.5`
            : '';
      return `${p.x} vs ${p.y}: no difference detected (IQM intervals overlap); ${poi}${side}`;
    }
    const winner = p.better === 'x' ? p.x : p.y;
    return `${p.x} vs ${p.y}: ${winner} higher (IQM intervals do not overlap); ${poi}`;
  });
}

export function renderTable(doc: ComparisonDocument): string {
  const out: string[] = [];
  for (const env of doc.aggregates.envs) {
    const components = Object.keys(env.methods[0]?.reward ?? {});
    const table = new Table({
      head: ['method', 'runs', 'success IQM [95% CI]', 'greedy', 'pass@k', ...components, 'episodes'],
      style: { head: [], border: [] },
    });
    for (const m of env.methods) {
      table.push([
        m.method,
        String(m.runs),
        interval(m.success),
        pct(m.greedySuccess),
        pct(m.passAtK),
        ...components.map((c) => (m.reward[c] ?? 0).toFixed(3)),
        m.consumed.episodes !== undefined ? m.consumed.episodes.toFixed(0) : '-',
      ]);
    }
    out.push(
      `${env.env}: final test success (sampled, temperature 1)`,
      table.toString(),
      ...verdicts(env).map((v) => `  ${v}`),
      '',
    );
  }
  out.push(`Note: ${doc.config.note}`);
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

export function renderMarkdown(doc: ComparisonDocument): string {
  const lines = [
    '# policy-lab comparison',
    '',
    `Preset **${doc.config.preset}**: ${doc.config.note}.`,
    '',
    `Methods: ${doc.config.methods.join(', ')}; controls: ${['sft-start (the SFT checkpoint without RL)', ...doc.config.controls].join(', ')}.`,
    `Backend ${doc.backend}; ${String(doc.machine.cpus)} x ${String(doc.machine.cpuModel)}; git ${doc.gitDescribe ?? 'unknown'}.`,
    `Statistics: IQM over seeds with ${doc.aggregates.bootstrap.reps}-sample stratified bootstrap 95% CIs (seeded); probability of improvement with CI. Overlapping intervals are reported as no difference detected.`,
    '',
  ];
  for (const env of doc.aggregates.envs) {
    const components = Object.keys(env.methods[0]?.reward ?? {});
    lines.push(`## ${env.env}`, '', `Normalisation: ${env.normalisation}.`, '');
    lines.push(
      `| method | runs | success IQM [95% CI] | greedy | pass@k | ${components.join(' | ')} | episodes | generated tokens | trained tokens |`,
    );
    lines.push(`|---|---|---|---|---|${components.map(() => '---|').join('')}---|---|---|`);
    for (const m of env.methods) {
      lines.push(
        `| ${m.method} | ${m.runs} | ${interval(m.success)} | ${pct(m.greedySuccess)} | ${pct(m.passAtK)} | ${components.map((c) => (m.reward[c] ?? 0).toFixed(3)).join(' | ')} | ${m.consumed.episodes?.toFixed(0) ?? '-'} | ${m.consumed.generatedTokens?.toFixed(0) ?? '-'} | ${m.consumed.trainedTokens?.toFixed(0) ?? '-'} |`,
      );
    }
    lines.push(
      '',
      '### Pairwise',
      '',
      ...verdicts(env).map((v) => `- ${v}`),
      '',
      '### Diagnostics (means over steps and runs)',
      '',
    );
    const keys = [
      'zeroAdvantageFraction',
      'zeroStdGroupFraction',
      'clipFractionLow',
      'clipFractionHigh',
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
  return `${lines.join('\n')}\n`;
}

async function svg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const out = await view.toSVG();
  view.finalize();
  return out;
}

export async function renderHtml(doc: ComparisonDocument): Promise<string> {
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
    const bars = env.methods.map((m) => ({
      method: m.method,
      iqm: m.success.estimate,
      low: m.success.low,
      high: m.success.high,
    }));
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
      title: `${env.env}: final success IQM with 95% CI`,
      width: 420,
      height: 30 * bars.length,
      data: { values: bars },
      layer: [
        {
          mark: 'rule',
          encoding: {
            y: { field: 'method', type: 'nominal' },
            x: { field: 'low', type: 'quantitative', title: 'success' },
            x2: { field: 'high' },
          },
        },
        {
          mark: { type: 'point', filled: true, size: 60 },
          encoding: { y: { field: 'method', type: 'nominal' }, x: { field: 'iqm', type: 'quantitative' } },
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
    sections.push(
      `<h2>${escapeHtml(env.env)}</h2>${intervals}${learning}${perComponent}${profiles}<ul>${verdicts(env)
        .map((v) => `<li>${escapeHtml(v)}</li>`)
        .join('')}</ul>`,
    );
  }
  const markdown = escapeHtml(renderMarkdown(doc));
  return `<!doctype html><html><head><meta charset="utf-8"><title>policy-lab comparison</title><style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:12px}svg{display:block;margin:1em 0}</style></head><body><h1>policy-lab comparison</h1><p>Preset <b>${escapeHtml(doc.config.preset)}</b>: ${escapeHtml(doc.config.note)}</p>${sections.join('')}<h2>Report</h2><pre>${markdown}</pre></body></html>\n`;
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
