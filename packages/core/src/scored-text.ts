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
