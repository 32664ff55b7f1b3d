/**
 * Replays the reference fixtures (packages/advantage/reference/*.json, written by generate.py
 * from verl's and TRL's formulas) against the estimators, to 1e-6; checks that every estimator
 * that claims verl or TRL behaviour declares a fixture; and works one small case of each by hand,
 * so that a misreading of the reference shows as a disagreement between the two.
 */
import { readdirSync, readFileSync } from 'node:fs';
import {
  type AdvantageEstimator,
  type Advantages,
  type EstimatorContext,
  type RewardVector,
  Rng,
  type Rollout,
  type Turn,
  weightedSum,
} from '@policy-lab/core';
import { describe, expect, it } from 'vitest';
import { optimalTokenBaselineTokens } from './catalog/optimal-token-baseline.js';
import { plugin } from './index.js';
import { scriptedServices } from './model/test-support.js';
import { type ReferenceImplementation, referencesOf } from './reference.js';

interface FixtureRollout {
  reward: number | Record<string, number>;
  tokens: number[];
  obs?: number[];
  turnRewards?: number[];
  values?: number[];
  logprobs?: number[][];
  sumPiSquared?: number[][];
}

interface FixtureCase {
  name: string;
  estimator: string;
  options: Record<string, unknown>;
  groups: FixtureRollout[][];
  /** ReMax: the reward of the greedy decode of each group. */
  greedy?: number[];
  expected: {
    rollout?: (number | null)[][];
    turns?: (number | null)[][][];
    returns?: (number | null)[][][];
    tokens?: number[][][];
  };
}

interface Fixture {
  generator: string;
  reference: Omit<ReferenceImplementation, 'fixture' | 'settings'> & { helpers?: unknown[]; note?: string };
  cases: FixtureCase[];
}

const folder = new URL('../reference/', import.meta.url);
const fixtures = new Map<string, Fixture>(
  readdirSync(folder)
    .filter((f) => f.endsWith('.json'))
    .map((f) => [f.replace(/\.json$/, ''), JSON.parse(readFileSync(new URL(f, folder), 'utf8')) as Fixture]),
);
const TOLERANCE = 1e-6;

/** A fixture rollout as the trainer records it: each turn's prompt extends the previous context by the observation tokens. */
function rolloutOf(spec: FixtureRollout, g: number, i: number): Rollout {
  let prompt: number[] = [1, 2];
  const turns: Turn[] = spec.tokens.map((count, k) => {
    if (k > 0) {
      const previous = prompt;
      const action = Array.from({ length: spec.tokens[k - 1] as number }, () => 5);
      prompt = [...previous, ...action, ...Array.from({ length: spec.obs?.[k] ?? 0 }, () => 9)];
    }
    return {
      observation: `turn ${k}`,
      action: 'a'.repeat(count),
      promptTokens: prompt,
      actionTokens: Array.from({ length: count }, () => 5),
      logprobs: spec.logprobs?.[k] ?? Array.from({ length: count }, () => -0.5),
      reward: { reward: spec.turnRewards?.[k] ?? 0 },
      valid: true,
      truncated: false,
    };
  });
  const reward: RewardVector = typeof spec.reward === 'number' ? { reward: spec.reward } : spec.reward;
  return {
    id: `g${g}/${i}`,
    groupId: `g${g}`,
    taskId: `t${g}`,
    turns,
    reward,
    success: false,
    ...(spec.sumPiSquared ? { meta: { sumPiSquared: spec.sumPiSquared } } : {}),
  };
}

function contextOf(
  groups: readonly Rollout[][],
  specs: readonly FixtureRollout[][],
  greedy?: readonly number[],
): EstimatorContext {
  const first = specs[0]?.[0]?.reward;
  const weights = typeof first === 'object' ? Object.fromEntries(Object.keys(first).map((k) => [k, 1])) : { reward: 1 };
  const values = new Map<string, number[]>();
  groups.forEach((group, g) =>
    group.forEach((r, i) => {
      const v = specs[g]?.[i]?.values;
      if (v) values.set(r.id, v);
    }),
  );
  // ReMax asks for one greedy rollout per group: a scripted service answers with the group's greedy reward.
  const services = greedy
    ? scriptedServices({
        rollouts: (request) => [greedyRollout(request.groupId, greedy[Number(request.groupId.slice(1))] as number)],
      })
    : undefined;
  return {
    rng: Rng.seeded(0),
    weights,
    scalar: (r) => weightedSum(r, weights),
    ...(values.size ? { values } : {}),
    ...(services ? { services } : {}),
  };
}

function greedyRollout(groupId: string, reward: number): Rollout {
  return { id: `${groupId}/greedy`, groupId, taskId: groupId, turns: [], reward: { reward }, success: false };
}

function estimatorFor(name: string, options: Record<string, unknown>): AdvantageEstimator {
  const base = plugin.estimators?.find((e) => e.name === name);
  if (!base) throw new Error(`no estimator '${name}' in the package`);
  return Object.keys(options).length ? (base.configure?.(options) ?? base) : base;
}

function expectClose(actual: number | undefined, expected: number | null, where: string): void {
  if (expected === null) return; // an empty completion: the reference trains no token of it
  expect(actual, where).toBeDefined();
  expect(Math.abs((actual as number) - expected), `${where}: got ${actual}, reference ${expected}`).toBeLessThanOrEqual(
    TOLERANCE,
  );
}

describe('reference fixtures (verl and TRL formulas, float64)', () => {
  it('holds the fixture files the generator writes', () => {
    expect(fixtures.size).toBeGreaterThanOrEqual(14);
    for (const [name, fixture] of fixtures) {
      expect(fixture.generator, name).toBe('packages/advantage/reference/generate.py');
      expect(fixture.cases.length, name).toBeGreaterThan(0);
    }
  });

  const all = [...fixtures].flatMap(([file, fixture]) =>
    fixture.cases.map((c) => [`${file}: ${c.estimator} ${JSON.stringify(c.options)}, ${c.name}`, c] as const),
  );
  it.each(all)('%s', async (_, c) => {
    const groups = c.groups.map((group, g) => group.map((spec, i) => rolloutOf(spec, g, i)));
    const ctx = contextOf(groups, c.groups, c.greedy);
    const estimator = estimatorFor(c.estimator, c.options);
    const result = (await estimator.compute(groups, ctx)) as Advantages;
    expect(result.weights.flat().every((w) => w === 1)).toBe(true);
    c.expected.rollout?.forEach((group, g) =>
      group.forEach((value, i) => expectClose(result.rollout[g]?.[i], value, `group ${g}, rollout ${i}`)),
    );
    c.expected.turns?.forEach((group, g) =>
      group.forEach((row, i) =>
        row.forEach((value, t) => expectClose(result.turns?.[g]?.[i]?.[t], value, `group ${g}, rollout ${i}, turn ${t}`)),
      ),
    );
    c.expected.returns?.forEach((group, g) =>
      group.forEach((row, i) =>
        row.forEach((value, t) =>
          expectClose(result.returns?.[g]?.[i]?.[t], value, `returns: group ${g}, rollout ${i}, turn ${t}`),
        ),
      ),
    );
    if (c.expected.tokens) {
      const resolved = estimator.resolved as { zeroTail: boolean; eps: number; sumPiSquared: 'proxy' | 'meta' };
      const positions = c.estimator === 'optimal-token-baseline' ? 'absolute' : 'compact';
      const { advantages } = optimalTokenBaselineTokens(c.estimator, groups, ctx, { ...resolved, positions });
      c.expected.tokens.forEach((group, g) =>
        group.forEach((row, i) => {
          expect(advantages[g]?.[i]?.length, `group ${g}, rollout ${i}: token count`).toBe(row.length);
          row.forEach((value, t) => expectClose(advantages[g]?.[i]?.[t], value, `group ${g}, rollout ${i}, token ${t}`));
        }),
      );
    }
  });
});

/** Claims of verl's own or TRL's behaviour; verl-agent and other forks are named as such. */
const CLAIMS = /(^|[^-\w])(verl|TRL)(?![-\w])/;
/** Estimators that name a reference outside verl and TRL themselves: no fixture yet, said here. */
const WITHOUT_FIXTURE: Record<string, string> = {
  gigpo: 'verl-agent (a fork of verl by the GiGPO authors), not verl itself',
  srgpo: "SeeNav-Agent's verl-agent fork",
  riskpo: "RTkenny/RiskPO's fork of verl",
};

describe('checked references in estimator meta', () => {
  const estimators = plugin.estimators ?? [];

  it('every estimator whose meta claims verl or TRL behaviour declares a reference with a fixture', () => {
    const missing = estimators
      .filter((e) => CLAIMS.test(`${e.matches ?? ''} ${e.summary}`) && referencesOf(e).length === 0)
      .map((e) => e.name);
    expect(missing).toEqual([]);
    for (const e of estimators.filter((x) => x.matches && referencesOf(x).length === 0))
      expect(WITHOUT_FIXTURE[e.name], `${e.name} claims '${e.matches}' with no reference fixture`).toBeDefined();
  });

  it('each declared reference names its fixture, and the fixture came from that file, commit and function', () => {
    const declared = estimators.flatMap((e) => referencesOf(e).map((r) => [e.name, r] as const));
    expect(declared.length).toBeGreaterThanOrEqual(16);
    for (const [name, r] of declared) {
      const fixture = fixtures.get(r.fixture);
      expect(fixture, `${name}: fixture ${r.fixture}.json`).toBeDefined();
      const source = (fixture as Fixture).reference;
      expect({
        framework: source.framework,
        repo: source.repo,
        file: source.file,
        commit: source.commit,
        function: source.function,
      }).toEqual({
        framework: r.framework,
        repo: r.repo,
        file: r.file,
        commit: r.commit,
        function: r.function,
      });
      if (r.commit === null) expect(source.note, `${r.fixture}: an unpinned reference says why`).toMatch(/commit/);
      else expect(r.commit).toMatch(/^[0-9a-f]{40}$/);
      expect(
        (fixture as Fixture).cases.some((c) => c.estimator === name),
        `${r.fixture} has a case for ${name}`,
      ).toBe(true);
    }
  });

  it('every fixture case is declared by the estimator it exercises (no orphan fixture)', () => {
    for (const [file, fixture] of fixtures)
      for (const c of fixture.cases) {
        const estimator = estimators.find((e) => e.name === c.estimator);
        expect(estimator, `${file}: estimator ${c.estimator}`).toBeDefined();
        expect(
          referencesOf(estimator as AdvantageEstimator).some((r) => r.fixture === file),
          `${c.estimator} declares ${file}`,
        ).toBe(true);
      }
  });
});

describe('worked by hand (the same formulas, small enough to check on paper)', () => {
  const run = async (name: string, options: Record<string, unknown>, groups: FixtureRollout[][]) => {
    const rollouts = groups.map((group, g) => group.map((spec, i) => rolloutOf(spec, g, i)));
    return (await estimatorFor(name, options).compute(rollouts, contextOf(rollouts, groups))) as Advantages;
  };
  const r = (reward: number | Record<string, number>, tokens = 1): FixtureRollout => ({ reward, tokens: [tokens] });
  const half = Math.SQRT1_2; // the Bessel std of {1, 0}

  it('grpo (verl eps 1e-6, TRL eps 1e-4) and dr-grpo on {1, 0} and {1, 0, 0}', async () => {
    expect((await run('grpo', { eps: 1e-6 }, [[r(1), r(0)]])).rollout[0]?.[0]).toBeCloseTo(0.5 / (half + 1e-6), 12);
    expect((await run('grpo', {}, [[r(1), r(0)]])).rollout[0]?.[1]).toBeCloseTo(-0.5 / (half + 1e-4), 12);
    const centred = (await run('dr-grpo', {}, [[r(1), r(0), r(0)]])).rollout[0] as number[];
    centred.forEach((a, i) => expect(a).toBeCloseTo([2 / 3, -1 / 3, -1 / 3][i] as number, 12));
  });

  it('grpo-passk: (best - second) / (std + 1e-6) on {1, 0.5, 0} (std 0.5), or the margin alone', async () => {
    expect((await run('grpo-passk', {}, [[r(1), r(0.5), r(0)]])).rollout[0]).toEqual([
      expect.closeTo(0.5 / (0.5 + 1e-6), 12),
      0,
      0,
    ]);
    expect((await run('grpo-passk', { normalise: false }, [[r(0), r(1), r(0.5)]])).rollout[0]).toEqual([0, 0.5, 0]);
  });

  it('rloo {1, 0, 0} -> {1, -0.5, -0.5}; rloo-vectorized gives a lone rollout 0', async () => {
    expect((await run('rloo', {}, [[r(1), r(0), r(0)]])).rollout[0]).toEqual([1, -0.5, -0.5]);
    expect((await run('rloo-vectorized', {}, [[r(0.8)], [r(1), r(0)]])).rollout).toEqual([[0], [1, -1]]);
  });

  it('reinforce-pp: rewards 1 (3 tokens), 0 (1 token): token mean 0.75, Bessel variance 0.25', async () => {
    const out = (await run('reinforce-pp', {}, [[r(1, 3)], [r(0, 1)]])).rollout.flat();
    expect(out[0]).toBeCloseTo(0.25 / Math.sqrt(0.25 + 1e-8), 12);
    expect(out[1]).toBeCloseTo(-0.75 / Math.sqrt(0.25 + 1e-8), 12);
  });

  it('reinforce-pp-baseline: {1, 0} centred to {0.5, -0.5}, variance 0.5 over two tokens', async () => {
    const out = (await run('reinforce-pp-baseline', {}, [[r(1), r(0)]])).rollout[0] as number[];
    expect(out[0]).toBeCloseTo(0.5 / Math.sqrt(0.5 + 1e-8), 12);
  });

  it('opo: baseline (3 x 1 + 1 x 0) / 4 = 0.75; an empty completion weighs 0', async () => {
    expect((await run('opo', {}, [[r(1, 3), r(0, 1)]])).rollout[0]).toEqual([0.25, -0.75]);
    expect((await run('opo', {}, [[r(1, 2), r(0, 0)]])).rollout[0]).toEqual([0, -1]);
  });

  it('gpg: alpha = 4 / 1 non-zero reward; group means 0.5 and 0', async () => {
    expect(
      (
        await run('gpg', {}, [
          [r(1), r(0)],
          [r(0), r(0)],
        ])
      ).rollout,
    ).toEqual([
      [2, -2],
      [0, 0],
    ]);
  });

  it('gdpo: two groups {1, 0} of one component; verl whitens over tokens, TRL z-scores with 1e-4', async () => {
    const groups = [
      [r({ c: 1 }), r({ c: 0 })],
      [r({ c: 1 }), r({ c: 0 })],
    ];
    const a6 = 0.5 / (half + 1e-6);
    const verl = (await run('gdpo', { flavour: 'verl', weights: { c: 1 } }, groups)).rollout[0]?.[0];
    expect(verl).toBeCloseTo(a6 / Math.sqrt((4 * a6 * a6) / 3 + 1e-8), 12);
    const a4 = 0.5 / (half + 1e-4);
    const trl = (await run('gdpo', { flavour: 'trl', weights: { c: 1 } }, groups)).rollout[0]?.[0];
    expect(trl).toBeCloseTo(a4 / (Math.sqrt((4 * a4 * a4) / 3) + 1e-4), 12);
  });

  it('remax: A = R - R(greedy), whatever the group does', async () => {
    const rollouts = [[rolloutOf(r(1), 0, 0), rolloutOf(r(0.25), 0, 1)]];
    const out = await estimatorFor('remax', {}).compute(rollouts, contextOf(rollouts, [[r(1), r(0.25)]], [0.5]));
    expect(out.rollout[0]).toEqual([0.5, -0.25]);
  });

  it('optimal token baselines: two one-token rollouts with pi = 0.5 and sum pi^2 = 0.5 share w = 0.5', async () => {
    const spec = (reward: number): FixtureRollout => ({
      reward,
      tokens: [1],
      logprobs: [[Math.log(0.5)]],
      sumPiSquared: [[0.5]],
    });
    for (const name of ['optimal-token-baseline', 'tir-optimal-token-baseline']) {
      const out = (await run(name, { sumPiSquared: 'meta' }, [[spec(1), spec(0)]])).rollout[0] as number[];
      // B = (1 x 0.5 + 0 x 0.5) / (0.5 + 0.5 + 1e-8)
      const b = 0.5 / (1 + 1e-8);
      expect(out[0]).toBeCloseTo(1 - b, 12);
      expect(out[1]).toBeCloseTo(-b, 12);
    }
  });
});
