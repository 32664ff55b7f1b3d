/**
 * URPO's referee pass (arXiv 2507.17515): for an open-ended task the policy samples G answers,
 * then, as referee, ranks its own group in the same generative format as the ranking tasks; the
 * self-scores are the group's rewards for GRPO's advantage. Verifiable and ranking groups keep
 * the environment's reward. An estimator, not a reward model: the referee is the policy itself
 * (the reward-model kind is a second model the trainer owns), reached through the trainer's
 * `generate` service, which charges every referee sample as an episode and its tokens.
 */
import { zScores } from '@policy-lab/advantage';
import { type AdvantageEstimator, defineEstimator, type Rng, type Rollout, RunError, resolveOptions } from '@policy-lab/core';
import { bordaPoints, parseRanking, rankMarker, rankPrompt, shownCandidate } from './ranking.js';
import { OPEN_PREFIX, OPEN_TRUTH_COMPONENT, URPO_PAPER } from './urpo.js';

export interface SelfRefereeOptions {
  /** Referee samples per open-ended group (K), each ranking a random subset of its distinct answers. */
  samples?: number;
  /** Largest subset a referee sample ranks. */
  rankSize?: number;
  std?: 'sample' | 'population';
  eps?: number;
  marker?: string;
}

const OPTIONS = {
  samples: {
    type: 'integer',
    default: 4,
    doc: 'referee samples K per open-ended group; each answer’s self-score is its mean Borda points',
  },
  rankSize: {
    type: 'integer',
    default: 2,
    doc: 'largest number of distinct answers one referee sample ranks (2: pairwise, the ranking tasks’ default)',
  },
  std: {
    type: 'enum',
    values: ['sample', 'population'],
    default: 'sample',
    doc: 'standard deviation of the group normalisation (GRPO)',
  },
  eps: { type: 'number', default: 1e-4, doc: 'added to the std before dividing (GRPO)' },
  marker: {
    type: 'string',
    doc: 'between statement and candidates (default: the first of " rank", " ask", " ?", " :" in the vocabulary)',
  },
} as const;

/** One open-ended group's referee prompts: which distinct answers each shows, in order. */
interface RefereeRequest {
  group: number;
  shown: number[];
  prompt: string;
}

/**
 * Self-scores of distinct answers from referee samples: each answer's mean Borda points over the
 * valid samples that showed it; an answer no valid sample showed gets the mean of the others (so it
 * neither gains nor loses), and with no valid sample every answer scores 0.5.
 */
export function selfScores(count: number, samples: readonly { shown: readonly number[]; order?: readonly number[] }[]): number[] {
  const sum = new Array<number>(count).fill(0);
  const seen = new Array<number>(count).fill(0);
  for (const { shown, order } of samples) {
    if (!order) continue;
    bordaPoints(order).forEach((points, position) => {
      const answer = shown[position] as number;
      sum[answer] = (sum[answer] as number) + points;
      seen[answer] = (seen[answer] as number) + 1;
    });
  }
  const scored = sum.flatMap((s, i) => ((seen[i] as number) > 0 ? [s / (seen[i] as number)] : []));
  const fallback = scored.length ? scored.reduce((a, b) => a + b, 0) / scored.length : 0.5;
  return sum.map((s, i) => ((seen[i] as number) > 0 ? s / (seen[i] as number) : fallback));
}

const answerOf = (rollout: Rollout) => shownCandidate(rollout.turns.map((t) => t.action).join(' '));

function variance(values: readonly number[]): number {
  const m = values.reduce((a, b) => a + b, 0) / values.length;
  return values.reduce((a, v) => a + (v - m) ** 2, 0) / values.length;
}

/** Pairs of rollouts the hidden truth separates; the share the self-scores order the same way (ties count half). */
function truthAgreement(scores: readonly number[], truth: readonly number[]): { pairs: number; agreed: number } {
  let pairs = 0;
  let agreed = 0;
  for (let i = 0; i < scores.length; i++)
    for (let j = i + 1; j < scores.length; j++) {
      const t = Math.sign((truth[i] as number) - (truth[j] as number));
      if (t === 0) continue;
      pairs++;
      const s = Math.sign((scores[i] as number) - (scores[j] as number));
      agreed += s === t ? 1 : s === 0 ? 0.5 : 0;
    }
  return { pairs, agreed };
}

function refereeRequests(
  group: number,
  statement: string,
  distinct: readonly string[],
  o: { samples: number; rankSize: number; marker: string },
  rng: Rng,
): RefereeRequest[] {
  if (distinct.length < 2) return [];
  const n = Math.min(o.rankSize, distinct.length);
  return Array.from({ length: o.samples }, () => {
    const shown = rng.shuffle(distinct.map((_, i) => i)).slice(0, n);
    return {
      group,
      shown,
      prompt: rankPrompt(
        statement,
        shown.map((i) => distinct[i] as string),
        o.marker,
      ),
    };
  });
}

export function selfReferee(options: SelfRefereeOptions = {}): AdvantageEstimator {
  const resolved = resolveOptions<Required<Omit<SelfRefereeOptions, 'marker'>> & { marker?: string }>(
    'urpo-self-referee',
    OPTIONS,
    options as Record<string, unknown>,
  );
  if (!(resolved.samples >= 1)) throw new RangeError(`urpo-self-referee: option 'samples' must be >= 1, got ${resolved.samples}`);
  if (!(resolved.rankSize >= 2 && resolved.rankSize <= 9))
    throw new RangeError(`urpo-self-referee: option 'rankSize' must be 2..9, got ${resolved.rankSize}`);
  return defineEstimator({
    name: 'urpo-self-referee',
    summary:
      'URPO: GRPO advantages where open-ended groups are rewarded by the policy’s own ranking of them (K referee samples, mean Borda points); other groups by the environment',
    paper: URPO_PAPER,
    unverified: [
      'K (4), the subset size (2: pairwise, as the ranking tasks) and the score scale (mean Borda points in [0, 1]) are ours; the paper does not give them in what we could read.',
      'The referee ranks its own group in the ranking tasks’ format (the paper’s figure speaks of self-assessed ranking rewards); distinct answers are ranked once each, identical answers share a score.',
    ],
    options: OPTIONS,
    resolved,
    needsModel: true,
    math: 'open-ended group: $r_i = \\frac{1}{|S_i|}\\sum_{k \\in S_i} \\frac{N_k - 1 - \\mathrm{pos}_k(o_i)}{N_k - 1}$ over the $K$ referee samples $k$ that ranked $o_i$; others: the environment’s reward; $A_i = (r_i - \\bar r)/(\\mathrm{std}(r) + \\epsilon)$',
    configure: (next) => selfReferee({ ...resolved, ...next }),
    async compute(groups, ctx) {
      const services = ctx.services;
      const open = groups.map((g) => (g[0]?.taskId ?? '').startsWith(OPEN_PREFIX));
      const rewards = groups.map((g, i) => (open[i] ? [] : g.map((r) => ctx.scalar(r.reward))));
      const distinct = groups.map((g) => [...new Set(g.map(answerOf))]);
      let requests: RefereeRequest[] = [];
      if (open.some(Boolean)) {
        if (!services?.generate) throw new RunError('urpo-self-referee needs the trainer’s generate service (the referee pass)');
        const alphabet = services.vocabulary?.filter((t) => t.length === 1).join('');
        const marker = rankMarker(alphabet, resolved.marker);
        requests = groups.flatMap((g, i) =>
          open[i]
            ? refereeRequests(
                i,
                g[0]?.turns[0]?.observation ?? '',
                distinct[i] as string[],
                { ...resolved, marker },
                ctx.rng.split(`referee/${i}`),
              )
            : [],
        );
        const outputs = requests.length
          ? await services.generate(
              requests.map((r) => r.prompt),
              { maxTokens: resolved.rankSize + 1 },
            )
          : [];
        const orders = requests.map((r, k) => parseRanking(outputs[k] ?? '', r.shown.length));
        groups.forEach((g, i) => {
          if (!open[i]) return;
          const mine = requests.flatMap((r, k) =>
            r.group === i ? [{ shown: r.shown, ...(orders[k] ? { order: orders[k] } : {}) }] : [],
          );
          const scores = selfScores((distinct[i] as string[]).length, mine);
          rewards[i] = g.map((r) => scores[(distinct[i] as string[]).indexOf(answerOf(r))] as number);
        });
        const invalid = orders.filter((o) => !o).length;
        return withDiagnostics(groups, rewards, open, resolved, { samples: requests.length, invalid });
      }
      return withDiagnostics(groups, rewards, open, resolved, { samples: 0, invalid: 0 });
    },
  });
}

function withDiagnostics(
  groups: readonly (readonly Rollout[])[],
  rewards: readonly number[][],
  open: readonly boolean[],
  o: { std: 'sample' | 'population'; eps: number },
  referee: { samples: number; invalid: number },
) {
  const openRewards = rewards.filter((_, i) => open[i]);
  const agreement = groups.reduce(
    (a, g, i) => {
      if (!open[i]) return a;
      const t = truthAgreement(
        rewards[i] as number[],
        g.map((r) => r.reward[OPEN_TRUTH_COMPONENT] ?? 0),
      );
      return { pairs: a.pairs + t.pairs, agreed: a.agreed + t.agreed };
    },
    { pairs: 0, agreed: 0 },
  );
  return {
    rollout: rewards.map((r) => zScores(r, o.std, o.eps)),
    weights: groups.map((g) => g.map(() => 1)),
    diagnostics: {
      openGroups: openRewards.length,
      selfRewardVariance: openRewards.length ? openRewards.reduce((a, r) => a + variance(r), 0) / openRewards.length : 0,
      selfRewardMean: openRewards.length ? openRewards.flat().reduce((a, b) => a + b, 0) / openRewards.flat().length : 0,
      refereeSamples: referee.samples,
      refereeInvalid: referee.samples ? referee.invalid / referee.samples : 0,
      ...(agreement.pairs ? { selfRewardTruthAgreement: agreement.agreed / agreement.pairs } : {}),
    },
  };
}
