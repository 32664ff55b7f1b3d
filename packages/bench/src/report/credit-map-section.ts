/**
 * The comparison report's credit-map section (From r to Q*, Rafailov et al., arXiv 2404.12358):
 * for each method whose runs trained against a reference policy, the per-token implicit reward
 * beta log(pi/pi_ref) of a handful of test answers of its final policies (runs[].creditMap of
 * results.json), summarised in one line of report.md and drawn as heat strips in report.html;
 * for a method without a reference, one line saying why the map is absent. Results of versions
 * that did not compute it have no section.
 */
import type { CreditedAnswer } from '@policy-lab/trainer';
import { COMPARE_CREDIT_MAP, creditStripSvg, type RunCreditMap } from '../diagnostics/credit-map.js';
import type { RunRecord } from './aggregate.js';
import { escapeHtml } from './svg.js';

type Computed = Extract<RunCreditMap, { status: 'computed' }>;

export const CREDIT_MAP_TITLE = 'Credit map (From r to Q*: beta log pi/pi_ref per token)';

export const CREDIT_MAP_INTRO = `Each run's final policy against its reference on the same first test tasks (at most ${COMPARE_CREDIT_MAP.maxTasks} tried, ${COMPARE_CREDIT_MAP.samples} answers sampled per task, its best and worst as a pair when their rewards differ, ${COMPARE_CREDIT_MAP.pairs} pairs, seed ${COMPARE_CREDIT_MAP.seed}). A token's credit is beta log(pi/pi_ref), the optimal advantage in the token-level MDP of a DPO-trained policy; an answer's credits sum to its sequence implicit reward beta log pi(y|x)/pi_ref(y|x), computed apart from them. The samples and forward passes are a side cost, outside every run's budget.`;

/** One method's credit maps on one environment: what the section says and draws of it. */
export interface MethodCreditMaps {
  method: string;
  line: string;
  /** The mapped answers of every seed, labelled, for one heat strip on a shared colour scale. */
  strips: { label: string; answer: CreditedAnswer }[];
}

const shown = (token: string) => JSON.stringify(token === '' ? '∎' : token);

/**
 * Where an answer's credit sits: the share of its total |credit| on its largest-|credit| token,
 * that token's relative position (0 the first token, 1 the last) and its text.
 */
export function concentration(answer: CreditedAnswer): { share: number; position: number; token: string } | undefined {
  const magnitudes = answer.credits.map(Math.abs);
  const total = magnitudes.reduce((a, b) => a + b, 0);
  if (!(total > 0)) return undefined;
  const top = magnitudes.indexOf(Math.max(...magnitudes));
  return {
    share: (magnitudes[top] as number) / total,
    position: answer.credits.length > 1 ? top / (answer.credits.length - 1) : 0,
    token: answer.tokens[top] as string,
  };
}

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);
const signed = (x: number) => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${x.toFixed(4)}` : 'n/a');
const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

function computedLine(method: string, maps: readonly Computed[], absent: number): string {
  const answers = maps.flatMap((m) => m.answers);
  const runs = `${plural(maps.length, 'run')}${absent ? ` (${absent} more without a map)` : ''}`;
  const cost = `side cost ${maps.reduce((a, m) => a + m.cost.episodes, 0)} sampled episodes, ${maps.reduce((a, m) => a + m.cost.generatedTokens, 0)} generated tokens, ${maps.reduce((a, m) => a + m.cost.scoredTokens, 0)} tokens scored by the policy and the reference, ${maps.reduce((a, m) => a + m.seconds, 0).toFixed(1)} s`;
  if (answers.length === 0)
    return `${method}: ${runs}; no test task of the ${maps.reduce((a, m) => a + m.tasksTried, 0)} tried gave two answers of different reward, so no answer was mapped; ${cost}.`;
  const betas = [...new Set(maps.map((m) => m.beta))].join(', ');
  const role = (r: CreditedAnswer['role']) => mean(answers.filter((a) => a.role === r).map((a) => a.implicitReward));
  const where = answers.flatMap((a) => concentration(a) ?? []);
  const counts = new Map<string, number>();
  for (const w of where) counts.set(w.token, (counts.get(w.token) ?? 0) + 1);
  const common = [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([token, n]) => `${shown(token)} (${n})`)
    .join(', ');
  const sumError = Math.max(0, ...maps.map((m) => m.maxSumError));
  const concentrated = where.length
    ? `the largest-|credit| token holds ${(100 * mean(where.map((w) => w.share))).toFixed(0)}% of an answer's total |credit| on average, at relative position ${mean(where.map((w) => w.position)).toFixed(2)} (0 the first token, 1 the last), most often ${common}`
    : 'every credit is 0 (the policy has not moved from its reference on these answers)';
  return `${method}: ${runs}, ${plural(answers.length, 'answer')}, beta ${betas}; each answer's credits sum to its implicit reward (largest difference ${sumError.toExponential(1)}); mean implicit reward chosen ${signed(role('chosen'))}, rejected ${signed(role('rejected'))}; ${concentrated}; ${cost}.`;
}

/** The section's content for one environment, one entry per method in run order; empty when no run carries a map. */
export function creditMapsOf(env: string, runs: readonly RunRecord[]): MethodCreditMaps[] {
  const mine = runs.filter((r) => r.env === env && r.creditMap);
  const methods = [...new Set(mine.map((r) => r.method))];
  return methods.map((method) => {
    const own = mine.filter((r) => r.method === method);
    const computed = own.flatMap((r) => (r.creditMap?.status === 'computed' ? [{ seed: r.seed, map: r.creditMap }] : []));
    const reasons = [...new Set(own.flatMap((r) => (r.creditMap?.status === 'absent' ? [r.creditMap.reason] : [])))];
    if (computed.length === 0) return { method, line: `${method}: no credit map: ${reasons.join('; ')}.`, strips: [] };
    const line = computedLine(
      method,
      computed.map((c) => c.map),
      own.length - computed.length,
    );
    const strips = computed.flatMap(({ seed, map }) =>
      map.answers.map((answer) => ({
        label: `seed ${seed}: ${answer.task} ${answer.role} (${answer.reward.toFixed(2)})`,
        answer,
      })),
    );
    return { method, line: reasons.length ? `${line} Without a map: ${reasons.join('; ')}.` : line, strips };
  });
}

/** report.md: the section's heading, what it maps, and one line per method. */
export function creditMapMarkdown(env: string, runs: readonly RunRecord[]): string[] {
  const maps = creditMapsOf(env, runs);
  if (maps.length === 0) return [];
  return [`### ${CREDIT_MAP_TITLE}`, '', CREDIT_MAP_INTRO, '', ...maps.map((m) => `- ${m.line}`), ''];
}

/** report.html: the same lines, each method with a map followed by its heat strip (every seed on one colour scale). */
export function creditMapHtml(env: string, runs: readonly RunRecord[]): string {
  const maps = creditMapsOf(env, runs);
  if (maps.length === 0) return '';
  const parts = maps.map(
    (m) =>
      `<p>${escapeHtml(m.line)}</p>${m.strips.length ? `<div class="credit-map">${creditStripSvg(m.strips, 'seed: task, role (reward)')}</div>` : ''}`,
  );
  return `<h3>${escapeHtml(`${env}: ${CREDIT_MAP_TITLE}`)}</h3><p>${escapeHtml(CREDIT_MAP_INTRO)}</p>${parts.join('')}`;
}
