/**
 * The per-token credit map of From r to Q* (Rafailov et al., arXiv 2404.12358) as a report: one
 * row per answer (chosen, then rejected, of each pair), one cell per token coloured by its credit
 * beta log(pi/pi_ref) (blue above 0, red below, white at 0), with the token's text, the credit sum
 * and the sequence implicit reward at the row's end. The computation is the trainer's
 * (`creditMapOfRun`); this draws it, and decides for a comparison's run whether it has one.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type Registry, type TrainConfig, UsageError } from '@policy-lab/core';
import type { CreditedAnswer, CreditMap } from '@policy-lab/trainer';
import { page } from '../report/diagnostics-html.js';
import { escapeHtml } from '../report/svg.js';

/**
 * The answers a comparison maps in each run that kept a reference: the same first test tasks for
 * every run (at most `maxTasks` tried), `samples` answers each, the best and worst of a task as a
 * pair, `pairs` pairs; seeded, so a resumed comparison maps the same answers.
 */
export const COMPARE_CREDIT_MAP = { pairs: 2, samples: 4, maxTasks: 16, seed: 1 } as const;

/** A comparison run's credit map (results.json `runs[].creditMap`), or why the run has none. */
export type RunCreditMap = ({ status: 'computed'; seconds: number } & CreditMap) | { status: 'absent'; reason: string };

type RunConfig = Partial<Pick<TrainConfig, 'method' | 'env' | 'envOptions' | 'loss' | 'lossOptions' | 'divergenceCoef'>>;

/** The `config` of a run folder's checkpoint.json (exit 2 naming the folder when it has none). */
export function runConfig(folder: string, shown = folder): RunConfig {
  try {
    return (JSON.parse(readFileSync(path.join(folder, 'checkpoint.json'), 'utf8')) as { config?: RunConfig }).config ?? {};
  } catch {
    throw new UsageError(`bad run '${shown}': no readable checkpoint.json; give the --out folder of a finished bench train`);
  }
}

/**
 * beta of a run's implicit reward beta log(pi/pi_ref): its loss's own beta (the DPO family's
 * option); else, for a KL-regularised run, the penalty's coefficient (the optimum of
 * E[r] - c KL(pi || pi_ref) is pi_ref exp(r / c) / Z, DPO's eq. 4, so r = c log(pi/pi_ref) + c log Z);
 * else TRL's default 0.1.
 */
export function creditMapBeta(registry: Registry, config: RunConfig): number {
  const method = config.method && registry.has('methods', config.method) ? registry.get('methods', config.method) : undefined;
  const ref = config.loss ?? method?.loss;
  const name = typeof ref === 'string' ? ref : ref?.name;
  if (name && registry.has('losses', name)) {
    const options = { ...(typeof ref === 'object' ? ref.options : {}), ...(config.lossOptions ?? {}) };
    const loss = registry.resolve('losses', name, Object.keys(options).length ? options : undefined);
    const beta = (loss as { resolved?: Record<string, unknown> }).resolved?.beta;
    if (typeof beta === 'number' && beta > 0) return beta;
  }
  return (config.divergenceCoef ?? 0) > 0 ? (config.divergenceCoef as number) : 0.1;
}

/**
 * The credit map of a comparison's finished run (its folder), or why it has none: a run keeps
 * a reference (reference.safetensors) only when its loss or divergence reads one.
 */
export async function runCreditMap(
  folder: string,
  registry: Registry,
  creditMapOfRun: typeof import('@policy-lab/trainer').creditMapOfRun,
): Promise<RunCreditMap> {
  const config = runConfig(folder);
  const method = config.method ?? 'the method';
  if (!existsSync(path.join(folder, 'reference.safetensors')))
    return {
      status: 'absent',
      reason: `${method} trains against no reference policy (neither its loss nor a divergence reads one), so it has no implicit reward beta log(pi/pi_ref) to map`,
    };
  const env = registry.resolve('environments', config.env ?? '', config.envOptions ?? {});
  const started = performance.now();
  try {
    const map = await creditMapOfRun(folder, env, { ...COMPARE_CREDIT_MAP, beta: creditMapBeta(registry, config) });
    return { status: 'computed', ...map, seconds: (performance.now() - started) / 1000 };
  } catch (error) {
    // A run the map cannot read (a soft prompt) is a reason, not a failed comparison.
    if (error instanceof UsageError) return { status: 'absent', reason: `${method}: ${error.message}` };
    throw error;
  }
}

const CELL = 22;
const LABEL = 200;
const TAIL = 190;
const KEY = 460;

/** A diverging colour for a credit scaled by the map's largest |credit|: red (-1), white (0), blue (+1). */
export function creditColour(credit: number, scale: number): string {
  const x = scale > 0 ? Math.max(-1, Math.min(1, credit / scale)) : 0;
  const fade = (c: number) => Math.round(255 - (255 - c) * Math.abs(x));
  return x >= 0 ? `rgb(${fade(33)},${fade(102)},${fade(172)})` : `rgb(${fade(178)},${fade(24)},${fade(43)})`;
}

const answerLabel = (answer: CreditedAnswer) => `${answer.task} ${answer.role} (${answer.reward.toFixed(2)})`;

/** The heatmap as inline SVG. */
export function creditMapSvg(map: CreditMap): string {
  return creditStripSvg(map.answers.map((answer) => ({ label: answerLabel(answer), answer })));
}

/** Labelled answers as heat strips on one colour scale (the largest |credit| of them all). */
export function creditStripSvg(
  lines: readonly { label: string; answer: CreditedAnswer }[],
  heading = 'task, role (reward)',
): string {
  const answers = lines.map((line) => line.answer);
  const scale = Math.max(0, ...answers.flatMap((a) => a.credits.map(Math.abs)));
  const longest = Math.max(1, ...answers.map((a) => a.tokens.length));
  // Wide enough for the colour key above the cells when the answers are short.
  const width = LABEL + Math.max(longest * CELL + TAIL, KEY);
  const height = (answers.length + 1) * CELL;
  const rows = lines.map(({ label: text, answer }, r) => {
    const y = (r + 1) * CELL;
    const label = `<text x="0" y="${y + 15}" font-size="11">${escapeHtml(text)}</text>`;
    const cells = answer.tokens.map((token, k) => {
      const x = LABEL + k * CELL;
      const credit = answer.credits[k] as number;
      return `<g><title>${escapeHtml(`${JSON.stringify(token)}: ${credit.toFixed(4)}`)}</title><rect x="${x}" y="${y}" width="${CELL - 1}" height="${CELL - 1}" fill="${creditColour(credit, scale)}"/><text x="${x + CELL / 2}" y="${y + 15}" font-size="12" text-anchor="middle" font-family="monospace">${escapeHtml(token === '' ? '∎' : token)}</text></g>`;
    });
    const tail = `<text x="${LABEL + longest * CELL + 8}" y="${y + 15}" font-size="11">${escapeHtml(`sum ${answer.creditSum.toFixed(4)} = r ${answer.implicitReward.toFixed(4)}`)}</text>`;
    return label + cells.join('') + tail;
  });
  const header = `<text x="0" y="15" font-size="11">${escapeHtml(heading)}</text><text x="${LABEL}" y="15" font-size="11">tokens coloured by beta log(pi/pi_ref): blue +, red -, |max| ${scale.toFixed(4)}</text>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${header}${rows.join('')}</svg>`;
}

export async function renderCreditMapHtml(document: CreditMap & { run: string }): Promise<string> {
  const lines = [
    `run ${document.run}: ${document.method} on ${document.env}, step ${document.step}, beta ${document.beta}`,
    `${document.answers.length} answers; each row's credits sum to its sequence implicit reward (largest difference ${document.maxSumError.toExponential(2)})`,
    `mean implicit reward: chosen ${document.chosenReward.toFixed(4)}, rejected ${document.rejectedReward.toFixed(4)}`,
  ];
  return page('policy-lab credit map', lines, [creditMapSvg(document)], document);
}
