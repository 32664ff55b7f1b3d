/**
 * RAPL (Tian et al. 2024, "Maximizing Alignment with Minimal Feedback", arXiv 2412.04835; the
 * method of arXiv 2310.07932) over turn observations: an encoder phi over each turn's observation
 * is aligned with a user from a small budget of preference triplets (a demonstration as anchor,
 * two of the policy's trajectories ordered by the user) through a Bradley-Terry loss on optimal
 * transport costs in phi-space; the policy's reward is then r(tau) = -OT_eps(phi(tau), phi(demo)),
 * the entropic (Sinkhorn) transport cost to the task's demonstration, dense per turn as the plan's
 * row costs (turn t: -sum_j P_tj C_tj, so the turns sum to the trajectory's reward).
 *
 * The user is simulated, as in the paper's simulation experiments: it prefers the trajectory of
 * higher environment reward minus a penalty for each turn spent next to an object other than the
 * goal (a preference the task reward does not encode, like the paper's "avoid the obstacle").
 */
import { defineShaper, type RewardShaper, type Rollout, resolveOptions, type ShapeContext } from '@policy-lab/core';
import { characters } from '../models/small-model.js';
import { type PreferenceTriplet, TurnEncoder } from '../models/turn-encoder.js';
import { reshaped } from './common.js';
import { checkpointed, perRun, requireDemonstrations } from './dopamine.js';

export interface RaplOtOptions {
  epsilon?: number;
  triplets?: number;
  epochs?: number;
  dimension?: number;
  features?: number;
  learningRate?: number;
  beta?: number;
  avoidWeight?: number;
  keepTrueReward?: boolean;
}

const OPTIONS = {
  epsilon: { type: 'number', default: 0.05, doc: "Sinkhorn's entropic regularisation of the transport plan" },
  triplets: {
    type: 'integer',
    default: 50,
    doc: 'preference triplets asked of the (simulated) user in a run: the feedback budget',
  },
  epochs: { type: 'integer', default: 20, doc: 'passes over the triplets gathered so far, at each step that gathers new ones' },
  dimension: { type: 'integer', default: 16, doc: "the encoder's embedding dimension" },
  features: { type: 'integer', default: 1024, doc: 'hash buckets of the observation text' },
  learningRate: { type: 'number', default: 0.01, doc: "the encoder's Adam learning rate" },
  beta: { type: 'number', default: 10, doc: 'Bradley-Terry temperature on the difference of transport costs' },
  avoidWeight: {
    type: 'number',
    default: 0.5,
    doc: "the simulated user's penalty per turn next to an object other than the goal (0: the user follows the task reward)",
  },
  keepTrueReward: {
    type: 'boolean',
    default: false,
    doc: "true: the environment's components stay in the training reward beside the learned one",
  },
} as const;

/**
 * Objects within one cell (forward <= 1, sideways <= 1) in a turn's observation, as gridnav
 * describes them: compact `red ball f1 r1`, or BabyAI-Text `a red ball 1 step forward and 1 step right`.
 * Walls are not objects. 0 for observations of other shapes.
 */
export function objectsNearby(observation: string): number {
  let near = 0;
  for (const m of observation.matchAll(/(?:^|[,;.] )([a-z]+) ([a-z]+) f(\d+)(?: [rl](\d+))?(?=,|$)/g))
    if (m[1] !== 'goal' && Number(m[3]) <= 1 && Number(m[4] ?? 0) <= 1) near++;
  for (const m of observation.matchAll(/a [a-z]+ [a-z]+ (\d+) steps? forward(?: and (\d+) steps? (?:right|left))?\./g))
    if (Number(m[1]) <= 1 && Number(m[2] ?? 0) <= 1) near++;
  return near;
}

/** The simulated user's score: the environment's weighted reward, minus `avoidWeight` per turn next to an object. */
export function userScore(rollout: Rollout, ctx: Pick<ShapeContext, 'components' | 'weights'>, avoidWeight: number): number {
  const reward = (rollout.meta?.unshapedReward as Rollout['reward'] | undefined) ?? rollout.reward;
  const task = ctx.components.reduce((s, c) => s + (ctx.weights[c] ?? 0) * (reward[c] ?? 0), 0);
  const near = rollout.turns.reduce((n, t) => n + (objectsNearby(t.observation) > 0 ? 1 : 0), 0);
  return task - avoidWeight * near;
}

/**
 * One triplet from a group's rollouts against the task's demonstration: the user ranks the group
 * and the triplet holds its first and its last; none when every rollout scores the same.
 */
export function tripletOf(
  anchor: readonly string[],
  rollouts: readonly Rollout[],
  scores: readonly number[],
): PreferenceTriplet | undefined {
  const order = scores.map((_, k) => k).sort((p, q) => (scores[q] as number) - (scores[p] as number) || p - q);
  const best = order[0];
  const worst = order[order.length - 1];
  if (best === undefined || worst === undefined || scores[best] === scores[worst]) return undefined;
  const observations = (r: Rollout) => r.turns.map((t) => t.observation);
  return {
    anchor,
    preferred: observations(rollouts[best] as Rollout),
    lessPreferred: observations(rollouts[worst] as Rollout),
  };
}

const tripletText = (t: PreferenceTriplet) => [...t.anchor, ...t.preferred, ...t.lessPreferred];

export function raplOt(options: RaplOtOptions = {}): RewardShaper {
  const o = resolveOptions<Required<RaplOtOptions>>('rapl-ot', OPTIONS, options as Record<string, unknown>);
  for (const key of ['epochs', 'dimension', 'features'] as const)
    if (!(o[key] >= 1)) throw new RangeError(`rapl-ot: option '${key}' must be >= 1, got ${o[key]}`);
  for (const key of ['epsilon', 'learningRate', 'beta'] as const)
    if (!(o[key] > 0)) throw new RangeError(`rapl-ot: option '${key}' must be > 0, got ${o[key]}`);
  if (!(o.triplets >= 0)) throw new RangeError(`rapl-ot: option 'triplets' must be >= 0, got ${o.triplets}`);
  const newModel = () =>
    new TurnEncoder({
      features: o.features,
      dimension: o.dimension,
      learningRate: o.learningRate,
      epsilon: o.epsilon,
      beta: o.beta,
      seed: 'rapl-ot',
    });
  const state = perRun(() => ({ model: newModel(), triplets: [] as PreferenceTriplet[] }));
  return defineShaper({
    name: 'rapl-ot',
    summary:
      "RAPL: an observation encoder aligned from a few preference triplets (Bradley-Terry on optimal-transport costs); reward = -Sinkhorn OT cost to the task's demonstration, dense per turn",
    paper: {
      title: 'Maximizing Alignment with Minimal Feedback: Efficiently Learning Rewards for Visuomotor Robot Policy Alignment',
      arxiv: '2412.04835',
      year: 2024,
    },
    options: OPTIONS,
    resolved: o,
    requires: { multiTurn: true, demonstrations: true },
    adds: [{ name: 'raplReward', weight: 1 }],
    math: '$C_{ij} = \\lVert\\phi(o_i) - \\phi(o^{demo}_j)\\rVert^2$, $P^\\star = \\arg\\min_{P \\in U(\\frac1n, \\frac1m)} \\langle P, C\\rangle - \\varepsilon H(P)$ (Sinkhorn); $r_t = -\\sum_j P^\\star_{tj} C_{tj}$, $r(\\tau) = \\sum_t r_t = -\\langle P^\\star, C\\rangle$; $\\phi$ fitted by $-\\log \\sigma(\\beta(d(\\tau^-, \\tau^a) - d(\\tau^+, \\tau^a)))$',
    unverified: [
      "adaptation: adapted. The paper aligns a pre-trained vision encoder on video frames with real or simulated human triplets; ours is a small encoder of its own (a hashed bag of words and word pairs through one tanh layer, random start, no pre-training) over each turn's observation text, with a simulated user.",
      "Cost convention: squared Euclidean in phi-space with uniform weights, and the reward is the transport cost of the entropic plan, -<P, C> (not the regularised objective). The paper's features are compared by cosine distance; the 1-D worked example (agent [0, 0.5, 1], expert [0, 0.4, 1], epsilon 0.05) gives -0.0062 under this convention (|x - y| gives -0.0334).",
      "The loss's gradient holds the Sinkhorn plan fixed (the envelope form); the paper's code may differentiate through the iterations.",
      "Triplets come online from the run's own rollouts (the simulated user ranks a group; its best and worst with the task's demonstration as anchor) until the budget is spent; the paper gathers its triplets from the pre-trained policy's rollouts before RL. The simulated user (environment reward minus a penalty per turn next to a non-goal object) is ours.",
      'epsilon, the encoder sizes, beta, the epochs and the 50-triplet budget are ours; the paper does not fix them for this setting.',
    ],
    configure: (next) => raplOt({ ...o, ...next }),
    ...checkpointed(state, newModel),
    shape(rollouts: readonly Rollout[], ctx: ShapeContext) {
      const { model, triplets } = state(ctx);
      const demonstrations = requireDemonstrations('rapl-ot', ctx);
      const anchors = new Map<string, string[] | undefined>();
      const anchorOf = (groupId: string) => {
        if (!anchors.has(groupId))
          anchors.set(
            groupId,
            demonstrations.ofGroup(groupId)?.turns.map((t) => t.observation),
          );
        return anchors.get(groupId);
      };
      let scored = 0;
      const zero = (v: Readonly<Record<string, number>>) =>
        o.keepTrueReward
          ? { ...v }
          : Object.fromEntries(Object.keys(v).map((k) => [k, ctx.components.includes(k) ? 0 : (v[k] as number)]));
      const rewards: number[] = [];
      const shaped = rollouts.map((r) => {
        const anchor = anchorOf(r.groupId);
        const observations = r.turns.map((t) => t.observation);
        const perTurn = new Array<number>(r.turns.length).fill(0);
        if (anchor?.length && observations.length) {
          scored += characters([...observations, ...anchor]);
          model.transport(observations, anchor).rowCosts.forEach((c, t) => {
            perTurn[t] = -c;
          });
        }
        const total = perTurn.reduce((a, b) => a + b, 0);
        rewards.push(total);
        return reshaped(
          r,
          { ...zero(r.reward), raplReward: total },
          r.turns.map((t, i) => ({ ...zero(t.reward), raplReward: perTurn[i] as number })),
        );
      });
      ctx.charge?.({ auxScoredTokens: scored });
      // Then the user's feedback, while the budget lasts: one triplet per group, and the encoder refitted on all of them.
      const rng = ctx.rng.split('rapl-ot');
      const before = triplets.length;
      const groups = new Map<string, Rollout[]>();
      for (const r of rollouts) groups.set(r.groupId, [...(groups.get(r.groupId) ?? []), r]);
      for (const [groupId, members] of groups) {
        if (triplets.length >= o.triplets) break;
        const anchor = anchorOf(groupId);
        if (!anchor?.length) continue;
        const scores = members.map((r) => userScore(r, ctx, o.avoidWeight));
        const triplet = tripletOf(anchor, members, scores);
        if (triplet) triplets.push(triplet);
      }
      if (triplets.length > before) {
        const loss = model.fit(triplets, { epochs: o.epochs, batch: 16, rng });
        ctx.charge?.({ auxTrainedTokens: characters(triplets.flatMap(tripletText)) * o.epochs });
        ctx.log?.('loss', loss);
      }
      ctx.log?.('triplets', triplets.length);
      ctx.log?.('rewardMean', rewards.reduce((a, b) => a + b, 0) / Math.max(1, rewards.length));
      return shaped;
    },
  });
}
