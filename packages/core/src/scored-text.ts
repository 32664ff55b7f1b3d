import type { Rollout, ScoredText } from './contracts.js';

/**
 * What a learned reward model reads of a rollout unless its plugin says otherwise: the task
 * (the first observation) as context, and every action with the observations between them.
 */
export function rolloutText(rollout: Rollout): ScoredText {
  return {
    context: rollout.turns[0]?.observation ?? '',
    text: rollout.turns.map((t, i) => (i === 0 ? t.action : `${t.observation} ${t.action}`)).join(' '),
  };
}

/**
 * Each turn of a rollout as a step: the context the action was taken in (the earlier observations
 * and actions, then this turn's observation) and the action. A process reward model scores these.
 */
export function stepTexts(rollout: Rollout): ScoredText[] {
  let history = '';
  return rollout.turns.map((turn) => {
    const context = history + turn.observation;
    history = context + turn.action;
    return { context, text: turn.action };
  });
}

/**
 * Where a pairwise judge's first candidate ends and its second begins: a character no
 * environment's alphabet holds, so a character tokenizer reads it as its unknown token, which
 * never occurs in an environment's own text.
 */
export const PAIR_JOIN = '\u2063';

/**
 * Two candidate answers to one task as one text for a pairwise judge (Pairwise-RL, arXiv
 * 2504.04950): the task, the first candidate, then the second; the judge's verdict after it
 * says whether the first is better. Swapping the candidates asks the same question the other way.
 */
export function pairText(first: Rollout, second: Rollout): ScoredText {
  const a = rolloutText(first);
  return { context: `${a.context}${PAIR_JOIN}${a.text}`, text: rolloutText(second).text };
}
