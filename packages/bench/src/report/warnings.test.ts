import { describe, expect, it } from 'vitest';
import type { EnvAggregate } from './aggregate.js';
import { diagnosticWarnings } from './render.js';

const env = (fraction: number | undefined) =>
  ({
    env: 'countdown',
    methods: [
      { method: 'grpo', diagnostics: { zeroAdvantageFraction: 0.3 } },
      { method: 'mc-grpo', diagnostics: fraction === undefined ? {} : { 'estimator.madZeroGroupFraction': fraction } },
    ],
  }) as unknown as EnvAggregate;

describe('diagnostic warnings in the report and on stderr', () => {
  it('warns when MC-GRPO’s MAD is 0 in more than half of the groups, naming the method and the share', () => {
    const [warning, ...rest] = diagnosticWarnings(env(0.9));
    expect(rest).toEqual([]);
    expect(warning).toMatch(/^warning: mc-grpo \(countdown\): the MAD was 0 in 90% of groups .*scale=none/);
  });

  it('says nothing at half or below, or without the diagnostic', () => {
    expect(diagnosticWarnings(env(0.5))).toEqual([]);
    expect(diagnosticWarnings(env(undefined))).toEqual([]);
  });
});
