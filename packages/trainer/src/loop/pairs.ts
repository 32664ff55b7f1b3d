/**
 * Where preference pairs come from: a dataset's records (offline), each group's best and worst
 * rollout, or the expert's demonstration against each rollout (online); each completion is the
 * training rows of its turns.
 */
import { type Rollout, type TrainConfig, UsageError } from '@policy-lab/core';
import type { PolicyTokenizer } from '../tokenizer/policy-tokenizer.js';
import type { TrainingRow } from './batch.js';
import type { PreferencePair, UnpairedExample } from './data.js';
import { firstPrompt } from './rollouts.js';

/** One completion as training rows (one per turn); its log-probability is the sum over them. */
export type Completion = readonly TrainingRow[];

export interface TokenPair {
  chosen: Completion;
  rejected: Completion;
  /** How reliable the pair's label is, in [0, 1] (UPO); absent = trusted. */
  reliability?: number;
}

/** Checks that every character of the dataset is one the tokenizer knows, naming the first that is not. */
export function checkAlphabet(
  records: readonly (PreferencePair | UnpairedExample)[],
  tokenizer: PolicyTokenizer,
  file: string,
  env: string,
): void {
  records.forEach((record, i) => {
    const fields = record as unknown as Record<string, unknown>;
    for (const key of ['prompt', 'chosen', 'rejected', 'completion'] as const) {
      if (typeof fields[key] !== 'string') continue;
      for (const ch of fields[key] as string) {
        if (!tokenizer.has(ch))
          throw new UsageError(
            `${file}: record ${i + 1}, field '${key}': character ${JSON.stringify(ch)} is not in environment '${env}''s alphabet`,
          );
      }
    }
  });
}

/** A dataset pair as rows: the prompt as the environment's first observation would be, the completion + eos. */
export function pairRows(pair: PreferencePair, tokenizer: PolicyTokenizer, config: TrainConfig): TokenPair {
  // A soft prompt's vectors take positions of the policy's context too.
  const limit = config.model.contextLength - (config.softPrompt ?? 0) - config.maxNewTokens;
  const prompt = firstPrompt(pair.prompt, limit, tokenizer);
  const row = (text: string): TrainingRow => {
    const action = [...tokenizer.encode(text), tokenizer.specials.eos].slice(0, config.maxNewTokens);
    return { tokens: [...prompt, ...action], actionStart: prompt.length, oldLogprobs: [], advantage: 0, weight: 1 };
  };
  return {
    chosen: [row(pair.chosen)],
    rejected: [row(pair.rejected)],
    ...(pair.reliability !== undefined ? { reliability: pair.reliability } : {}),
  };
}

/** A rollout's turns as rows (turns without action tokens are skipped). */
export function rolloutRows(rollout: Rollout): TrainingRow[] {
  return rollout.turns
    .filter((t) => t.actionTokens.length > 0)
    .map((t) => ({
      tokens: [...t.promptTokens, ...t.actionTokens],
      actionStart: t.promptTokens.length,
      oldLogprobs: [...t.logprobs],
      advantage: 0,
      weight: 1,
    }));
}

/**
 * Online pairs: in each group the rollout with the highest scalar reward (the first on ties)
 * against the one with the lowest (the last on ties); groups whose rewards are all equal give
 * no pair.
 */
export function pairsFromGroups(groups: readonly (readonly Rollout[])[], scalar: (r: Rollout) => number): TokenPair[] {
  const pairs: TokenPair[] = [];
  for (const group of groups) {
    if (group.length < 2) continue;
    const scores = group.map(scalar);
    let best = 0;
    let worst = 0;
    scores.forEach((s, i) => {
      if (s > (scores[best] as number)) best = i;
      if (s <= (scores[worst] as number)) worst = i;
    });
    if (scores[best] === scores[worst]) continue;
    const chosen = rolloutRows(group[best] as Rollout);
    const rejected = rolloutRows(group[worst] as Rollout);
    if (chosen.length > 0 && rejected.length > 0) pairs.push({ chosen, rejected });
  }
  return pairs;
}

/**
 * Online pairs against the expert: for each group, the environment's demonstration of its
 * task (chosen) against every rollout of the group (rejected). Groups without a
 * demonstration give none.
 */
export function pairsFromDemonstrations(
  groups: readonly (readonly Rollout[])[],
  demonstration: (groupId: string) => Completion,
): TokenPair[] {
  const pairs: TokenPair[] = [];
  for (const group of groups) {
    const first = group[0];
    if (!first) continue;
    const chosen = demonstration(first.groupId);
    if (chosen.length === 0) continue;
    for (const rollout of group) {
      const rejected = rolloutRows(rollout);
      if (rejected.length > 0) pairs.push({ chosen, rejected });
    }
  }
  return pairs;
}
