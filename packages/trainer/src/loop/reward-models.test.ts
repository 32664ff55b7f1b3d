import { BudgetMeter, type RewardModel, type ScoredText } from '@policy-lab/core';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/select-backend.js';
import { createPolicy } from '../model/transformer.js';
import { Adam } from '../optim/adam.js';
import { temporaryFolder } from '../test-support/tiny.js';
import { CharTokenizer } from '../tokenizer/char-tokenizer.js';
import { RunFolder } from './checkpoint.js';
import { resolveTrainConfig } from './config.js';
import { binomialUpperTail } from './evaluate.js';
import { buildRewardModel, exampleChunks } from './reward-models.js';

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
});

const tokenizer = CharTokenizer.fromAlphabet('abcdefgh +=0123456789');
const config = {
  ...resolveTrainConfig(
    {
      method: { name: 'm', summary: 's', estimator: 'e', loss: 'l' },
      env: {
        name: 'x',
        summary: 's',
        rewardComponents: [],
        maxTurns: 1,
        tasks: () => [],
        taskId: String,
        start: () => ({}) as never,
      },
      seed: 5,
      budget: { episodes: 1 },
    },
    {},
  ),
  model: { dim: 16, layers: 1, heads: 2, contextLength: 32, mlpRatio: 2, valueHead: false },
};
const model = (objective: RewardModel['objective'], learningRate = 0.01): RewardModel => ({
  name: `rm-${objective}`,
  summary: 'test',
  architecture: { kind: 'transformer', dim: 16, layers: 1, heads: 2 },
  objective,
  learningRate,
  updatesPerStep: 1,
  component: { name: 'rm', weight: 0 },
  examples: () => ({}),
});

// "a" answers are right, "b" answers wrong, whatever the task.
const good = (k: number): ScoredText => ({ context: `task ${k}`, text: `a${k % 10}` });
const bad = (k: number): ScoredText => ({ context: `task ${k}`, text: `b${k % 10}` });
const pairs = Array.from({ length: 16 }, (_, k) => ({ context: good(k).context, chosen: good(k).text, rejected: bad(k).text }));

describe('learned reward models', () => {
  it('Bradley-Terry: the loss falls and held-out pairs are ranked; every token read or trained is charged', async () => {
    const meter = new BudgetMeter({ episodes: 1 });
    const rm = buildRewardModel(model('bradley-terry'), config, tokenizer, (c) => meter.charge(c));
    const first = await rm.handle.train({ pairs });
    let last = first;
    for (let i = 0; i < 30; i++) last = await rm.handle.train({ pairs });
    expect(first.examples).toBe(16);
    expect(last.loss).toBeLessThan(first.loss * 0.5);
    const heldOut = Array.from({ length: 10 }, (_, k) => k + 100);
    const scores = await rm.handle.score(heldOut.flatMap((k) => [good(k), bad(k)]));
    const right = heldOut.filter((_, i) => (scores[2 * i] as number) > (scores[2 * i + 1] as number)).length;
    expect(right).toBe(10);
    // 31 updates of 32 rows, then one scoring pass of 20 rows, each as padded rows x length.
    expect(meter.consumed.auxTrainedTokens).toBeGreaterThanOrEqual(31 * 32 * 4);
    expect(meter.consumed.auxScoredTokens).toBeGreaterThanOrEqual(20 * 4);
    rm.dispose();
  });

  it('pointwise regression fits its targets; a discriminator separates its two classes; a target outside {0, 1} is refused', async () => {
    const points = Array.from({ length: 12 }, (_, k) => ({ ...good(k), target: 2 }));
    const regression = buildRewardModel(model('pointwise', 0.02), config, tokenizer, () => {});
    let loss = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 60; i++) loss = (await regression.handle.train({ points })).loss;
    expect(loss).toBeLessThan(0.1);
    const discriminator = buildRewardModel(model('discriminator'), config, tokenizer, () => {});
    const labelled = Array.from({ length: 12 }, (_, k) => [
      { ...good(k), target: 1 },
      { ...bad(k), target: 0 },
    ]).flat();
    for (let i = 0; i < 30; i++) await discriminator.handle.train({ points: labelled });
    const [yes, no] = await discriminator.handle.score([good(200), bad(200)]);
    expect(yes).toBeGreaterThan(0);
    expect(no).toBeLessThan(0);
    await expect(discriminator.handle.train({ points: [{ ...good(1), target: 0.5 }] })).rejects.toThrow(/targets are 0 or 1/);
    // The generative judge learns to predict the accept token after good texts and the reject token after bad ones.
    const judge = buildRewardModel(model('generative'), config, tokenizer, () => {});
    const before = await judge.handle.train({ points: labelled });
    let after = before;
    for (let i = 0; i < 60; i++) after = await judge.handle.train({ points: labelled });
    expect(after.loss).toBeLessThan(before.loss * 0.5);
    const [accept, reject] = await judge.handle.score([good(300), bad(300)]);
    expect(accept).toBeGreaterThan(0);
    expect(reject).toBeLessThan(0);
    await expect(judge.handle.train({ points: [{ ...good(1), target: 2 }] })).rejects.toThrow(/\(generative\) got a target 2/);
    for (const m of [regression, discriminator, judge]) m.dispose();
  });

  it("a head on the policy's trunk: learns from pairs, trains the head alone (the policy is bit-identical), is charged and checkpointed", async () => {
    const trunk = createPolicy(
      { ...config.model, dim: 32, heads: 4, vocabSize: tokenizer.vocabSize },
      (await import('@policy-lab/core')).Rng.seeded(3),
    );
    const before = await Promise.all(trunk.variables.map((v) => v.data()));
    const onTrunk: RewardModel = { ...model('bradley-terry', 0.05), architecture: { kind: 'head' } };
    const meter = new BudgetMeter({ episodes: 1 });
    const rm = buildRewardModel(onTrunk, config, tokenizer, (c) => meter.charge(c), trunk);
    expect(rm.names).toEqual(['head']);
    expect(rm.weights.variables[0]?.shape).toEqual([32, 1]);
    const first = await rm.handle.train({ pairs });
    let last = first;
    for (let i = 0; i < 60; i++) last = await rm.handle.train({ pairs });
    expect(last.loss).toBeLessThan(first.loss * 0.5);
    const heldOut = Array.from({ length: 10 }, (_, k) => k + 100);
    const scores = await rm.handle.score(heldOut.flatMap((k) => [good(k), bad(k)]));
    expect(heldOut.filter((_, i) => (scores[2 * i] as number) > (scores[2 * i + 1] as number)).length).toBe(10);
    const after = await Promise.all(trunk.variables.map((v) => v.data()));
    after.forEach((data, i) => expect(Array.from(data)).toEqual(Array.from(before[i] as Float32Array)));
    expect(meter.consumed.auxTrainedTokens).toBeGreaterThanOrEqual(61 * 32 * 4);
    expect(meter.consumed.auxScoredTokens).toBeGreaterThanOrEqual(20 * 4);
    // The same seed and trunk give the same head; the untrained head already scores texts differently.
    const again = buildRewardModel(onTrunk, config, tokenizer, () => {}, trunk);
    const fresh = await again.handle.score([good(1), bad(1)]);
    expect(fresh[0]).not.toBe(fresh[1]);
    expect(await buildRewardModel(onTrunk, config, tokenizer, () => {}, trunk).handle.score([good(1), bad(1)])).toEqual(fresh);
    expect(() => buildRewardModel(onTrunk, config, tokenizer, () => {})).toThrow(/needs the policy/);
    expect(() => buildRewardModel({ ...onTrunk, objective: 'generative' }, config, tokenizer, () => {}, trunk)).toThrow(
      /generative objective needs a language-model head of its own/,
    );
    expect(() =>
      buildRewardModel({ ...onTrunk, architecture: { kind: 'cnn' } as never }, config, tokenizer, () => {}, trunk),
    ).toThrow(/architecture kind 'cnn' is not available \(accepted: transformer, head, policy-copy\)/);
    for (const m of [rm, again]) m.dispose();
    trunk.dispose();
  });

  it('is deterministic per seed, differs across seeds, and starts from a random (not constant) score', async () => {
    const texts = [good(1), bad(1), good(2)];
    const a = buildRewardModel(model('bradley-terry'), config, tokenizer, () => {});
    const b = buildRewardModel(model('bradley-terry'), config, tokenizer, () => {});
    const c = buildRewardModel(model('bradley-terry'), { ...config, seed: 6 }, tokenizer, () => {});
    const scores = await a.handle.score(texts);
    expect(await b.handle.score(texts)).toEqual(scores);
    expect(await c.handle.score(texts)).not.toEqual(scores);
    expect(new Set(scores).size).toBe(3);
    for (const m of [a, b, c]) m.dispose();
  });

  it('scores more texts than one pass may hold in several passes: every text scored, as it scores alone', async () => {
    // VAS scored 16,000 texts in one pass on arithmetic and the wasm heap aborted the process; a pass
    // now holds at most 65,536 padded tokens, 2,048 rows at this contextLength of 32.
    const rm = buildRewardModel(model('pointwise'), config, tokenizer, () => {});
    const texts = Array.from({ length: 4100 }, (_, k) => (k % 2 ? good(k) : bad(k)));
    const before = tf.memory().numTensors;
    let all: number[] = [];
    // The peak memory of a pass is that of one pass's worth of rows, not of all the texts.
    const peak = async (f: () => Promise<unknown>) => (await tf.profile(async () => void (await f()))).peakBytes;
    const onePass = await peak(() => rm.handle.score(texts.slice(0, 2048)));
    const twoPasses = await peak(async () => {
      all = await rm.handle.score(texts);
    });
    expect(twoPasses).toBeLessThan(1.3 * onePass);
    expect(tf.memory().numTensors).toBe(before);
    expect(all).toHaveLength(texts.length);
    for (const k of [0, 1, 2047, 2048, 2049, 4095, 4099]) {
      const [alone] = await rm.handle.score([texts[k] as ScoredText]);
      expect(all[k]).toBeCloseTo(alone as number, 5);
    }
    rm.dispose();
  });

  it('trains on more examples than one pass may hold in several passes: the update is the whole batch’s, the peak memory one pass’s', async () => {
    // OPRL's implicit PRM trained on every step of 8 gridnav trajectory pairs at once and the wasm heap
    // aborted the process; an update now takes passes of at most 16,384 padded tokens (512 rows here)
    // and adds their gradients, each weighted by its share of the batch.
    const points = Array.from({ length: 1100 }, (_, k) => ({ ...(k % 2 ? good(k) : bad(k)), target: k % 2 }));
    const probe = [good(7), bad(8), good(2000)];
    const once = buildRewardModel(model('pointwise'), config, tokenizer, () => {});
    const twice = buildRewardModel(model('pointwise'), config, tokenizer, () => {});
    const single = buildRewardModel(model('pointwise'), config, tokenizer, () => {});
    // Every point twice is the same mean loss, so the same update, whatever passes each batch is cut into.
    const a = await once.handle.train({ points });
    const b = await twice.handle.train({ points: [...points, ...points] });
    expect(a.loss).toBeCloseTo(b.loss, 5);
    const [sa, sb] = [await once.handle.score(probe), await twice.handle.score(probe)];
    sa.forEach((x, i) => expect(x).toBeCloseTo(sb[i] as number, 4));
    const before = tf.memory().numTensors;
    const peak = async (f: () => Promise<unknown>) => (await tf.profile(async () => void (await f()))).peakBytes;
    const onePass = await peak(() => single.handle.train({ points: points.slice(0, 512) }));
    const threePasses = await peak(() => single.handle.train({ points }));
    expect(threePasses).toBeLessThan(1.3 * onePass);
    expect(tf.memory().numTensors).toBe(before);
    for (const m of [once, twice, single]) m.dispose();
  });

  it('cuts a batch into passes by whole examples: a trajectory pair stays in one pass, every example in exactly one', () => {
    const step = (k: number): ScoredText => ({ context: `s${k}`, text: 'a' });
    const long = { chosen: [step(1), step(2), step(3)], rejected: [step(4)] }; // 4 rows
    const trajectories = [long, { chosen: [step(5)], rejected: [step(6)] }, long, long];
    const chunks = exampleChunks(model('implicit-prm'), { trajectories }, 5);
    expect(chunks.map((c) => c.examples.trajectories?.length)).toEqual([1, 1, 1, 1]);
    expect(chunks.flatMap((c) => c.examples.trajectories ?? [])).toEqual(trajectories);
    expect(chunks.reduce((sum, c) => sum + c.share, 0)).toBeCloseTo(1, 12);
    // Two rows each: three pairs to a pass of 6 rows.
    const chunked = exampleChunks(model('bradley-terry'), { pairs: [...pairs, ...pairs] }, 6);
    expect(chunked.map((c) => c.examples.pairs?.length)).toEqual([...new Array(10).fill(3), 2]);
    expect(chunked.map((c) => c.share)).toEqual([...new Array(10).fill(3 / 32), 2 / 32]);
    // A single example larger than a pass has a pass of its own.
    expect(exampleChunks(model('implicit-prm'), { trajectories: [long] }, 2).map((c) => c.share)).toEqual([1]);
  });

  it('is saved with the checkpoint and restored with its Adam state: the next update is the same', async () => {
    const dir = temporaryFolder('rm-');
    const folder = new RunFolder(dir);
    folder.prepare({ resume: false, force: false }, () => {});
    const policy = createPolicy(
      { ...config.model, vocabSize: tokenizer.vocabSize },
      (await import('@policy-lab/core')).Rng.seeded(1),
    );
    const optimizer = new Adam(policy.variables, { learningRate: 1e-3 });
    const meter = new BudgetMeter({ episodes: 10 });
    const trained = buildRewardModel(model('bradley-terry'), config, tokenizer, () => {});
    for (let i = 0; i < 3; i++) await trained.handle.train({ pairs });
    const extra = (m: typeof trained) => [{ prefix: 'rewardModel.x.', model: m.weights, names: m.names, optimizer: m.optimizer }];
    const state = {
      step: 3,
      side: { episodes: 0, generatedTokens: 0 },
      divergenceCoef: 0,
      entropy: { coef: 0, last: null },
      curve: [],
      sums: {},
      timings: {},
    };
    for (let step = 1; step <= 3; step++) folder.appendMetrics(step, {}, meter.consumed);
    await folder.save(policy, optimizer, meter, state, config, tokenizer, extra(trained));
    const fresh = buildRewardModel(model('bradley-terry'), config, tokenizer, () => {});
    folder.restore(folder.readSidecar(config, tokenizer), policy, optimizer, new BudgetMeter({ episodes: 10 }), extra(fresh));
    expect(await fresh.handle.score([good(3)])).toEqual(await trained.handle.score([good(3)]));
    await trained.handle.train({ pairs });
    await fresh.handle.train({ pairs });
    expect(await fresh.handle.score([good(4), bad(4)])).toEqual(await trained.handle.score([good(4), bad(4)]));
    for (const m of [trained, fresh]) m.dispose();
    optimizer.dispose();
    policy.dispose();
  });

  it('with replay, each update trains on a seeded batch of everything kept; the buffer round-trips through JSON', async () => {
    const replaying = { ...model('bradley-terry'), replay: { capacity: 20, batch: 8 }, updatesPerStep: 2 };
    const a = buildRewardModel(replaying, config, tokenizer, () => {});
    const b = buildRewardModel(replaying, config, tokenizer, () => {});
    await a.handle.train({ pairs: pairs.slice(0, 12) });
    await a.handle.train({ pairs: pairs.slice(12) });
    const saved = JSON.parse(JSON.stringify(a.saveReplay())) as { pairs: unknown[]; updates: number };
    expect(saved.pairs).toHaveLength(16);
    expect(saved.updates).toBe(4);
    // Same seed, same examples: the same batches, so the same model.
    await b.handle.train({ pairs: pairs.slice(0, 12) });
    await b.handle.train({ pairs: pairs.slice(12) });
    expect(await b.handle.score([good(5)])).toEqual(await a.handle.score([good(5)]));
    // A restored buffer draws the batches the saved one would have drawn next.
    const c = buildRewardModel(replaying, config, tokenizer, () => {});
    c.loadReplay(saved);
    expect(c.saveReplay()).toEqual(a.saveReplay());
    // Capacity keeps the newest examples.
    await a.handle.train({ pairs: pairs.slice(0, 10) });
    expect((a.saveReplay() as { pairs: unknown[] }).pairs).toHaveLength(20);
    for (const m of [a, b, c]) m.dispose();
  });

  it('the exact one-sided binomial tail', () => {
    expect(binomialUpperTail(0, 5)).toBe(1);
    expect(binomialUpperTail(5, 5)).toBeCloseTo(1 / 32, 12);
    expect(binomialUpperTail(4, 5)).toBeCloseTo(6 / 32, 12);
    expect(binomialUpperTail(6, 5)).toBe(0);
    expect(binomialUpperTail(60, 100)).toBeCloseTo(0.028443966820490392, 10);
  });
});
