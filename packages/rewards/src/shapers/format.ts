/** A format reward: 1 when the actions match a pattern (all of them, or the last), else 0. */
import { defineShaper, type RewardShaper, resolveOptions } from '@policy-lab/core';
import { reshaped } from './common.js';

export interface FormatOptions {
  pattern?: string;
  turns?: 'all' | 'last';
  component?: string;
  weight?: number;
}

const OPTIONS = {
  pattern: {
    type: 'string',
    default: '^<answer>[\\s\\S]*</answer>$',
    doc: 'a regular expression (JavaScript) an action must match',
  },
  turns: { type: 'enum', values: ['all', 'last'], default: 'last', doc: 'check every action, or only the last' },
  component: { type: 'string', default: 'formatted', doc: 'name of the added component' },
  weight: { type: 'number', default: 0.1, doc: 'its default weight' },
} as const;

export function format(options: FormatOptions = {}): RewardShaper {
  const o = resolveOptions<Required<FormatOptions>>('format', OPTIONS, options as Record<string, unknown>);
  let pattern: RegExp;
  try {
    pattern = new RegExp(o.pattern);
  } catch (error) {
    throw new RangeError(`format: option 'pattern' is not a valid regular expression: ${(error as Error).message}`);
  }
  return defineShaper({
    name: 'format',
    summary: 'Format reward: 1 when the actions match a regular expression (R1-style <answer> tags by default)',
    options: OPTIONS,
    resolved: o,
    adds: [{ name: o.component, weight: o.weight }],
    math: '$r_{format} = \\mathbb 1[\\text{actions match the pattern}]$',
    configure: (next) => format({ ...o, ...next }),
    shape(rollouts) {
      return rollouts.map((r) => {
        const checked = o.turns === 'all' ? r.turns : r.turns.slice(-1);
        const ok = checked.length > 0 && checked.every((t) => pattern.test(t.action));
        return reshaped(r, { ...r.reward, [o.component]: ok ? 1 : 0 });
      });
    },
  });
}
