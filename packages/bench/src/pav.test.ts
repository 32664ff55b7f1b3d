/**
 * PAV end to end (Setlur et al., arXiv 2410.08146): the `pav` estimator's Monte Carlo restarts
 * at step prefixes train the real `pav-verifier` transformer, whose progress then orders expert
 * against corrupted steps on held-out tasks; and a tiny gridnav run of the `pav` Method charges
 * every restarted episode to the budget.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pav } from '@policy-lab/advantage';
import { BudgetMeter, Rng, type Rollout, type Turn, weightedSum } from '@policy-lab/core';
import { createRegistry } from '@policy-lab/core/node';
import { pavVerifier } from '@policy-lab/rewards';
import { buildRewardModel, CharTokenizer, initBackend, resolveTrainConfig, train } from '@policy-lab/trainer';
import { beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
});

/**
 * A walk to a goal on a line: the observation names the goal's side and distance and the turns
 * left; 'w' or 'e' moves one cell; success is reaching the goal in time. The prover (and the
 * policy that samples the groups) steps toward the goal with probability 0.6.
 */
interface Walk {
  side: 'w' | 'e';
  distance: number;
}
const observe = (w: Walk, d: number, left: number) => `to ${w.side} ${d} t ${left}`;
const turnsOf = (w: Walk) => w.distance + 2;

function play(w: Walk, actions: readonly string[], id: string, rng: Rng, prover = 0.6): Rollout {
  const turns: Turn[] = [];
  let d = w.distance;
  const away = w.side === 'w' ? 'e' : 'w';
  for (let h = 0; h < turnsOf(w) && d > 0; h++) {
    const action = actions[h] ?? (rng.next() < prover ? w.side : away);
    turns.push({
      observation: observe(w, d, turnsOf(w) - h),
      action,
      promptTokens: [1],
      actionTokens: [5],
      logprobs: [-0.5],
      reward: {},
      valid: true,
      truncated: false,
    });
    d += action === w.side ? -1 : 1;
  }
  const groupId = id.slice(0, id.lastIndexOf('/'));
  return { id, groupId, taskId: `${w.side}${w.distance}`, turns, reward: { won: d === 0 ? 1 : 0 }, success: d === 0 };
}

const weights = { won: 1 };
const tokenizer = CharTokenizer.fromAlphabet('toew 0123456789');
const config = {
  ...resolveTrainConfig(
    {
      method: { name: 'm', summary: 's', estimator: 'e', loss: 'l' },
      env: {
        name: 'walk',
        summary: 's',
        rewardComponents: [],
        maxTurns: 9,
        tasks: () => [],
        taskId: String,
        start: () => ({}) as never,
      },
      seed: 3,
      budget: { episodes: 1 },
    },
    {},
  ),
  model: { dim: 32, layers: 1, heads: 4, contextLength: 40, mlpRatio: 2, valueHead: false },
};

/** A tiny gridnav run's settings: two groups of four a step, one restarted prefix of three episodes. */
const tinyOverrides = (estimatorOptions: Record<string, unknown>) => ({
  model: { dim: 16, layers: 1, heads: 2 },
  sftSteps: 2,
  tasksPerStep: 2,
  groupSize: 4,
  evalTasks: 2,
  evalSamples: 1,
  evalEvery: 100,
  signFlipEvery: 0,
  estimatorOptions: { share: 0.5, prefixes: 1, mc: 3, ...estimatorOptions },
});

describe('pav', () => {
  it('the verifier trained on restarts at step prefixes orders expert above corrupted steps on held-out tasks', async () => {
    const meter = new BudgetMeter({ episodes: 1 });
    const verifier = buildRewardModel(pavVerifier({ updatesPerStep: 8 }), config, tokenizer, (c) => meter.charge(c));
    const rng = Rng.seeded(11);
    const services = {
      score: async () => [],
      rollouts: async () => [],
      async prefixRollouts(request: { rollout: Rollout; turns: number; count: number }) {
        const w = walks.get(request.rollout.groupId) as Walk;
        const kept = request.rollout.turns.slice(0, request.turns).map((t) => t.action);
        return Array.from({ length: request.count }, (_, i) =>
          play(w, kept, `${request.rollout.id}@${request.turns}/${i}`, rng.split(`${request.rollout.id}/${request.turns}/${i}`)),
        );
      },
    };
    const walks = new Map<string, Walk>();
    const estimator = pav({ share: 1, prefixes: 0, mc: 4, k: 4 });
    let restarts = 0;
    // Training tasks start 2, 3, 5 or 6 cells from the goal; held-out ones 4 or 7 (7 cells with 9 turns left is a state never trained on).
    for (let step = 0; step < 80; step++) {
      const groups = Array.from({ length: 4 }, (_, k) => {
        const w: Walk = { side: (step + k) % 2 ? 'w' : 'e', distance: [2, 3, 5, 6][(step + k * 3) % 4] as number };
        walks.set(`s${step}g${k}`, w);
        return Array.from({ length: 4 }, (_, i) => play(w, [], `s${step}g${k}/${i}`, rng.split(`s${step}/${k}/${i}`)));
      });
      const out = await estimator.compute(groups, {
        rng: rng.split(`estimator/${step}`),
        weights,
        scalar: (r) => weightedSum(r, weights),
        services,
        rewardModels: { 'pav-verifier': verifier.handle },
      });
      restarts += (out as { diagnostics?: Record<string, number> }).diagnostics?.prefixEpisodes ?? 0;
    }
    expect(restarts).toBeGreaterThan(0);
    expect(meter.consumed.auxTrainedTokens).toBeGreaterThan(0);
    // Held out: for each step j of an expert solution, the corrupted solution takes the other move there.
    let right = 0;
    let cases = 0;
    for (const distance of [4, 7])
      for (const side of ['w', 'e'] as const) {
        const w = { side, distance };
        for (let j = 0; j < distance; j++) {
          const away = side === 'w' ? 'e' : 'w';
          const d = distance - j;
          const left = turnsOf(w) - j;
          const [expert, corrupted] = await verifier.handle.score([
            { context: observe(w, d, left), text: side },
            { context: observe(w, d, left), text: away },
          ]);
          // Both share the prefix, so their progress differs by their Q_psi alone.
          cases++;
          if ((expert as number) > (corrupted as number)) right++;
        }
      }
    expect(cases).toBe(22);
    expect(right / cases).toBeGreaterThanOrEqual(0.9);
    verifier.dispose();
  }, 120_000);

  it('a tiny gridnav run of the pav Method: every restarted episode is charged, the verifier trains', async () => {
    const { registry } = await createRegistry({ cwd: root, discoverFrom: [root] });
    const outDir = mkdtempSync(path.join(tmpdir(), 'pav-'));
    const result = await train({
      registry,
      method: 'pav',
      env: 'gridnav',
      seed: 2,
      budget: { episodes: 40 },
      overrides: tinyOverrides({}),
      outDir,
    });
    const metrics = readFileSync(path.join(outDir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, number>);
    const restarted = metrics.reduce((a, m) => a + (m['estimator.prefixEpisodes'] as number), 0);
    // each step: 2 groups x 2 rollouts restarted x 1 prefix x 3 episodes, beside 8 sampled
    expect(metrics.every((m) => m['estimator.prefixEpisodes'] === 12)).toBe(true);
    expect(result.budget.consumed.episodes).toBe(metrics.length * 8 + restarted);
    expect(metrics.every((m) => (m['estimator.verifierPoints'] as number) > 0)).toBe(true);
    expect(result.budget.consumed.auxTrainedTokens).toBeGreaterThan(0);
  }, 120_000);

  it('prover=reference keeps the frozen start by itself: no divergence is needed to run it', async () => {
    const { registry } = await createRegistry({ cwd: root, discoverFrom: [root] });
    const outDir = mkdtempSync(path.join(tmpdir(), 'pav-ref-'));
    const result = await train({
      registry,
      method: 'pav',
      env: 'gridnav',
      seed: 2,
      budget: { episodes: 20 },
      overrides: tinyOverrides({ prover: 'reference' }),
      outDir,
    });
    expect(result.config.divergence).toBeUndefined();
    expect(result.steps).toBeGreaterThan(0);
    expect(result.budget.consumed.episodes).toBeGreaterThan(result.steps * 8);
  }, 120_000);
});
