/**
 * UPO's reliable-feedback selection of online preference pairs (Wang et al., arXiv 2409.11212;
 * defaults from the released code, wjn1996/Uncertainty-Preference-Optimization,
 * src/alignment/inference/estimating/{main.py, mc_evaluation.py, sampler.py}):
 *   1. per group, a candidate pair: the rollout the reward ranks first against one drawn from the
 *      rest (with more than 4 rollouts, the rest is the next one and the bottom two);
 *   2. the estimator judges every candidate in T Monte-Carlo dropout passes; BALD of the passes;
 *   3. candidates whose order the estimator's majority vote contradicts are dropped (main.py's
 *      noise filter), once the estimator has learned anything;
 *   4. a share of the rest is drawn without replacement in proportion to 1 - BALD (sampler.py's
 *      easy set) and each kept pair carries its reliability 1 - BALD / log 2 for the weighted DPO loss;
 *   5. the estimator then learns from the step's pairs ordered by the environment's own reward
 *      (the trusted labels), so a pair is never judged by an estimator that learned its label.
 */
import { type Rng, type Rollout, rolloutText, type UncertaintySelection } from '@policy-lab/core';
import { baldOfPasses } from './data.js';
import { rolloutRows, type TokenPair } from './pairs.js';
import { type PairEstimator, type PairText, pairCharacters } from './upo-estimator.js';

/** One candidate pair of a group: indices of the chosen and the rejected rollout. */
export interface CandidatePair {
  group: number;
  chosen: number;
  rejected: number;
}

/** Indices of a group's scores, highest first (the lower index first on ties). */
function ranked(scores: readonly number[]): number[] {
  return scores.map((_, i) => i).sort((a, b) => (scores[b] as number) - (scores[a] as number) || a - b);
}

/** The pool a group's pair is drawn from: every rollout, or with more than 4 the top two and the bottom two (ranked). */
export function candidatePool(scores: readonly number[]): number[] {
  const order = ranked(scores);
  return order.length > 4 ? [...order.slice(0, 2), ...order.slice(-2)] : order;
}

/**
 * Per group, the top-scored rollout (chosen) against one drawn uniformly from the rest of its
 * pool whose score is strictly lower; a group whose pool is all tied gives none.
 */
export function candidatePairs(scores: readonly (readonly number[])[], rng: Rng): CandidatePair[] {
  const out: CandidatePair[] = [];
  scores.forEach((group, g) => {
    const [chosen, ...rest] = candidatePool(group);
    if (chosen === undefined) return;
    const lower = rest.filter((i) => (group[i] as number) < (group[chosen] as number));
    if (lower.length === 0) return;
    out.push({ group: g, chosen, rejected: lower[rng.int(0, lower.length - 1)] as number });
  });
  return out;
}

/**
 * `count` distinct indices drawn without replacement, each draw in proportion to the remaining
 * weights max(0, 1 - BALD) (numpy's choice(p, replace=False) draws the same way).
 */
export function sampleByReliability(balds: readonly number[], count: number, rng: Rng): number[] {
  const weights = balds.map((b) => Math.max(0, 1 - b));
  const left = weights.map((_, i) => i);
  const out: number[] = [];
  while (out.length < count && left.length > 0) {
    const total = left.reduce((s, i) => s + (weights[i] as number), 0);
    let at = 0;
    if (total > 0) {
      let u = rng.next() * total;
      while (at < left.length - 1 && u >= (weights[left[at] as number] as number)) {
        u -= weights[left[at] as number] as number;
        at += 1;
      }
    } else at = rng.int(0, left.length - 1);
    out.push(left[at] as number);
    left.splice(at, 1);
  }
  return out;
}

/** The estimator's majority vote over T passes agrees with the pair's order (ties count as agreeing, as numpy's argmax of the vote counts). */
export function majorityAgrees(passes: readonly (readonly number[])[]): boolean {
  const firstWins = passes.filter((p) => (p[0] as number) >= (p[1] as number)).length;
  return firstWins >= passes.length - firstWins;
}

/** What one selection did, for the step's metrics. */
export interface SelectionReport {
  candidates: number;
  agreed: number;
  kept: number;
  meanBald: number;
  keptBald: number;
}

/**
 * Steps 2-4 on candidate pairs already turned into texts: returns the kept candidates' indices,
 * their reliabilities and the report. `charge` receives the characters the passes read.
 */
export function selectReliable(
  estimator: PairEstimator,
  texts: readonly PairText[],
  options: UncertaintySelection,
  rng: Rng,
  charge: (characters: number) => void,
): { kept: number[]; reliability: number[]; report: SelectionReport } {
  const passes = estimator.passes(texts, options.passes, rng.split('passes'));
  charge(options.passes * texts.reduce((n, t) => n + pairCharacters(t), 0));
  const perPair = texts.map((_, i) => passes.map((pass) => pass[i] as number[]));
  const balds = perPair.map(baldOfPasses);
  const filter = options.dropDisagreements && estimator.trainedExamples > 0;
  const clean = perPair.map((p, i) => (!filter || majorityAgrees(p) ? i : -1)).filter((i) => i >= 0);
  const count = Math.ceil(options.sampleRate * clean.length);
  const kept = sampleByReliability(
    clean.map((i) => balds[i] as number),
    count,
    rng.split('sample'),
  ).map((k) => clean[k] as number);
  const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  return {
    kept,
    reliability: kept.map((i) => Math.min(1, Math.max(0, 1 - (balds[i] as number) / Math.LN2))),
    report: {
      candidates: texts.length,
      agreed: clean.length,
      kept: kept.length,
      meanBald: mean(balds),
      keptBald: mean(kept.map((i) => balds[i] as number)),
    },
  };
}

/** A candidate pair as the estimator reads it. */
function pairText(groups: readonly (readonly Rollout[])[], pair: CandidatePair): PairText {
  const group = groups[pair.group] as readonly Rollout[];
  const chosen = rolloutText(group[pair.chosen] as Rollout);
  return { context: chosen.context, first: chosen.text, second: rolloutText(group[pair.rejected] as Rollout).text };
}

/**
 * The estimator's labelled examples from a step's groups: every strictly ordered pair of each
 * group's pool under the trusted scores, in both orders (label 1 when #1 is the better).
 */
export function labelledPairs(
  groups: readonly (readonly Rollout[])[],
  trusted: readonly (readonly number[])[],
): { pair: PairText; label: number }[] {
  const out: { pair: PairText; label: number }[] = [];
  groups.forEach((_, g) => {
    const scores = trusted[g] as readonly number[];
    const pool = candidatePool(scores);
    for (const [a, i] of pool.entries())
      for (const j of pool.slice(a + 1)) {
        if ((scores[i] as number) <= (scores[j] as number)) continue;
        const text = pairText(groups, { group: g, chosen: i, rejected: j });
        out.push({ pair: text, label: 1 }, { pair: { ...text, first: text.second, second: text.first }, label: 0 });
      }
  });
  return out;
}

export interface UncertaintyStep {
  pairs: TokenPair[];
  metrics: Record<string, number>;
  /** Characters the estimator read (T passes per pair) and trained on. */
  scoredCharacters: number;
  trainedCharacters: number;
}

/**
 * One step of UPO's selection: candidates ranked by `reward` (the run's reward: the reward model),
 * judged and sampled, then the estimator trained on the groups ordered by `trusted` (the
 * environment's own reward).
 */
export function uncertaintyPairs(
  estimator: PairEstimator,
  groups: readonly (readonly Rollout[])[],
  reward: (r: Rollout) => number,
  trusted: (r: Rollout) => number,
  options: UncertaintySelection,
  rng: Rng,
): UncertaintyStep {
  const scores = groups.map((g) => g.map(reward));
  const trustedScores = groups.map((g) => g.map(trusted));
  const candidates = candidatePairs(scores, rng.split('candidates'));
  const texts = candidates.map((c) => pairText(groups, c));
  let scoredCharacters = 0;
  const { kept, reliability, report } = selectReliable(estimator, texts, options, rng, (n) => {
    scoredCharacters += n;
  });
  const pairs: TokenPair[] = [];
  kept.forEach((k, n) => {
    const c = candidates[k] as CandidatePair;
    const group = groups[c.group] as readonly Rollout[];
    const chosen = rolloutRows(group[c.chosen] as Rollout);
    const rejected = rolloutRows(group[c.rejected] as Rollout);
    if (chosen.length > 0 && rejected.length > 0) pairs.push({ chosen, rejected, reliability: reliability[n] as number });
  });
  // How many kept pairs the environment orders the same way (1 when the reward is the environment's).
  const correct = kept.filter((k) => {
    const c = candidates[k] as CandidatePair;
    const t = trustedScores[c.group] as number[];
    return (t[c.chosen] as number) > (t[c.rejected] as number);
  }).length;
  const examples = labelledPairs(groups, trustedScores);
  const accuracy = examples.length
    ? examples.filter((e) => estimator.probability(e.pair) >= 0.5 === (e.label === 1)).length / examples.length
    : Number.NaN;
  const loss = estimator.train(examples, { epochs: 2, batch: 8, rng: rng.split('estimator') });
  const trainedCharacters = 2 * examples.reduce((n, e) => n + pairCharacters(e.pair), 0);
  return {
    pairs,
    scoredCharacters,
    trainedCharacters,
    metrics: {
      'upo.candidates': report.candidates,
      'upo.agreed': report.agreed,
      'upo.kept': report.kept,
      'upo.meanBald': report.meanBald,
      'upo.keptBald': report.keptBald,
      'upo.scoredCharacters': scoredCharacters,
      'upo.trainedCharacters': trainedCharacters,
      ...(report.kept > 0 ? { 'upo.keptCorrect': correct / report.kept } : {}),
      ...(examples.length ? { 'upo.estimatorAccuracy': accuracy, 'upo.estimatorLoss': loss } : {}),
    },
  };
}
