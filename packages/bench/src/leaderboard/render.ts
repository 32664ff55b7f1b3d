/** The leaderboard as Markdown (report.md, leaderboard.md) and as report.html figures. */
import type { TopLevelSpec } from 'vega-lite';
import { escapeHtml, svg } from '../report/svg.js';
import type { BoardRow, Leaderboard } from './board.js';

const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : 'n/a');
const score = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');
const interval = (i: { estimate: number; low: number; high: number }) =>
  `${score(i.estimate)} [${score(i.low)}, ${score(i.high)}]`;

/** How many methods the profile figure draws: more lines than this cannot be told apart. */
const PROFILE_LINES = 8;

function table(rows: readonly BoardRow[], board: Leaderboard, ranked: boolean): string[] {
  const envs = board.envs.map((e) => e.env);
  const reference = board.reference;
  const head = [
    ...(ranked ? ['rank'] : []),
    'method',
    'normalised IQM [95% CI]',
    ...(reference ? [`P(> ${reference})`] : []),
    ...envs,
  ];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  rows.forEach((row, i) => {
    const poi = row.improvementOverReference;
    lines.push(
      `| ${[
        ...(ranked ? [String(i + 1)] : []),
        row.ownStart ? `${row.method} (own start: ${row.ownStart.join(', ')})` : row.method,
        interval(row.normalised),
        ...(reference ? [poi ? `${poi.estimate.toFixed(2)} [${poi.low.toFixed(2)}, ${poi.high.toFixed(2)}]` : '-'] : []),
        ...envs.map((env) => (row.envs.includes(env) ? pct(row.success[env] ?? Number.NaN) : 'skipped')),
      ].join(' | ')} |`,
    );
  });
  return lines;
}

export function leaderboardMarkdown(board: Leaderboard): string {
  const lines = [
    '## Leaderboard',
    '',
    `Normalisation: ${board.normalisation}. The aggregate is the interquartile mean of the normalised scores over every (environment, seed), with a ${Math.round(100 * board.bootstrap.level)}% stratified bootstrap interval (${board.bootstrap.reps} resamples; seeds resampled within each environment).`,
    'Methods are listed by their point estimate; overlapping intervals mean the data do not order them.',
    '',
    '| environment | SFT start (mean success) |',
    '|---|---|',
    ...board.envs.map((e) => `| ${e.env} | ${pct(e.start)}${e.excluded ? ` (left out: ${e.excluded})` : ''} |`),
    '',
    ...table(board.ranked, board, true),
  ];
  if (board.partial.length)
    lines.push(
      '',
      'Methods that ran on some of the environments only (their aggregate covers fewer environments, so it is not ranked with the others):',
      '',
      ...table(board.partial, board, false),
    );
  if ([...board.ranked, ...board.partial].some((row) => row.ownStart))
    lines.push(
      '',
      "own start: the method's runs on those environments began from a start of their own (extra rows in its SFT warm start, or a soft prompt) and are normalised against the board's SFT start, so their score mixes that start with what their RL did.",
    );
  if (board.skipped.length)
    lines.push(
      '',
      'Skipped:',
      '',
      ...board.skipped.map((s) => `- ${s.method}${s.env === '*' ? '' : ` on ${s.env}`}: ${s.reason}`),
    );
  return `${lines.join('\n')}\n`;
}

/** The aggregate intervals and the performance profiles (the best PROFILE_LINES methods and the reference). */
export async function leaderboardFigures(board: Leaderboard): Promise<{ intervals: string; profiles: string }> {
  const rows = [...board.ranked, ...board.partial];
  const intervals = await svg({
    title: 'normalised score: IQM over environments and seeds, 95% stratified bootstrap CI',
    width: 460,
    height: 18 * rows.length,
    data: {
      values: rows.map((r) => ({
        method: r.method,
        coverage: board.partial.includes(r) ? 'some environments' : 'every environment',
        iqm: r.normalised.estimate,
        low: r.normalised.low,
        high: r.normalised.high,
      })),
    },
    layer: [
      {
        mark: 'rule',
        encoding: {
          y: { field: 'method', type: 'nominal', sort: null },
          x: { field: 'low', type: 'quantitative', title: 'normalised score (0 = SFT start, 1 = every task solved)' },
          x2: { field: 'high' },
          color: { field: 'coverage' },
        },
      },
      {
        mark: { type: 'point', filled: true },
        encoding: {
          y: { field: 'method', type: 'nominal', sort: null },
          x: { field: 'iqm', type: 'quantitative' },
          color: { field: 'coverage' },
        },
      },
    ],
  } as TopLevelSpec);
  const drawn = board.ranked.slice(0, PROFILE_LINES);
  const reference = rows.find((r) => r.method === board.reference);
  if (reference && !drawn.includes(reference)) drawn.push(reference);
  const profiles = await svg({
    title: `performance profiles: fraction of runs (all environments) with normalised score > tau (${drawn.length} methods)`,
    width: 460,
    height: 260,
    data: { values: drawn.flatMap((r) => board.thresholds.map((tau, i) => ({ method: r.method, tau, fraction: r.profile[i] }))) },
    mark: 'line',
    encoding: {
      x: { field: 'tau', type: 'quantitative', title: 'normalised score tau' },
      y: { field: 'fraction', type: 'quantitative', title: 'fraction of runs > tau' },
      color: { field: 'method' },
    },
  } as TopLevelSpec);
  return { intervals, profiles };
}

export async function leaderboardHtml(board: Leaderboard): Promise<string> {
  const { intervals, profiles } = await leaderboardFigures(board);
  return `<h2>Leaderboard</h2><p>${escapeHtml(board.normalisation)}</p>${intervals}${profiles}`;
}
