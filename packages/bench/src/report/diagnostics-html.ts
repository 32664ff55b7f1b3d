/**
 * Plots of the diagnostics, drawn as the comparison's are (Vega-Lite compiled to inline SVG):
 * the certificate against the radius (`bench certify --out`), the Policy Cliff's distances per
 * entropy setting (`bench policy-cliff --out`), and the clipping bias over training steps per
 * method (the comparison's report.html, from each run's metrics.jsonl).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { jsonDocument } from '../io.js';
import { escapeHtml, svg } from './svg.js';

const STYLE =
  'body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:12px}svg{display:block;margin:1em 0}';

/** A self-contained page: a title, lines of text, plots, and the document itself. */
export function page(title: string, lines: readonly string[], plots: readonly string[], document: unknown): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body><h1>${escapeHtml(title)}</h1>${lines
    .map((line) => `<p>${escapeHtml(line)}</p>`)
    .join('')}${plots.join('')}<h2>results.json</h2><pre>${escapeHtml(JSON.stringify(document, null, 2))}</pre></body></html>\n`;
}

/** results.json (exactly the --json document) and report.html in `out`. */
export async function writeDiagnosticReport<T extends Record<string, unknown>>(
  out: string,
  kind: string,
  document: T,
  render: (document: T) => Promise<string>,
): Promise<void> {
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'results.json'), jsonDocument(kind, document));
  writeFileSync(path.join(out, 'report.html'), await render(document));
}

interface CertifyDocument {
  policy: string;
  env: string;
  rate: number;
  bound: string;
  confidence: number;
  episodes: number;
  certificates: { radius: number; mean: number; cleanLower: number; certified: number; distance: number }[];
  certifiedRadius: { threshold: number; radius: number | null };
  attacked?: { radius: number; success: number }[];
}

/** The certificate's curves against the radius: what was measured, its lower bound, and what is certified. */
export function certifyPoints(doc: CertifyDocument): { radius: number; series: string; success: number }[] {
  return [
    ...doc.certificates.flatMap((c) => [
      { radius: c.radius, series: 'smoothed success (Monte Carlo)', success: c.mean },
      { radius: c.radius, series: `${doc.bound} lower bound at ${doc.confidence}`, success: c.cleanLower },
      { radius: c.radius, series: 'certified: lower bound - (1 - rate^radius)', success: c.certified },
    ]),
    ...(doc.attacked ?? []).map((a) => ({ radius: a.radius, series: 'attacked (random substitutions)', success: a.success })),
  ];
}

export async function renderCertifyHtml(doc: CertifyDocument): Promise<string> {
  const plot = await svg({
    title: `${doc.policy} on ${doc.env}: certified success vs attack radius (smoothing rate ${doc.rate})`,
    width: 520,
    height: 280,
    layer: [
      {
        data: { values: certifyPoints(doc) },
        mark: { type: 'line', point: true },
        encoding: {
          x: {
            field: 'radius',
            type: 'quantitative',
            title: 'radius (substituted characters per episode)',
            axis: { values: doc.certificates.map((c) => c.radius), format: 'd' },
          },
          y: { field: 'success', type: 'quantitative', title: 'success', scale: { domain: [0, 1] } },
          color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 2, labelLimit: 400 } },
        },
      },
      {
        data: { values: [{ threshold: doc.certifiedRadius.threshold }] },
        mark: { type: 'rule', strokeDash: [4, 4], color: 'gray' },
        encoding: { y: { field: 'threshold', type: 'quantitative' } },
      },
    ],
  } as TopLevelSpec);
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const lines = [
    `${doc.episodes} episodes; ${doc.bound} bound at confidence ${doc.confidence}; an attacker of radius B moves the smoothed success by at most 1 - rate^B (docs/robustness-certificates.md).`,
    ...doc.certificates.map(
      (c) =>
        `radius ${c.radius}: smoothed success ${pct(c.mean)}, certified >= ${pct(c.certified)} (distance ${c.distance.toFixed(4)})`,
    ),
    `Largest radius certified at success >= ${doc.certifiedRadius.threshold} (the dashed line): ${doc.certifiedRadius.radius === null ? 'every radius' : doc.certifiedRadius.radius < 0 ? 'none, not even 0' : doc.certifiedRadius.radius}.`,
  ];
  return page('policy-lab certify', lines, [plot], doc);
}

interface PolicyCliffDocument {
  method: string;
  env: string;
  perturbation: string;
  epsilon: number;
  pairs: { seed: number; entropyCoef: number; successShift: number; taskDistance: number; styleShift: number }[];
  summaries: { entropyCoef: number; pairs: number; successShift: number; taskDistance: number; styleShift: number }[];
}

const CLIFF_MEASURES = ['styleShift', 'taskDistance', 'successShift'] as const;

export async function renderPolicyCliffHtml(doc: PolicyCliffDocument): Promise<string> {
  const means = doc.summaries.flatMap((s) =>
    CLIFF_MEASURES.map((measure) => ({ entropyCoef: String(s.entropyCoef), measure, value: s[measure] })),
  );
  const pairs = doc.pairs.flatMap((p) =>
    CLIFF_MEASURES.map((measure) => ({ entropyCoef: String(p.entropyCoef), measure, value: p[measure], seed: p.seed })),
  );
  const plot = await svg({
    title: `${doc.method} on ${doc.env}: how far a ${doc.perturbation} perturbation of ${doc.epsilon} moves the learned behaviour, per entropy coefficient`,
    data: { values: [...means.map((m) => ({ ...m, kind: 'mean' })), ...pairs.map((p) => ({ ...p, kind: 'seed' }))] },
    facet: { column: { field: 'measure', type: 'nominal', title: null, sort: [...CLIFF_MEASURES] } },
    spec: {
      width: 200,
      height: 220,
      layer: [
        {
          transform: [{ filter: "datum.kind === 'mean'" }],
          mark: { type: 'bar', opacity: 0.6 },
          encoding: {
            x: { field: 'entropyCoef', type: 'nominal', title: 'entropy coefficient', axis: { labelAngle: 0 } },
            y: { field: 'value', type: 'quantitative', title: 'distance (bars: mean over seeds; points: seeds)' },
          },
        },
        {
          transform: [{ filter: "datum.kind === 'seed'" }],
          mark: { type: 'point', filled: true, color: 'black' },
          encoding: {
            x: { field: 'entropyCoef', type: 'nominal' },
            y: { field: 'value', type: 'quantitative' },
          },
        },
      ],
    },
  } as TopLevelSpec);
  const lines = [
    `Paired runs per seed and entropy coefficient, differing only in the reward (${doc.perturbation}, epsilon ${doc.epsilon}). styleShift: change in the share of style-1 answers; taskDistance: mean over test tasks of the change in success; successShift: change in test success.`,
    ...doc.summaries.map(
      (s) =>
        `entropy ${s.entropyCoef} (${s.pairs} pairs): styleShift ${s.styleShift.toFixed(3)}, taskDistance ${s.taskDistance.toFixed(3)}, successShift ${s.successShift.toFixed(3)}`,
    ),
  ];
  return page('policy-lab policy-cliff', lines, [plot], doc);
}

/** Per-step clipping diagnostics of one run, from its metrics.jsonl. */
export interface StepSeries {
  method: string;
  env: string;
  seed: number;
  points: { step: number; metric: string; value: number }[];
}

export const CLIP_BIAS_METRICS = ['clipEntropyBias', 'clipCorrectionShare'] as const;

/**
 * Per-step diagnostics of a method's own mechanism, drawn for the methods whose runs log the
 * group's `marker`: OPPO's optimal context z* among the step's completion contexts (oppo-context
 * loss), VA-pi's two ELBO terms (the reconstruction reward of the teacher-forced draws with
 * its sequence metric, and the prior term, the reference tokens' cross-entropy), INSPO's
 * instruction population (the inspo task source) and FlowBoost's elite buffer (flowboost-elites).
 */
export const METHOD_STEP_DIAGNOSTICS = [
  {
    name: 'preference context',
    marker: 'contextPreferenceAccuracy',
    metrics: ['contextToPreferred', 'contextToRejected', 'contextPreferenceAccuracy'],
    title: "OPPO's optimal context z* per step",
    note: "OPPO's optimal context z* (the soft prompt) among each step's completion contexts: its mean distance to the preferred and to the rejected ones, and the share of the step's pairs, scored before the update reads them, whose preferred context is the nearer.",
  },
  {
    name: 'ELBO terms',
    marker: 'referenceCrossEntropy',
    metrics: ['rewardMean', 'referenceTokenMatch', 'referenceCrossEntropy'],
    title: "VA-pi's ELBO terms per step",
    note: "VA-pi's ELBO terms: reconstruction, the reward of the detokenised teacher-forced draws (rewardMean) and the share of drawn tokens equal to the reference's (referenceTokenMatch); prior, the reference tokens' cross-entropy under teacher forcing (referenceCrossEntropy).",
  },
  {
    name: 'instruction population',
    marker: 'taskSource.instructionWeightDrawn',
    metrics: [
      'taskSource.populationSize',
      'taskSource.instructionWeightBest',
      'taskSource.instructionWeightWorst',
      'taskSource.instructionWeightDrawn',
    ],
    title: "INSPO's instruction population per step",
    note: "INSPO's instruction population after each step: its size, the best and the worst instruction weight (the mean reward of every rollout played under an instruction), and the expected weight of the instruction drawn for a task (softmax(w / tau) over the population).",
  },
  {
    name: 'elite buffer',
    marker: 'taskSource.eliteRatio',
    metrics: ['taskSource.policyRatio', 'taskSource.refinedRatio', 'taskSource.eliteRatio', 'taskSource.eliteOptimal'],
    title: "FlowBoost's search and elite buffer per step",
    note: "FlowBoost after each step, as fractions of each task's exact optimum: the policy's best masked answer in a group (policyRatio), the same answer after local search (refinedRatio), the elite buffer's mean (eliteRatio) and the share of elites at the optimum (eliteOptimal).",
  },
  {
    name: 'exploration monitor',
    marker: 'hook.mstar-temp-balancer.temperature',
    metrics: [
      'hook.mstar-temp-balancer.temperature',
      'hook.mstar-temp-balancer.rewardPass@2',
      'hook.mstar-temp-balancer.rewardPass@2.T0.5',
      'hook.mstar-temp-balancer.rewardPass@2.T0.7',
      'hook.mstar-temp-balancer.rewardPass@2.T0.9',
      'hook.mstar-temp-balancer.rewardPass@2.T1.1',
    ],
    title: "M-STAR's exploration monitor per round",
    note: "M-STAR's exploration monitor: the sampling temperature of each step (temperature) and, at each round's start, Reward-Pass@2 on the probe set at each temperature of the default grid (rewardPass@2.T0.5 ... T1.1; the share of probe queries whose top 2 responses by the reward model hold a correct one) and at the one chosen (rewardPass@2).",
  },
] as const;

/** One (environment, method, metric, step) of a method diagnostic, the mean over seeds (results.json `stepDiagnostics`). */
export interface StepDiagnostic {
  env: string;
  method: string;
  metric: string;
  step: number;
  value: number;
}

/**
 * Reads `runs/<id>/metrics.jsonl` of each run of a comparison in `out`; a run without the file
 * (results of another machine, or an older version) is left out, and a partial last line (a kill
 * during an append) is skipped.
 */
export function readStepSeries(
  out: string,
  runs: readonly { id: string; method: string; env: string; seed: number }[],
  metrics: readonly string[] = CLIP_BIAS_METRICS,
): StepSeries[] {
  return runs.flatMap((run) => {
    const file = path.join(out, 'runs', run.id, 'metrics.jsonl');
    if (!existsSync(file)) return [];
    const points = readFileSync(file, 'utf8')
      .split('\n')
      .flatMap((line) => {
        try {
          const row = JSON.parse(line) as Record<string, unknown>;
          return metrics.flatMap((metric) =>
            typeof row.step === 'number' && typeof row[metric] === 'number'
              ? [{ step: row.step, metric, value: row[metric] as number }]
              : [],
          );
        } catch {
          return [];
        }
      });
    return points.length ? [{ method: run.method, env: run.env, seed: run.seed, points }] : [];
  });
}

/** Mean over seeds of each (method, metric, step). */
export function meanOverSeeds(series: readonly StepSeries[]): { method: string; metric: string; step: number; value: number }[] {
  const sums = new Map<string, { method: string; metric: string; step: number; total: number; count: number }>();
  for (const s of series)
    for (const p of s.points) {
      const key = `${s.method}\u0000${p.metric}\u0000${p.step}`;
      const entry = sums.get(key) ?? { method: s.method, metric: p.metric, step: p.step, total: 0, count: 0 };
      entry.total += p.value;
      entry.count += 1;
      sums.set(key, entry);
    }
  return [...sums.values()].map(({ method, metric, step, total, count }) => ({ method, metric, step, value: total / count }));
}

/** Whole-number ticks: every step when there are few (else Vega puts ticks between them), Vega's own otherwise. */
function wholeTicks(steps: readonly number[]): { format: string; values?: number[] } {
  const distinct = [...new Set(steps)].sort((a, b) => a - b);
  return distinct.length <= 12 ? { format: 'd', values: distinct } : { format: 'd' };
}

/**
 * The clipping bias over steps per method, or a sentence when it is 0 at every step (one epoch
 * and one minibatch keep the ratio at 1, so the clip never binds), or nothing without data.
 */
export async function clipBiasSection(env: string, series: readonly StepSeries[]): Promise<string> {
  const mine = series.filter((s) => s.env === env);
  if (mine.length === 0) return '';
  const values = meanOverSeeds(mine);
  if (values.every((v) => v.value === 0))
    return `<p>${escapeHtml(`${env}: the clipping bias (clipEntropyBias, clipCorrectionShare) is 0 at every step of every run: with one epoch and one minibatch the ratio is 1 and the clip never binds.`)}</p>`;
  return stepPanels(`${env}: clipping bias per step (mean over seeds; docs/clipping-bias.md)`, values, CLIP_BIAS_METRICS, {
    width: 260,
    height: 200,
  });
}

/** A panel per metric (its own y scale), steps on x, a line per method. */
function stepPanels(
  title: string,
  values: readonly { method: string; metric: string; step: number; value: number }[],
  metrics: readonly string[],
  size: { width: number; height: number },
): Promise<string> {
  return svg({
    title,
    data: { values },
    facet: { column: { field: 'metric', type: 'nominal', title: null, sort: [...metrics] } },
    resolve: { scale: { y: 'independent' } },
    spec: {
      ...size,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'step', type: 'quantitative', axis: wholeTicks(values.map((v) => v.step)) },
        y: { field: 'value', type: 'quantitative', title: null },
        color: { field: 'method' },
      },
    },
  } as TopLevelSpec);
}

/**
 * The method diagnostics of a comparison (METHOD_STEP_DIAGNOSTICS) from its runs' metrics.jsonl:
 * per (environment, method) that logs a group's marker, the group's metrics per step, averaged
 * over seeds. Empty when no method of the comparison logs one.
 */
export function methodStepDiagnostics(
  out: string,
  runs: readonly { id: string; method: string; env: string; seed: number }[],
): StepDiagnostic[] {
  const series = readStepSeries(out, runs, [...new Set(METHOD_STEP_DIAGNOSTICS.flatMap((g) => g.metrics))]);
  return [...new Set(series.map((s) => s.env))].flatMap((env) => {
    const mine = series.filter((s) => s.env === env);
    return METHOD_STEP_DIAGNOSTICS.flatMap((group) => {
      const methods = new Set(mine.filter((s) => s.points.some((p) => p.metric === group.marker)).map((s) => s.method));
      const points = mine
        .filter((s) => methods.has(s.method))
        .map((s) => ({ ...s, points: s.points.filter((p) => (group.metrics as readonly string[]).includes(p.metric)) }));
      return meanOverSeeds(points).map((p) => ({ env, ...p }));
    });
  });
}

/** One plot per method diagnostic group logged on `env` (a panel per metric, a line per method), or nothing. */
export async function methodDiagnosticsSection(env: string, diagnostics: readonly StepDiagnostic[]): Promise<string> {
  const plots = METHOD_STEP_DIAGNOSTICS.map(async (group) => {
    // Copies: Vega tags the objects it is given, and these belong to the document.
    const values = diagnostics
      .filter((d) => d.env === env && (group.metrics as readonly string[]).includes(d.metric))
      .map((d) => ({ ...d }));
    if (!values.some((d) => d.metric === group.marker)) return '';
    const plot = await stepPanels(`${env}: ${group.title} (mean over seeds)`, values, group.metrics, {
      width: 220,
      height: 180,
    });
    return `<p>${escapeHtml(group.note)}</p>${plot}`;
  });
  return (await Promise.all(plots)).join('');
}
