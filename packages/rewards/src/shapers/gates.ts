/**
 * Gated and staged rewards. `conditional` (GDPO 10.4): an easy reward counts only when a hard
 * one reaches a threshold, so the easy one cannot dominate. `prs` (Progressive Reward Shaping):
 * stages in order, each counted only when every earlier stage is met ('gated'), or stage
 * weights that move from the first stage to the last over training steps ('schedule').
 */
import { defineShaper, type RewardShaper, resolveOptions } from '@policy-lab/core';
import { requireComponent, reshaped } from './common.js';

export interface ConditionalOptions {
  reward?: string;
  on?: string;
  threshold?: number;
}

const CONDITIONAL_OPTIONS = {
  reward: { type: 'string', default: 'format', doc: 'the easy component that is gated' },
  on: { type: 'string', default: 'correct', doc: 'the hard component it depends on' },
  threshold: { type: 'number', default: 1, doc: 'the gate: on >= threshold' },
} as const;

export function conditional(options: ConditionalOptions = {}): RewardShaper {
  const o = resolveOptions<Required<ConditionalOptions>>('conditional', CONDITIONAL_OPTIONS, options as Record<string, unknown>);
  return defineShaper({
    name: 'conditional',
    summary: "GDPO's conditioned reward: an easy component counts only when a hard one reaches a threshold",
    paper: {
      title: 'GDPO: Group reward-Decoupled Normalization Policy Optimization for Multi-reward RL Optimization',
      arxiv: '2601.05242',
      year: 2026,
    },
    options: CONDITIONAL_OPTIONS,
    resolved: o,
    requires: { components: [o.reward, o.on] },
    math: '$r_{easy} \\leftarrow r_{easy}\\cdot\\mathbb 1[r_{hard} \\ge t]$',
    configure: (next) => conditional({ ...o, ...next }),
    shape(rollouts) {
      return rollouts.map((r) => {
        const gate = requireComponent('conditional', r, o.on) >= o.threshold ? 1 : 0;
        return reshaped(r, { ...r.reward, [o.reward]: requireComponent('conditional', r, o.reward) * gate });
      });
    },
  });
}

export interface PrsOptions {
  stages?: string[];
  mode?: 'gated' | 'schedule';
  threshold?: number;
  /** schedule: steps over which the weight moves from the first stage to the last. */
  steps?: number;
}

const PRS_OPTIONS = {
  stages: { type: 'array', default: ['format', 'correct'], doc: 'reward components in curriculum order' },
  mode: {
    type: 'enum',
    values: ['gated', 'schedule'],
    default: 'gated',
    doc: "'gated': a stage counts only when all earlier ones reach the threshold; 'schedule': stage weights shift over steps",
  },
  threshold: { type: 'number', default: 1, doc: 'a stage is met when its component is >= threshold' },
  steps: { type: 'integer', default: 50, doc: "'schedule': steps for the weight to move from the first stage to the last" },
} as const;

/** Linear schedule: at progress u in [0, 1] stage k of n has weight max(0, 1 - |u (n - 1) - k|), then renormalised to sum n. */
export function stageWeights(stages: number, step: number, steps: number): number[] {
  if (stages === 1) return [1];
  const at = Math.min(1, step / Math.max(1, steps)) * (stages - 1);
  const raw = Array.from({ length: stages }, (_, k) => Math.max(0, 1 - Math.abs(at - k)));
  const sum = raw.reduce((a, b) => a + b, 0);
  return raw.map((w) => (w * stages) / sum);
}

export function prs(options: PrsOptions = {}): RewardShaper {
  const o = resolveOptions<Required<PrsOptions>>('prs', PRS_OPTIONS, options as Record<string, unknown>);
  if (o.stages.length === 0 || o.stages.some((s) => typeof s !== 'string'))
    throw new RangeError(`prs: option 'stages' must be a non-empty list of component names, got ${JSON.stringify(o.stages)}`);
  return defineShaper({
    name: 'prs',
    summary: 'Progressive reward shaping: curriculum stages (format, then correctness...), gated or on a weight schedule',
    paper: {
      title: 'Enhancing Agentic RL with Progressive Reward Shaping and Value-based Sampling Policy Optimization',
      arxiv: '2512.07478',
      year: 2025,
    },
    options: PRS_OPTIONS,
    resolved: o,
    requires: { components: o.stages },
    math: 'gated: $r_k \\leftarrow r_k \\prod_{j<k} \\mathbb 1[r_j \\ge t]$; schedule: $r_k \\leftarrow w_k(\\text{step})\\, r_k$',
    unverified: ["The paper's stage schedule is not public (abstract only): both modes are our proposals."],
    configure: (next) => prs({ ...o, ...next }),
    shape(rollouts, ctx) {
      const weights = stageWeights(o.stages.length, ctx.step, o.steps);
      return rollouts.map((r) => {
        const next: Record<string, number> = { ...r.reward };
        let open = true;
        o.stages.forEach((stage, k) => {
          const value = requireComponent('prs', r, stage);
          if (o.mode === 'gated') {
            next[stage] = open ? value : 0;
            open = open && value >= o.threshold;
          } else next[stage] = value * (weights[k] as number);
        });
        return reshaped(r, next);
      });
    },
  });
}
