import { type AdvantageEstimator, defineEstimator, resolveOptions } from '@policy-lab/core';
import { zScores } from '../group-math.js';
import { checkGroupSize, ones } from '../groups.js';
import {
  ANSWER_OPTION_SPECS,
  type AnswerSource,
  contextText,
  geometricMeanProbability,
  groupAnswer,
  requireServices,
  scalarOf,
  scoreAll,
} from './shared.js';

export interface GrpoVpsOptions {
  /** Weight of the segment progress. */
  eta?: number;
  /** 'additive': A + eta Δ; 'gated': the progress term only where its sign agrees with A. */
  combine?: 'additive' | 'gated';
  std?: 'sample' | 'population';
  eps?: number;
  answerSource?: AnswerSource;
  answerKey?: string;
  answerPrefix?: string;
}

const OPTIONS = {
  eta: { type: 'number', default: 1, doc: 'weight of the segment progress Δ_k (proposal)' },
  combine: {
    type: 'enum',
    values: ['additive', 'gated'],
    default: 'additive',
    doc: "'additive': A_i + eta Δ_k; 'gated': add eta Δ_k only where sign(Δ_k) = sign(A_i) (both are our candidate readings of the abstract)",
  },
  std: { type: 'enum', values: ['sample', 'population'], default: 'sample', doc: "std of GRPO's z-score" },
  eps: { type: 'number', default: 1e-4, doc: "added to the std of GRPO's z-score (TRL)" },
  ...ANSWER_OPTION_SPECS,
  answerPrefix: { type: 'string', default: '\n', doc: 'text between the prefix and the scored answer' },
} as const;

/**
 * GRPO-VPS (a proposal: only the abstract was read). A segment is one turn (the
 * contract's advantage granularity). b_k = P(answer | prefix through segment k), the geometric
 * mean of the answer's token probabilities; segment k earns the progress Δ_k = b_{k+1} - b_k,
 * which refines GRPO's trajectory advantage of its rollout.
 */
export function grpoVps(options: GrpoVpsOptions = {}): AdvantageEstimator {
  const resolved = resolveOptions<Required<GrpoVpsOptions>>('grpo-vps', OPTIONS, options as Record<string, unknown>);
  if (resolved.eps < 0) throw new RangeError(`grpo-vps: option 'eps' must be >= 0, got ${resolved.eps}`);
  if (!Number.isFinite(resolved.eta) || resolved.eta < 0)
    throw new RangeError(`grpo-vps: option 'eta' must be a finite number >= 0, got ${resolved.eta}`);
  return defineEstimator({
    name: 'grpo-vps',
    summary: "GRPO-VPS: GRPO's advantage refined per segment by the progress in the answer's probability (belief probing)",
    paper: {
      title: 'GRPO-VPS: Enhancing Group Relative Policy Optimization with Verifiable Process Supervision for Effective Reasoning',
      arxiv: '2604.20659',
      year: 2026,
    },
    options: OPTIONS,
    resolved,
    needsModel: true,
    unverified: [
      'only the abstract was read: the combination rule (additive or sign-gated), eta and the segmentation are our proposals',
      'segments are turns: the Advantages contract carries one value per turn, so a single-turn answer is one segment (b_1 - b_0) rather than newline-separated steps',
      "b_k uses IGPO's geometric-mean probability (inferred); the answer comes from rollout.meta or the group's best successful rollout (answerSource); a group with neither gets GRPO's advantage",
      "the paper's full title was not read; `paper.title` names it by method and authors",
    ],
    math: `$b_k = \\exp(\\operatorname{mean}_j \\log\\pi_\\theta(y_j \\mid \\text{prefix}_{\\le k}, y_{<j}))$, $\\Delta_k = b_{k+1} - b_k$; $A_{i,k} = A_i + ${resolved.eta}\\,\\Delta_k${resolved.combine === 'gated' ? '\\,[\\operatorname{sign}\\Delta_k = \\operatorname{sign} A_i]' : ''}$ with $A_i$ GRPO's z-score`,
    configure: (next) => grpoVps({ ...resolved, ...next }),
    async compute(groups, ctx) {
      const services = requireServices('grpo-vps', ctx);
      const rollout: number[][] = [];
      const turns: number[][][] = [];
      let progressSum = 0;
      let progressCount = 0;
      for (const [g, group] of groups.entries()) {
        checkGroupSize('grpo-vps', group, g);
        const rewards = group.map((r, i) => scalarOf('grpo-vps', r, ctx, g, i));
        const advantages = zScores(rewards, resolved.std, resolved.eps);
        rollout.push(advantages);
        const answer = groupAnswer('grpo-vps', group, rewards, g, resolved.answerSource, resolved.answerKey);
        if (answer === undefined) {
          turns.push(group.map((r, i) => r.turns.map(() => advantages[i] as number)));
          continue;
        }
        // b_0 before the first action, then b_{k+1} after action k: turns + 1 probes per rollout
        const requests = group.flatMap((r) =>
          r.turns.length === 0
            ? []
            : [
                { context: contextText(r, 0) + resolved.answerPrefix, continuation: answer },
                ...r.turns.map((_, k) => ({ context: contextText(r, k, true) + resolved.answerPrefix, continuation: answer })),
              ],
        );
        const scores = await scoreAll('grpo-vps', services, requests, 'current');
        let offset = 0;
        turns.push(
          group.map((r, i) => {
            if (r.turns.length === 0) return [];
            const b = Array.from({ length: r.turns.length + 1 }, (_, k) =>
              geometricMeanProbability(
                scores[offset + k] as number[],
                `grpo-vps: group ${g}, rollout ${i} (${r.id}), boundary ${k}`,
              ),
            );
            offset += r.turns.length + 1;
            const a = advantages[i] as number;
            return r.turns.map((_, k) => {
              const progress = (b[k + 1] as number) - (b[k] as number);
              progressSum += progress;
              progressCount += 1;
              const agrees = Math.sign(progress) === Math.sign(a);
              return resolved.combine === 'additive' || agrees ? a + resolved.eta * progress : a;
            });
          }),
        );
      }
      return {
        rollout,
        turns,
        weights: ones(groups),
        diagnostics: { segmentProgressMean: progressCount ? progressSum / progressCount : 0 },
      };
    },
  });
}
