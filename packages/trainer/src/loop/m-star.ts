/**
 * M-STAR (Liu et al., "Diving into Self-Evolving Training for Multimodal Reasoning", arXiv
 * 2412.17451): self-evolving training as the paper recasts it, on text. Each round samples K
 * responses per training query at the round's temperature, keeps the correct ones (reward-filtered),
 * reranked by a reward model keeping the top 2, and fine-tunes on them; the optimizer carries on
 * across rounds ("continuous self-evolving"). Its exploration monitor: at the start of each round, on
 * a probe set of training queries, the Reward-Pass@2 (the share of queries whose top 2 responses by
 * the reward model hold a correct one) is measured at every temperature of a grid, and the round
 * samples at the temperature that maximises it.
 *
 * - `rewardPassAtK`, `chooseTemperature`: the monitor's measure and choice (pure functions).
 * - `mstar-temp-balancer` (a step hook): the monitor, through the trainer's probe sampling, setting
 *   the step's sampling temperature.
 * - `m-star` (an estimator): the round's selection, weight 1 and advantage 1 on the kept responses
 *   (supervised fine-tuning with the reinforce loss).
 */
import {
  type AdvantageEstimator,
  defineEstimator,
  defineHook,
  defineMethod,
  type Method,
  type Rollout,
  RunError,
  resolveOptions,
  type StepHook,
  UsageError,
} from '@policy-lab/core';

export const M_STAR_PAPER = {
  title: 'Diving into Self-Evolving Training for Multimodal Reasoning',
  arxiv: '2412.17451',
  year: 2024,
} as const;

/** Ranks a group by a reward component, highest first (ties keep the order drawn); none: the order drawn. */
function ranked(group: readonly Rollout[], rankBy: string | undefined): Rollout[] {
  if (!rankBy) return [...group];
  for (const r of group)
    if (typeof r.reward[rankBy] !== 'number')
      throw new UsageError(
        `M-STAR ranks responses by the reward component '${rankBy}', which rollout ${r.id} does not carry (its components: ${Object.keys(r.reward).join(', ')}); name a reward model that gives it (bt-outcome gives rmScore) or set rankBy to '' for the order drawn`,
      );
  return group
    .map((r, i) => ({ r, i, s: r.reward[rankBy] as number }))
    .sort((a, b) => b.s - a.s || a.i - b.i)
    .map((x) => x.r);
}

/**
 * Reward-Pass@k: the share of groups (one per query) whose k best responses by `rankBy` (a reward
 * component; '' or undefined: the first k drawn, which is pass@k) include a correct one.
 */
export function rewardPassAtK(groups: readonly (readonly Rollout[])[], k: number, rankBy?: string): number {
  if (!(Number.isInteger(k) && k >= 1)) throw new RangeError(`Reward-Pass@k: k must be an integer >= 1, got ${k}`);
  if (groups.length === 0) return Number.NaN;
  let passed = 0;
  for (const group of groups)
    if (
      ranked(group, rankBy)
        .slice(0, k)
        .some((r) => r.success)
    )
      passed += 1;
  return passed / groups.length;
}

/**
 * The temperature whose Reward-Pass@k is highest; among equals, the one nearest the current
 * temperature (the lower when two are as near), so the temperature moves only when the monitor
 * measures a gain. Temperatures whose measure is NaN (nothing sampled) are skipped; none left:
 * the current one.
 */
export function chooseTemperature(measured: readonly { temperature: number; rewardPass: number }[], current: number): number {
  let best: { temperature: number; rewardPass: number } | undefined;
  for (const m of measured) {
    if (Number.isNaN(m.rewardPass)) continue;
    if (
      !best ||
      m.rewardPass > best.rewardPass ||
      (m.rewardPass === best.rewardPass &&
        (Math.abs(m.temperature - current) < Math.abs(best.temperature - current) ||
          (Math.abs(m.temperature - current) === Math.abs(best.temperature - current) && m.temperature < best.temperature)))
    )
      best = m;
  }
  return best ? best.temperature : current;
}

/** A metric key's form of a temperature (`0.5` -> `T0.5`). */
export const temperatureKey = (t: number) => `T${Number(t.toPrecision(6))}`;

const BALANCER_OPTIONS = {
  temperatures: {
    type: 'array',
    default: [0.5, 0.7, 0.9, 1.1],
    doc: 'the temperature grid the monitor searches (unverified: the paper gives no grid in what we read)',
  },
  probeTasks: { type: 'integer', default: 4, doc: 'training queries in the probe set of each round (unverified)' },
  samples: { type: 'integer', default: 4, doc: 'responses sampled per probe query at each temperature (K)' },
  k: { type: 'integer', default: 2, doc: 'top responses by the reward model that must hold a correct one (the paper: 2)' },
  rankBy: {
    type: 'string',
    default: 'rmScore',
    doc: "the reward component that ranks a query's responses (bt-outcome's rmScore); '' ranks by the order drawn (Reward-Pass@k is then pass@k)",
  },
  roundSteps: {
    type: 'integer',
    default: 4,
    doc: 'training steps per self-evolving round; the monitor runs at the start of each round (ours)',
  },
} as const;

export interface TempBalancerOptions {
  temperatures?: number[];
  probeTasks?: number;
  samples?: number;
  k?: number;
  rankBy?: string;
  roundSteps?: number;
}

export function mstarTempBalancer(options: TempBalancerOptions = {}): StepHook {
  const resolved = resolveOptions<Required<TempBalancerOptions>>(
    'mstar-temp-balancer',
    BALANCER_OPTIONS,
    options as Record<string, unknown>,
  );
  const grid = resolved.temperatures;
  if (grid.length === 0 || !grid.every((t) => typeof t === 'number' && t > 0 && Number.isFinite(t)))
    throw new RangeError(
      `mstar-temp-balancer: temperatures must be a non-empty list of finite numbers > 0, got ${JSON.stringify(grid)}`,
    );
  for (const key of ['probeTasks', 'samples', 'k', 'roundSteps'] as const)
    if (!(resolved[key] >= 1)) throw new RangeError(`mstar-temp-balancer: ${key} must be an integer >= 1, got ${resolved[key]}`);
  if (resolved.k > resolved.samples)
    throw new RangeError(`mstar-temp-balancer: k (${resolved.k}) must be at most samples (${resolved.samples})`);
  return defineHook({
    name: 'mstar-temp-balancer',
    summary:
      "M-STAR's exploration monitor: at each round's start, Reward-Pass@2 on a probe set of training queries at every temperature of a grid; the round samples at the best",
    paper: M_STAR_PAPER,
    options: BALANCER_OPTIONS,
    resolved,
    math: '$T_{r} = \\arg\\max_{T \\in \\mathcal{T}} \\frac{1}{|P|} \\sum_{x \\in P} \\mathbb{1}[\\exists y \\in \\text{top}_k^{RM}(y_{1..K} \\sim \\pi(\\cdot|x; T)) : \\text{correct}(y)]$',
    unverified: [
      'adaptation: adapted. The paper trains a multimodal model (MiniCPM-V-2.5) on visual math; here the policy is a text model on the environment’s tasks, the mechanism being modality-free.',
      "The temperature grid (default 0.5, 0.7, 0.9, 1.1) and the probe set's size (4 training queries x 4 responses per temperature) are ours: the paper's are not in what we read (the released repository, hkust-nlp/mstar, holds its README only).",
      "A round here is `roundSteps` (4) training steps; the paper's iteration samples its whole query set. The probe's episodes and tokens are charged to the run's budget like the training rollouts (at 4 x 4 x 4 = 64 episodes a round, about half the round's 128 training episodes at the quick preset's sizes).",
      "The reward model ranking the responses is the bt-outcome outcome model trained online beside the policy (weight 0 in the reward); the paper's is a process reward model trained beforehand. Among temperatures of equal Reward-Pass@2 the one nearest the current temperature is kept (ours).",
    ],
    async onStepStart(ctx) {
      if ((ctx.step - 1) % resolved.roundSteps !== 0) {
        if (ctx.coefficients.temperature !== undefined) ctx.log?.('temperature', ctx.coefficients.temperature);
        return;
      }
      if (!ctx.drawTasks || !ctx.sample)
        throw new RunError('mstar-temp-balancer samples a probe set: it needs a trainer that lends hooks drawTasks and sample');
      const current = ctx.coefficients.temperature ?? ctx.config.temperature;
      const probe = ctx.drawTasks(resolved.probeTasks);
      const measured: { temperature: number; rewardPass: number }[] = [];
      for (const temperature of grid) {
        const groups = await ctx.sample(probe, { count: resolved.samples, temperature });
        // Refused near the budget's end: no choice on part of the grid, the temperature stays.
        if (groups.length === 0) {
          ctx.log?.('temperature', current);
          return;
        }
        const rewardPass = rewardPassAtK(groups, resolved.k, resolved.rankBy);
        measured.push({ temperature, rewardPass });
        ctx.log?.(`rewardPass@${resolved.k}.${temperatureKey(temperature)}`, rewardPass);
      }
      const chosen = chooseTemperature(measured, current);
      ctx.coefficients.temperature = chosen;
      ctx.log?.('temperature', chosen);
      const best = measured.find((m) => m.temperature === chosen);
      if (best) ctx.log?.(`rewardPass@${resolved.k}`, best.rewardPass);
    },
    configure: (next) => mstarTempBalancer({ ...resolved, ...next }),
  });
}

const ESTIMATOR_OPTIONS = {
  keep: {
    type: 'integer',
    default: 2,
    doc: "correct responses kept per query, the best by rankBy (the paper's reranking keeps 2); 0 keeps every correct one",
  },
  rankBy: {
    type: 'string',
    default: 'rmScore',
    doc: "the reward component that reranks the correct responses (bt-outcome's rmScore); '' keeps them in the order drawn",
  },
} as const;

/**
 * The round's selection: of each query's responses, the correct ones (the environment's verdict),
 * the `keep` best of them by the reward model, get weight 1 and advantage 1 (with the reinforce
 * loss, supervised fine-tuning on them); every other response weight 0.
 */
export function mstarEstimator(options: { keep?: number; rankBy?: string } = {}): AdvantageEstimator {
  const resolved = resolveOptions<{ keep: number; rankBy: string }>('m-star', ESTIMATOR_OPTIONS, options);
  if (!(resolved.keep >= 0)) throw new RangeError(`m-star: keep must be an integer >= 0, got ${resolved.keep}`);
  return defineEstimator({
    name: 'm-star',
    summary:
      "M-STAR's self-evolving selection: each query's correct responses, the top 2 by a reward model, trained as supervised targets",
    paper: M_STAR_PAPER,
    options: ESTIMATOR_OPTIONS,
    resolved,
    math: '$w_i = A_i = [\\text{correct}_i \\wedge i \\in \\text{top}_{2}^{RM}(\\{j : \\text{correct}_j\\})]$',
    configure: (next) => mstarEstimator({ ...resolved, ...next }),
    compute(groups) {
      let correct = 0;
      let kept = 0;
      let count = 0;
      const rollout = groups.map((group) => {
        const right = ranked(
          group.filter((r) => r.success),
          resolved.rankBy,
        );
        const chosen = new Set((resolved.keep > 0 ? right.slice(0, resolved.keep) : right).map((r) => r.id));
        count += group.length;
        correct += right.length;
        kept += chosen.size;
        return group.map((r) => (chosen.has(r.id) ? 1 : 0));
      });
      return {
        rollout,
        weights: rollout.map((g) => [...g]),
        diagnostics: { keptResponses: kept, correctFraction: correct / Math.max(1, count) },
      };
    },
  });
}

/** M-STAR as a Method: the monitor hook, the selection, supervised updates, the reranking reward model. */
export function mstarMethod(): Method {
  return defineMethod({
    name: 'm-star',
    summary:
      "M-STAR: continuous self-evolving training (sample K at the round's temperature, keep correct responses reranked by a reward model, fine-tune), the temperature of each round chosen by Reward-Pass@2 on a probe set",
    paper: M_STAR_PAPER,
    estimator: 'm-star',
    loss: 'reinforce',
    hooks: ['mstar-temp-balancer'],
    rewardModels: ['bt-outcome'],
    unverified: [
      "adaptation: adapted (multimodal to text; the mechanism is modality-free). The paper's self-evolving iterations sample the whole query set then fine-tune; here a round is 4 training steps, each sampling the step's queries at the round's temperature and fine-tuning on the kept responses at once. The optimizer and its state carry on across rounds (the paper's continuous self-evolving).",
      "The reranking reward model is bt-outcome, an outcome model trained online on the rollouts' verdicts (weight 0 in the reward); the paper's is a process reward model trained before self-evolution.",
      'The temperature grid and the probe size are ours (see the mstar-temp-balancer hook).',
      "Diagnostics (Reward-Pass@k, the paper's monitor), per step in metrics.jsonl and, in a comparison, in results.json (`stepDiagnostics`) and plotted in report.html: the step's sampling temperature (`hook.mstar-temp-balancer.temperature`) and, at each round's start, Reward-Pass@2 on the probe set at each grid temperature (`hook.mstar-temp-balancer.rewardPass@2.T0.5`, ...) and at the one chosen (`hook.mstar-temp-balancer.rewardPass@2`).",
    ],
    defaultsSource:
      'paper (via the released README, hkust-nlp/mstar): top-2 reranking, Reward-Pass@2; the grid 0.5-1.1, probe 4 x 4 and round of 4 steps are ours',
  });
}
