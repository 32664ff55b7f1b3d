/**
 * Two-level advantages for multi-turn agents: an episode advantage A_E from
 * the task group, plus omega times a step advantage A_S from a group of steps, per turn.
 * GiGPO groups steps by identical anchor state (Turn.stateKey); SRGPO groups them at random.
 */
import {
  type AdvantageEstimator,
  defineEstimator,
  type EstimatorContext,
  type Rollout,
  resolveOptions,
  UsageError,
} from '@policy-lab/core';
import { mean, std } from '../group-math.js';
import { ones, scalarRewards } from '../groups.js';

export type NormMode = 'mean_norm' | 'mean_std_norm';

/** One turn of one rollout: where its advantage goes, and its step value. */
interface StepRow {
  g: number;
  i: number;
  t: number;
  value: number;
  stateKey?: string;
}

/**
 * A_E per rollout. With `crossSteps` (verl-agent's default) the group's mean and std are taken
 * over step rows, so every rollout counts once per turn and long episodes weigh more.
 */
export function episodeAdvantages(
  rewards: readonly (readonly number[])[],
  groups: readonly (readonly Rollout[])[],
  mode: NormMode,
  crossSteps: boolean,
  eps: number,
): number[][] {
  return rewards.map((r, g) => {
    const samples = crossSteps
      ? r.flatMap((value, i) => Array.from({ length: Math.max(1, groups[g]?.[i]?.turns.length ?? 1) }, () => value))
      : [...r];
    const m = mean(samples);
    if (mode === 'mean_norm') return r.map((v) => v - m);
    // torch.std (Bessel) as verl-agent; a single sample keeps std 1 there.
    const s = samples.length > 1 ? std(samples, 'sample') : 1;
    return r.map((v) => (v - m) / (s + eps));
  });
}

/** Step advantages within each group of rows; a singleton group gives 0 (its mean is itself). */
function stepAdvantages(
  rows: readonly StepRow[],
  groupsOfRows: readonly (readonly number[])[],
  mode: NormMode,
  eps: number,
): number[] {
  const out = rows.map(() => 0);
  for (const members of groupsOfRows) {
    if (members.length < 2) continue;
    const values = members.map((k) => (rows[k] as StepRow).value);
    const m = mean(values);
    const s = mode === 'mean_std_norm' ? std(values, 'sample') : 0;
    members.forEach((k, j) => {
      const centred = (values[j] as number) - m;
      out[k] = mode === 'mean_std_norm' ? centred / (s + eps) : centred;
    });
  }
  return out;
}

function combine(
  groups: readonly (readonly Rollout[])[],
  episode: readonly (readonly number[])[],
  rows: readonly StepRow[],
  step: readonly number[],
  omega: number,
): number[][][] {
  const turns = groups.map((group, g) => group.map((r, i) => r.turns.map(() => episode[g]?.[i] as number)));
  rows.forEach((row, k) => {
    const list = turns[row.g]?.[row.i] as number[];
    list[row.t] = (list[row.t] as number) + omega * (step[k] as number);
  });
  return turns;
}

function needTurns(name: string, groups: readonly (readonly Rollout[])[]): void {
  groups.forEach((group, g) =>
    group.forEach((r, i) => {
      if (r.turns.length === 0)
        throw new UsageError(`${name}: group ${g}, rollout ${i} (${r.id}) has no turns; step groups need them`);
    }),
  );
}

// ---------------------------------------------------------------------------------------
// GiGPO

export interface GigpoOptions {
  gamma?: number;
  omega?: number;
  mode?: NormMode;
  crossSteps?: boolean;
  eps?: number;
}

const GIGPO_OPTIONS = {
  gamma: { type: 'number', default: 0.95, doc: 'discount of the step return G_t (verl-agent scripts: 0.95)' },
  omega: { type: 'number', default: 1, doc: 'weight of the step advantage (step_advantage_w)' },
  mode: {
    type: 'enum',
    values: ['mean_norm', 'mean_std_norm'],
    default: 'mean_norm',
    doc: "'mean_norm' centres (verl-agent's default); 'mean_std_norm' also divides by std + eps",
  },
  crossSteps: {
    type: 'boolean',
    default: true,
    doc: 'episode mean and std over step rows, so long episodes weigh more (verl-agent default)',
  },
  eps: { type: 'number', default: 1e-6, doc: 'added to the std' },
} as const;

/** GiGPO (Feng et al. 2025): episode groups plus anchor-state step groups (identical stateKey within a task group). */
export function gigpo(options: GigpoOptions = {}): AdvantageEstimator {
  const o = resolveOptions<Required<GigpoOptions>>('gigpo', GIGPO_OPTIONS, options as Record<string, unknown>);
  if (!(o.gamma >= 0 && o.gamma <= 1)) throw new RangeError(`gigpo: option 'gamma' must be in [0, 1], got ${o.gamma}`);
  return defineEstimator({
    name: 'gigpo',
    summary: 'GiGPO: episode-level group advantage plus a step advantage among turns from the same anchor state',
    paper: { title: 'Group-in-Group Policy Optimization for LLM Agent Training', arxiv: '2505.10978', year: 2025 },
    matches: 'verl-agent `algorithm.adv_estimator=gigpo` (exact anchor matching)',
    options: GIGPO_OPTIONS,
    resolved: o,
    math: '$A_{i,t} = A^E_i + \\omega A^S_{i,t}$, $A^E_i = R_i - \\operatorname{mean}_{rows}(R)$, $A^S_{i,t} = G_{i,t} - \\operatorname{mean}\\{G_{j,u} : s_{j,u} = s_{i,t}\\}$, $G_{i,t} = \\sum_{s \\ge t} \\gamma^{s-t} r_{i,s}$ (0 for a state seen once)',
    unverified: [
      "Anchor states are the environment's stateKey (exact match); verl-agent's optional similarity clustering is not built.",
      "The step reward is the turn's weighted reward vector (the environment's invalid-action component included), not a separately configured penalty.",
    ],
    configure: (next) => gigpo({ ...o, ...next }),
    compute(groups, ctx) {
      const rewards = scalarRewards('gigpo', groups, ctx);
      needTurns('gigpo', groups);
      const episode = episodeAdvantages(rewards, groups, o.mode, o.crossSteps, o.eps);
      const rows: StepRow[] = [];
      const anchors: number[][] = [];
      groups.forEach((group, g) => {
        const byState = new Map<string, number[]>();
        group.forEach((r, i) => {
          const returns = discountedReturns(r, ctx, o.gamma);
          r.turns.forEach((turn, t) => {
            const k =
              rows.push({ g, i, t, value: returns[t] as number, ...(turn.stateKey ? { stateKey: turn.stateKey } : {}) }) - 1;
            // A turn without a state key is its own group (A_S = 0).
            const key = turn.stateKey ?? `\u0000${i}/${t}`;
            byState.set(key, [...(byState.get(key) ?? []), k]);
          });
        });
        anchors.push(...byState.values());
      });
      const step = stepAdvantages(rows, anchors, o.mode, o.eps);
      const matched = anchors.filter((a) => a.length > 1).reduce((n, a) => n + a.length, 0);
      return {
        rollout: episode,
        turns: combine(groups, episode, rows, step, o.omega),
        weights: ones(groups),
        diagnostics: {
          anchoredStepFraction: rows.length ? matched / rows.length : 0,
          anchorGroups: anchors.filter((a) => a.length > 1).length,
        },
      };
    },
  });
}

function discountedReturns(rollout: Rollout, ctx: EstimatorContext, gamma: number): number[] {
  const out = rollout.turns.map(() => 0);
  let next = 0;
  for (let t = rollout.turns.length - 1; t >= 0; t--) {
    next = ctx.scalar((rollout.turns[t] as Rollout['turns'][number]).reward) + gamma * next;
    out[t] = next;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// SRGPO

export interface SrgpoOptions {
  omega?: number;
  stepGroupSize?: number;
  scope?: 'batch' | 'task' | 'trajectory';
  stepComponent?: string;
  crossSteps?: boolean;
  eps?: number;
}

const SRGPO_OPTIONS = {
  omega: { type: 'number', default: 0.5, doc: 'weight of the step advantage (run_ebnav.sh: 0.5)' },
  stepGroupSize: { type: 'integer', default: 16, doc: 'step rows per random group; 0 = one group' },
  scope: {
    type: 'enum',
    values: ['batch', 'task', 'trajectory'],
    default: 'batch',
    doc: 'where random step groups are drawn: the whole batch (what the released code does), within a task group, or within a trajectory',
  },
  stepComponent: {
    type: 'string',
    default: 'progress',
    doc: "the reward component holding the verifiable step reward (gridnav: 'progress'); '' uses the turn's weighted reward",
  },
  crossSteps: { type: 'boolean', default: true, doc: 'episode mean and std over step rows (as GiGPO)' },
  eps: { type: 'number', default: 1e-6, doc: 'added to the std' },
} as const;

/** SRGPO (SeeNav-Agent): episode groups plus random step groups over the raw verifiable step reward, both z-scored. */
export function srgpo(options: SrgpoOptions = {}): AdvantageEstimator {
  const o = resolveOptions<Required<SrgpoOptions>>('srgpo', SRGPO_OPTIONS, options as Record<string, unknown>);
  if (o.stepGroupSize < 0) throw new RangeError(`srgpo: option 'stepGroupSize' must be >= 0, got ${o.stepGroupSize}`);
  return defineEstimator({
    name: 'srgpo',
    summary: 'SRGPO: episode group advantage plus a step advantage of the verifiable step reward within random step groups',
    paper: {
      title: 'SeeNav-Agent: Enhancing Vision-Language Navigation with Visual Prompt and Step-Level Policy Optimization',
      arxiv: '2512.02631',
      year: 2025,
    },
    matches: 'SeeNav-Agent verl-agent `srgpo` (mean_std_norm for both levels, as the released trainer)',
    options: SRGPO_OPTIONS,
    resolved: o,
    ...(o.stepComponent === '' ? {} : { requires: { components: [o.stepComponent] } }),
    math: '$A_{i,t} = \\frac{R_i - \\mu_E}{\\sigma_E + \\epsilon} + \\omega\\,\\frac{r_{i,t} - \\mu_S}{\\sigma_S + \\epsilon}$ with random step groups of `stepGroupSize` rows (0 for a singleton)',
    unverified: [
      "scope 'task' groups within a task as the released option intends; the released dispatch silently used the whole batch instead (SeeNav-Agent's released srgpo code).",
    ],
    configure: (next) => srgpo({ ...o, ...next }),
    compute(groups, ctx) {
      const rewards = scalarRewards('srgpo', groups, ctx);
      needTurns('srgpo', groups);
      const episode = episodeAdvantages(rewards, groups, 'mean_std_norm', o.crossSteps, o.eps);
      const rows: StepRow[] = [];
      groups.forEach((group, g) =>
        group.forEach((r, i) =>
          r.turns.forEach((turn, t) => {
            let value: number;
            if (o.stepComponent === '') value = ctx.scalar(turn.reward);
            else {
              const v = turn.reward[o.stepComponent];
              if (v === undefined)
                throw new UsageError(
                  `srgpo: group ${g}, rollout ${i} (${r.id}), turn ${t} has no reward component '${o.stepComponent}' (has: ${Object.keys(turn.reward).join(', ') || 'none'}); set stepComponent`,
                );
              value = v;
            }
            rows.push({ g, i, t, value });
          }),
        ),
      );
      const pools: number[][] =
        o.scope === 'batch'
          ? [rows.map((_, k) => k)]
          : groupBy(rows, (row) => (o.scope === 'task' ? `${row.g}` : `${row.g}/${row.i}`));
      const stepGroups: number[][] = [];
      for (const pool of pools) {
        const shuffled = ctx.rng.shuffle(pool);
        const size = o.stepGroupSize === 0 ? shuffled.length : o.stepGroupSize;
        for (let start = 0; start < shuffled.length; start += size) stepGroups.push(shuffled.slice(start, start + size));
      }
      const step = stepAdvantages(rows, stepGroups, 'mean_std_norm', o.eps);
      return { rollout: episode, turns: combine(groups, episode, rows, step, o.omega), weights: ones(groups) };
    },
  });
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): number[][] {
  const out = new Map<string, number[]>();
  items.forEach((item, k) => out.set(key(item), [...(out.get(key(item)) ?? []), k]));
  return [...out.values()];
}
