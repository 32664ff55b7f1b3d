import { type Environment, type RewardModelHandle, Rng, type ScoredText } from '@policy-lab/core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/select-backend.js';
import { collectRollouts } from '../loop/rollouts.js';
import { sampleGroups } from '../loop/samplers.js';
import { createPolicy } from '../model/transformer.js';
import { CharTokenizer } from '../tokenizer/char-tokenizer.js';
import { pavBeam } from './pav-beam.js';

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
});

const tokenizer = CharTokenizer.fromAlphabet('abcdefgh .');
const tinyPolicy = (seed: number) =>
  createPolicy(
    { dim: 16, layers: 1, heads: 2, contextLength: 40, mlpRatio: 2, valueHead: false, vocabSize: tokenizer.vocabSize },
    Rng.seeded(seed).split('init'),
  );

/** Three turns; the observation spells the actions so far; `snapshots` false makes copies replay the actions. */
function walk(snapshots = true): Environment {
  return {
    name: 'walk',
    summary: 'three turns',
    rewardComponents: [{ name: 'steps', weight: 1 }],
    maxTurns: 3,
    tasks: () => ['start'],
    taskId: (task) => String(task),
    start: () => {
      let path = '';
      let turns = 0;
      return {
        observation: () => `at ${path}.`,
        step: (action) => {
          path += action;
          turns += 1;
          return { reward: { steps: path.length }, done: turns >= 3, valid: true };
        },
        outcome: () => ({ reward: { steps: path.length }, success: path.includes('c') }),
        ...(snapshots
          ? {
              snapshot: () => ({ path, turns }),
              restore: (state: unknown) => {
                ({ path, turns } = state as { path: string; turns: number });
              },
            }
          : {}),
      };
    },
  };
}

/** A verifier double: Q = 10 x the number of 'c' in the action, logged per call. */
function cVerifier(): RewardModelHandle & { calls: ScoredText[][] } {
  const calls: ScoredText[][] = [];
  return {
    name: 'pav-verifier',
    calls,
    async score(texts) {
      calls.push([...texts]);
      return texts.map((t) => 10 * (t.text.split('c').length - 1));
    },
    async train() {
      return { loss: 0, examples: 0 };
    },
  };
}

const options = (sampler: ReturnType<typeof pavBeam>, verifier: RewardModelHandle, seed = 1) => ({
  maxNewTokens: 3,
  temperature: 1,
  rng: Rng.seeded(seed),
  sampler,
  rewardModels: { 'pav-verifier': verifier },
});

describe('pav-beam (beam search over steps scored by the verifier)', () => {
  it('property: width 1 with expand 1 is greedy decoding, turn for turn, token for token', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1000 }), fc.boolean(), async (seed, snapshots) => {
        const policy = tinyPolicy(seed);
        const env = walk(snapshots);
        const request = { task: 'start', groupId: 'g0', count: 1 };
        const verifier = cVerifier();
        const searched = await sampleGroups(
          policy,
          tokenizer,
          env,
          [request],
          options(pavBeam({ width: 1, expand: 1 }), verifier, seed),
          () => 0,
        );
        const greedy = await collectRollouts(policy, tokenizer, env, [request], {
          maxNewTokens: 3,
          temperature: 1,
          greedy: true,
          rng: Rng.seeded(seed),
        });
        policy.dispose();
        const [a] = searched.groups[0] ?? [];
        const [b] = greedy[0] ?? [];
        expect(a?.turns.map((t) => [t.observation, t.action, t.actionTokens, t.logprobs])).toEqual(
          b?.turns.map((t) => [t.observation, t.action, t.actionTokens, t.logprobs]),
        );
        expect(a?.reward).toEqual(b?.reward);
        // one verifier call per turn, one candidate each; charged: one episode, each candidate once
        expect(verifier.calls.map((c) => c.length)).toEqual(b?.turns.map(() => 1));
        expect(searched.extra).toEqual({
          episodes: 1,
          generatedTokens: b?.turns.reduce((n, t) => n + t.actionTokens.length, 0),
          envSteps: b?.turns.length,
        });
      }),
      { numRuns: 8 },
    );
  });

  it("keeps the verifier's best steps: wider search finds the actions it prefers; every candidate is charged", async () => {
    const policy = tinyPolicy(3);
    const verifier = cVerifier();
    const out = await sampleGroups(
      policy,
      tokenizer,
      walk(),
      [{ task: 'start', groupId: 'g0', count: 2 }],
      options(pavBeam({ width: 2, expand: 6 }), verifier),
      () => 0,
    );
    const greedy = await collectRollouts(policy, tokenizer, walk(), [{ task: 'start', groupId: 'g0', count: 1 }], {
      maxNewTokens: 3,
      temperature: 1,
      greedy: true,
      rng: Rng.seeded(1),
    });
    policy.dispose();
    const count = (s: string) => s.split('c').length - 1;
    const best = Math.max(...(out.groups[0] ?? []).map((r) => count(r.turns.map((t) => t.action).join(''))));
    const plain = count((greedy[0]?.[0]?.turns ?? []).map((t) => t.action).join(''));
    expect(best).toBeGreaterThanOrEqual(plain);
    expect(best).toBeGreaterThan(0);
    // turn 1: 6 candidates of the start; turns 2 and 3: 6 of each of 2 kept episodes
    expect(verifier.calls.map((c) => c.length)).toEqual([6, 12, 12]);
    expect(out.extra?.envSteps).toBe(30);
    expect(out.extra?.episodes).toBe(out.groups[0]?.length);
    // The observation each candidate was scored on is the one of the turn it was played in.
    for (const r of out.groups[0] ?? [])
      expect(r.turns.map((t) => t.observation)).toEqual([
        'at .',
        `at ${r.turns[0]?.action}.`,
        `at ${r.turns[0]?.action}${r.turns[1]?.action}.`,
      ]);
  });

  it('names the missing verifier; bad options are refused', async () => {
    const policy = tinyPolicy(1);
    await expect(
      sampleGroups(
        policy,
        tokenizer,
        walk(),
        [{ task: 'start', groupId: 'g0', count: 1 }],
        { maxNewTokens: 3, temperature: 1, rng: Rng.seeded(1), sampler: pavBeam() },
        () => 0,
      ),
    ).rejects.toThrow(/reward model 'pav-verifier'.*--set rewardModels=pav-verifier/);
    policy.dispose();
    expect(() => pavBeam({ width: 0 })).toThrow(/width/);
    expect(() => pavBeam({ expand: 0 })).toThrow(/expand/);
  });
});
