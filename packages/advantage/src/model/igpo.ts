import { type AdvantageEstimator, defineEstimator, type Rollout, resolveOptions } from '@policy-lab/core';
import { checkGroupSize } from '../groups.js';
import {
  ANSWER_OPTION_SPECS,
  type AnswerSource,
  contextText,
  geometricMeanProbability,
  groupAnswer,
  jointZ,
  requireServices,
  scalarOf,
  scoreAll,
} from './shared.js';

export interface IgpoOptions {
  /** Discount of the turn-level accumulation A_t = r̂_t + gamma A_{t+1}. */
  gamma?: number;
  /** 'prob-diff' (the paper's p_t - p_{t-1}) or 'log-prob-diff' (difference of mean log-probs). */
  infoGain?: 'prob-diff' | 'log-prob-diff';
  /** 'joint': one z-score over IG and outcome rewards of the group; 'separate': one per kind. */
  normalization?: 'joint' | 'separate';
  /** Added to the std (code: 1e-6). */
  eps?: number;
  answerSource?: AnswerSource;
  /** Key of rollout.meta holding the ground-truth answer text. */
  answerKey?: string;
  /** Text put between the context and the answer before scoring (the paper's 'enough information to answer' prompt). */
  answerPrefix?: string;
}

const OPTIONS = {
  gamma: { type: 'number', default: 1, doc: 'discount of the turn-level sum A_t = r̂_t + gamma * A_{t+1} (code default 1.0)' },
  infoGain: {
    type: 'enum',
    values: ['prob-diff', 'log-prob-diff'],
    default: 'prob-diff',
    doc: "information gain: 'prob-diff' p_t - p_{t-1} (paper), 'log-prob-diff' difference of the mean log-probs (Feb 2026 code option)",
  },
  normalization: {
    type: 'enum',
    values: ['joint', 'separate'],
    default: 'joint',
    doc: "'joint': one z-score over every IG and outcome reward of the group (code default); 'separate': IG and outcome sets apart",
  },
  eps: { type: 'number', default: 1e-6, doc: 'added to the population std, sqrt(var + 1e-8), before dividing' },
  ...ANSWER_OPTION_SPECS,
  answerPrefix: {
    type: 'string',
    default: '\n',
    doc: "text between the context and the scored answer (IGPO's code: a 'now there is enough information to answer' prompt; keep it inside the tokenizer's alphabet)",
  },
} as const;

const PAPER = {
  title: 'Information Gain-based Policy Optimization: A Simple and Effective Approach for Multi-Turn LLM Agents',
  arxiv: '2510.14967',
  year: 2025,
};

/**
 * IGPO. Before each turn t the ground-truth answer is teacher-forced after the
 * context; p_t = exp(mean log-prob of the answer tokens). Turn t < T-1 earns the information gain
 * p_{t+1} - p_t (what the turn's action and the environment's answer taught the policy); the last
 * turn earns the outcome reward. Rewards are z-scored jointly over the group (zero IG values are
 * left out and their turn merges into the next), then summed backwards with discount gamma.
 */
export function igpo(options: IgpoOptions = {}): AdvantageEstimator {
  const resolved = resolveOptions<Required<IgpoOptions>>('igpo', OPTIONS, options as Record<string, unknown>);
  if (resolved.eps < 0) throw new RangeError(`igpo: option 'eps' must be >= 0, got ${resolved.eps}`);
  if (!(resolved.gamma >= 0 && resolved.gamma <= 1))
    throw new RangeError(`igpo: option 'gamma' must be in [0, 1], got ${resolved.gamma}`);
  return defineEstimator({
    name: 'igpo',
    summary:
      'IGPO: information-gain turn rewards from the ground-truth answer probability, joint group z-score, discounted turn sums',
    paper: PAPER,
    options: OPTIONS,
    resolved,
    needsModel: true,
    unverified: [
      'follows the maintained code (debajoycs98/IGPO, joint turn-level z-score); the paper body was not read, and the older repo used a positional per-token baseline',
      "the ground truth is not part of the Rollout contract: answerSource 'auto' reads rollout.meta.answer, else probes with the last action of the group's best successful rollout (an adaptation for verifier environments); a group with neither gets no IG rewards (outcome only)",
      'the context is the turns joined by newlines, not the chat template of the code; answerPrefix replaces its answer prompt',
      'the F1/IG weight curriculum (0.5 -> 1.0, 1.0 -> 0.5) is not implemented (weights 1)',
    ],
    math: `$p_t = \\exp(\\tfrac{1}{|y|}\\sum_j \\log\\pi_\\theta(y_j \\mid c_t, y_{<j}))$; $r_t = ${resolved.infoGain === 'prob-diff' ? 'p_{t+1} - p_t' : '\\log p_{t+1} - \\log p_t'}$ ($t < T-1$), $r_{T-1} = R$; $\\hat r = (r - \\mu)/(\\sigma + ${resolved.eps})$ over the group (${resolved.normalization}); $A_t = \\hat r_t + ${resolved.gamma} A_{t+1}$`,
    configure: (next) => igpo({ ...resolved, ...next }),
    async compute(groups, ctx) {
      const services = requireServices('igpo', ctx);
      const rollout: number[][] = [];
      const turns: number[][][] = [];
      let probed = 0;
      let igPositions = 0;
      for (const [g, group] of groups.entries()) {
        checkGroupSize('igpo', group, g);
        const rewards = group.map((r, i) => scalarOf('igpo', r, ctx, g, i));
        const answer = groupAnswer('igpo', group, rewards, g, resolved.answerSource, resolved.answerKey);
        // raw[i][t]: the reward on turn t (undefined = no reward position: a zero IG)
        const raw = await turnRewards(group, rewards, answer, g);
        if (answer !== undefined) probed += 1;
        const igValues: number[] = [];
        const outcomeValues: number[] = [];
        raw.forEach((row) =>
          row.forEach((v, t) => {
            if (v === undefined) return;
            (t === row.length - 1 ? outcomeValues : igValues).push(v);
          }),
        );
        igPositions += igValues.length;
        const joint = jointZ([...igValues, ...outcomeValues], resolved.eps);
        const igStats = resolved.normalization === 'joint' ? joint : jointZ(igValues, resolved.eps);
        const outcomeStats = resolved.normalization === 'joint' ? joint : jointZ(outcomeValues, resolved.eps);
        const perTurn = raw.map((row) => {
          const out = new Array<number>(row.length).fill(0);
          let next = 0;
          for (let t = row.length - 1; t >= 0; t--) {
            const v = row[t];
            if (v === undefined) {
              out[t] = next; // merged into the next turn
              continue;
            }
            const stats = t === row.length - 1 ? outcomeStats : igStats;
            out[t] = (v - stats.mean) / stats.scale + resolved.gamma * next;
            next = out[t] as number;
          }
          return out;
        });
        // a rollout without turns keeps its outcome position internally but has no turn to report
        turns.push(perTurn.map((row, i) => row.slice(0, (group[i] as Rollout).turns.length)));
        rollout.push(perTurn.map((row) => row[0] ?? 0));
      }
      return {
        rollout,
        turns,
        weights: groups.map((group) => group.map(() => 1)),
        diagnostics: { probedGroupFraction: probed / Math.max(1, groups.length), igPositions },
      };

      async function turnRewards(
        group: readonly Rollout[],
        rewards: readonly number[],
        answer: string | undefined,
        g: number,
      ): Promise<(number | undefined)[][]> {
        // A rollout without turns still has its outcome position.
        const lengths = group.map((r) => Math.max(1, r.turns.length));
        if (answer === undefined) return group.map((_, i) => outcomeOnly(lengths[i] as number, rewards[i] as number));
        // p_t for every turn of a rollout with at least two turns (one turn: no IG position).
        const probes = (r: Rollout) => (r.turns.length >= 2 ? r.turns.length : 0);
        const requests = group.flatMap((r) =>
          Array.from({ length: probes(r) }, (_, t) => ({
            context: contextText(r, t) + resolved.answerPrefix,
            continuation: answer,
          })),
        );
        const scores = await scoreAll('igpo', services, requests, 'current');
        let offset = 0;
        return group.map((r, i) => {
          const probabilities = Array.from({ length: probes(r) }, (_, t) =>
            geometricMeanProbability(scores[offset + t] as number[], `igpo: group ${g}, rollout ${i} (${r.id}), turn ${t}`),
          );
          offset += probes(r);
          const row = outcomeOnly(lengths[i] as number, rewards[i] as number);
          for (let t = 0; t + 1 < probabilities.length; t++) {
            const before = probabilities[t] as number;
            const after = probabilities[t + 1] as number;
            const gain = resolved.infoGain === 'prob-diff' ? after - before : Math.log(after) - Math.log(before);
            row[t] = gain === 0 || !Number.isFinite(gain) ? undefined : gain;
          }
          return row;
        });
      }
    },
  });
}

function outcomeOnly(length: number, outcome: number): (number | undefined)[] {
  const row = new Array<number | undefined>(length).fill(undefined);
  row[length - 1] = outcome;
  return row;
}
