/**
 * The shapers of this package that claim verl's or TRL's behaviour, replayed against fixtures
 * written from that code's formula (packages/rewards/reference/generate.py), and the claim check:
 * a claim without a fixture fails.
 */
import { readFileSync } from 'node:fs';
import { Rng, type Rollout, type ShapeContext } from '@policy-lab/core';
import { describe, expect, it } from 'vitest';
import { plugin } from './index.js';
import type { ShaperReference } from './reference.js';
import { overlong, overlongPenalty } from './shapers/overlong.js';

interface OverlongCase {
  name: string;
  maxResponseLength: number;
  bufferLength: number;
  penaltyFactor: number;
  lengths: number[];
  rewards: number[];
}
const fixture = JSON.parse(readFileSync(new URL('../reference/verl-overlong.json', import.meta.url), 'utf8')) as {
  reference: Omit<ShaperReference, 'fixture' | 'folder' | 'settings'>;
  cases: OverlongCase[];
};

const rolloutOfLength = (length: number): Rollout => ({
  id: 'g/0',
  groupId: 'g',
  taskId: 't',
  turns: [
    {
      observation: '',
      action: 'x',
      promptTokens: [1],
      actionTokens: Array.from({ length }, () => 5),
      logprobs: [],
      reward: {},
      valid: true,
      truncated: false,
    },
  ],
  reward: {},
  success: false,
});

describe("overlong against verl's DAPO reward manager", () => {
  it('names the fixture it is checked against, read at the same file, commit and function', () => {
    const refs = (overlong() as { references?: ShaperReference[] }).references ?? [];
    expect(refs.map((r) => r.fixture)).toEqual(['verl-overlong']);
    expect(refs[0]).toMatchObject(fixture.reference);
  });

  it('gives the reward manager’s overlong reward for every length of every case (to 1e-12)', () => {
    for (const c of fixture.cases) {
      const ctx: ShapeContext = { rng: Rng.seeded(1), step: 0, weights: {}, components: [], maxNewTokens: c.maxResponseLength };
      const shaper = overlong({ cacheFraction: c.bufferLength / c.maxResponseLength, penaltyFactor: c.penaltyFactor });
      const shaped = shaper.shape(c.lengths.map(rolloutOfLength), ctx) as Rollout[];
      c.lengths.forEach((length, i) => {
        const expected = c.rewards[i] as number;
        expect(
          Math.abs(overlongPenalty(length, c.maxResponseLength, c.bufferLength, c.penaltyFactor) - expected),
          c.name,
        ).toBeLessThan(1e-12);
        expect(Math.abs((shaped[i]?.reward.overlong as number) - expected), `${c.name}, length ${length}`).toBeLessThan(1e-12);
      });
    }
  });

  it('hand-worked: limit 20, buffer 4: 16 tokens or fewer cost nothing, 18 cost 0.5, 20 cost 1', () => {
    expect(overlongPenalty(16, 20, 4)).toBe(0);
    expect(overlongPenalty(18, 20, 4)).toBe(-0.5);
    expect(overlongPenalty(20, 20, 4)).toBe(-1);
  });
});

describe('claims of verl or TRL behaviour in this package', () => {
  it('each comes with a reference fixture', () => {
    const claims = /(^|[^-\w])(verl|TRL)(?![-\w])/;
    const entries = [...(plugin.shapers ?? []), ...(plugin.rewardModels ?? [])] as {
      name: string;
      summary: string;
      matches?: string;
      references?: unknown[];
    }[];
    const claiming = entries.filter((e) => claims.test(`${e.matches ?? ''} ${e.summary}`));
    expect(claiming.map((e) => e.name)).toEqual(['overlong']);
    for (const e of claiming) expect(e.references?.length, e.name).toBeGreaterThan(0);
  });
});
