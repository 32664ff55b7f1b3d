/**
 * URPO's generative ranking format (Lu et al., "URPO: A Unified Reward & Policy Optimization
 * Framework for Large Language Models", arXiv 2507.17515): a task statement, a marker and N
 * candidate answers; the referee writes the candidates' positions best first (`102`: candidate 1,
 * then 2, then 0). Preference data and the referee's scoring of its own group use the same format,
 * so one skill serves both.
 */
import { type Environment, type Rng, UsageError } from '@policy-lab/core';
import { type CountdownTask, scoreCountdown } from '../countdown/countdown.js';

/**
 * Agreement of a predicted ranking with the true one (both best first, over the same N items):
 * the fraction of the N(N-1)/2 pairs the prediction orders as the truth does (our choice; the
 * paper's ranking reward is not given). True order 1, its reverse 0; `0>1>2` against `2>0>1` 1/3.
 */
export function rankingAgreement(truth: readonly number[], predicted: readonly number[]): number {
  const n = truth.length;
  if (predicted.length !== n) throw new RangeError(`rankingAgreement: ${predicted.length} predicted items for ${n} true ones`);
  if (n < 2) return 1;
  const position = new Map(predicted.map((item, i) => [item, i]));
  let agreed = 0;
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++)
      if ((position.get(truth[i] as number) ?? -1) < (position.get(truth[j] as number) ?? -1)) agreed++;
  return agreed / ((n * (n - 1)) / 2);
}

/** The referee's answer read as a ranking of n candidates (a permutation of the digits 0..n-1), else undefined. */
export function parseRanking(text: string, n: number): number[] | undefined {
  const digits = text.trim();
  if (digits.length !== n || !/^[0-9]+$/.test(digits)) return undefined;
  const order = [...digits].map(Number);
  return new Set(order).size === n && order.every((d) => d < n) ? order : undefined;
}

/** Borda points of each candidate under a ranking: (n - 1 - position) / (n - 1), best 1, worst 0. */
export function bordaPoints(order: readonly number[]): number[] {
  const n = order.length;
  const points = new Array<number>(n).fill(n < 2 ? 1 : 0);
  if (n >= 2) order.forEach((item, position) => (points[item] = (n - 1 - position) / (n - 1)));
  return points;
}

const MARKERS = [' rank', ' ask', ' ?', ' :'];

/** The marker between statement and candidates: the given one or the first written in the alphabet (countdown: ` ask`). */
export function rankMarker(alphabet: string | undefined, given?: string): string {
  const fits = (text: string) => alphabet === undefined || [...text].every((c) => alphabet.includes(c));
  if (!fits('0123456789 '))
    throw new UsageError(
      `urpo: the environment's alphabet ${JSON.stringify(alphabet)} lacks the digits and space a ranking is written in`,
    );
  const marker = given ?? MARKERS.find(fits);
  if (marker === undefined || marker.trim().length === 0 || !fits(marker))
    throw new UsageError(
      `urpo: marker ${JSON.stringify(marker ?? '')} is not written in the environment's alphabet ${JSON.stringify(alphabet)}; set taskSourceOptions.marker and estimatorOptions.marker to a word of it`,
    );
  return marker;
}

/** Longest candidate shown (characters, whitespace removed), so that statement and three candidates fit the context. */
export const CANDIDATE_CHARS = 8;

/** A candidate as the referee sees it: whitespace removed, cut to CANDIDATE_CHARS. */
export function shownCandidate(answer: string): string {
  return answer.replace(/\s+/g, '').slice(0, CANDIDATE_CHARS);
}

/** The referee's prompt: the statement, the marker, the candidates in the given order. */
export function rankPrompt(statement: string, candidates: readonly string[], marker: string): string {
  return `${statement}${marker} ${candidates.map(shownCandidate).join(' ')}`;
}

/** Candidates of a task whose true order the environment's own verifier gives. */
export interface RankedCandidates {
  texts: string[];
  /** Positions in `texts`, best first (ties never occur). */
  order: number[];
}

/** Builds preference data for one environment from its ground truth (training-split tasks only). */
export interface PreferenceBuilder {
  candidates(task: unknown, rng: Rng, n: number): RankedCandidates | undefined;
}

const OPERATORS = ['+', '-', '*', '/'];

/**
 * Countdown: the expert's equation and its corruptions, ranked by the environment's own reward
 * (`correct` 1 + `format` 0.1, its default weights): a correct equation, a well-formed wrong one
 * (an operator replaced, or a number replaced by another in 1..99) and a malformed one (an operator
 * or a bracket added where the grammar refuses it). One candidate per reward, so the true order has
 * no ties and N is at most 3.
 */
export function countdownCandidates(task: CountdownTask, rng: Rng, n: number): RankedCandidates | undefined {
  const s = task.solution;
  const variants = new Set<string>([s]);
  [...s].forEach((c, i) => {
    if (!OPERATORS.includes(c) || i === 0) return;
    for (const op of OPERATORS) variants.add(`${s.slice(0, i)}${op}${s.slice(i + 1)}`);
    variants.add(`${s.slice(0, i)}${c}${rng.pick(['*', '/', ')'])}${s.slice(i + 1)}`);
  });
  for (const match of s.matchAll(/[0-9]+/g)) {
    let other = match[0];
    while (other === match[0]) other = String(rng.int(1, 99));
    variants.add(`${s.slice(0, match.index)}${other}${s.slice(match.index + match[0].length)}`);
  }
  for (const broken of [`${s}${rng.pick(OPERATORS)}`, `(${s}`, `${s})`, `${rng.pick(['*', '/', ')'])}${s}`]) variants.add(broken);
  const byReward = new Map<number, string[]>();
  for (const text of variants) {
    const { correct, format } = scoreCountdown(task, text);
    const reward = correct + 0.1 * format;
    byReward.set(reward, [...(byReward.get(reward) ?? []), text]);
  }
  if (byReward.size < n) return undefined;
  const chosen = rng.shuffle([...byReward.keys()]).slice(0, n);
  const texts = chosen.map((reward) => rng.pick(byReward.get(reward) as string[]));
  const order = chosen
    .map((reward, position) => ({ reward, position }))
    .sort((a, b) => b.reward - a.reward)
    .map((c) => c.position);
  return { texts, order };
}

/** Environments with a preference-data builder, by name. */
const BUILDERS: Record<string, PreferenceBuilder> = {
  countdown: { candidates: (task, rng, n) => countdownCandidates(task as CountdownTask, rng, n) },
};

/** The environment's preference-data builder; refused (exit 2) on one without, naming what is missing. */
export function preferenceBuilder(env: Environment): PreferenceBuilder {
  const builder = BUILDERS[env.name];
  if (!builder)
    throw new UsageError(
      `urpo: environment '${env.name}' has no preference-data builder (candidate answers ranked by its own verifier) and no open-ended tasks; accepted: ${Object.keys(BUILDERS).join(', ')}`,
    );
  return builder;
}
