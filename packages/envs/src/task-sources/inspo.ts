/**
 * INSPO's instruction population (Agentic Policy Optimization via Instruction-Policy
 * Co-Evolution, arXiv 2512.01945): instructions co-evolve with the policy inside the RL loop.
 *
 * - Each drawn task is played under one instruction of the population, sampled with
 *   p(I_j) = softmax(w / tau)_j, where w_j is the mean scalar reward of every rollout played
 *   under I_j so far (training groups and verification rollouts); an instruction without any
 *   rollout yet gets the best seen weight (0 when none is seen), so it is tried.
 * - The rewards of each step's groups are attributed to the instruction they were played under
 *   (per-instruction counts of rollouts, reward sums and successes).
 * - Failed rollouts enter a replay buffer of the newest `buffer` failures.
 * - Every `every` steps a proposer writes `candidates` new instructions from failures in the
 *   buffer: the current policy itself continues a failed transcript (on-policy reflection; its
 *   tokens are charged), or, with `proposer: 'mutate'`, a template mutation splices a span of a
 *   failure's text into the best instruction. Each candidate is verified by `verifyTasks`
 *   rollouts with the current policy on a held-out batch of training tasks never drawn for
 *   training (charged as episodes), and the population and the verified candidates are merged:
 *   while more than `size` remain, the lowest-weight one goes (members with fewer than
 *   `minTrials` rollouts are protected), so a weak member is retired only for a better one.
 */
import {
  defineTaskSource,
  type ProposeContext,
  type Rng,
  resolveOptions,
  type TaskFeedback,
  type TaskSource,
  type TaskStream,
  UsageError,
} from '@policy-lab/core';

export interface InspoOptions {
  /** N: the population's bound. */
  size?: number;
  /** tau: the sampling temperature over weights. */
  temperature?: number;
  /** The starting instructions ('' is the plain task without an instruction). */
  seeds?: string[];
  /** Steps between evolution rounds (propose, verify, merge). */
  every?: number;
  /** Candidates proposed per round. */
  candidates?: number;
  /** Who writes candidates: the current policy from a failure, or a template mutation of the best instruction. */
  proposer?: 'policy' | 'mutate';
  /** Held-out training tasks each candidate is verified on (one rollout each). */
  verifyTasks?: number;
  /** Failures kept in the replay buffer (the newest). */
  buffer?: number;
  /** Rollouts a member must have before it can be retired. */
  minTrials?: number;
  /** Characters an instruction may have (a written one is cut to this). */
  maxLength?: number;
}

const OPTIONS = {
  size: { type: 'integer', default: 4, doc: 'N: at most this many instructions in the population' },
  temperature: {
    type: 'number',
    default: 0.1,
    doc: 'tau: instructions are drawn with p = softmax(w / tau), w the mean reward of each',
  },
  seeds: {
    type: 'array',
    default: [''],
    doc: "the starting instructions ('' is the plain task, the static baseline); written in the environment's alphabet",
  },
  every: { type: 'integer', default: 5, doc: 'steps between evolution rounds (propose, verify, retire)' },
  candidates: { type: 'integer', default: 2, doc: 'candidate instructions proposed per round' },
  proposer: {
    type: 'enum',
    values: ['policy', 'mutate'],
    default: 'policy',
    doc: "who writes candidates: 'policy' (the current policy continues a failed transcript, tokens charged) or 'mutate' (a span of a failure spliced into the best instruction)",
  },
  verifyTasks: {
    type: 'integer',
    default: 8,
    doc: 'held-out training tasks (never drawn for training) each candidate is played on once before it may join; charged as episodes',
  },
  buffer: { type: 'integer', default: 32, doc: 'failed rollouts kept in the replay buffer the proposer reads (the newest)' },
  minTrials: { type: 'integer', default: 8, doc: 'rollouts a member needs before it can be retired' },
  maxLength: { type: 'integer', default: 12, doc: 'characters an instruction may have; written ones are cut to it' },
} as const;

/** One instruction and what every rollout played under it earned. */
export interface InstructionStats {
  text: string;
  /** Rollouts played under it (training and verification). */
  rollouts: number;
  rewardSum: number;
  successes: number;
  /** Where it came from, and the step it joined (0: a seed). */
  origin: 'seed' | 'policy' | 'mutate';
  joined: number;
}

/** w_j: the mean reward of its rollouts; without any, the best seen mean (0 when none is seen). */
export function instructionWeights(population: readonly InstructionStats[]): number[] {
  const seen = population.filter((s) => s.rollouts > 0).map((s) => s.rewardSum / s.rollouts);
  const unseen = seen.length ? Math.max(...seen) : 0;
  return population.map((s) => (s.rollouts > 0 ? s.rewardSum / s.rollouts : unseen));
}

/** softmax(w / tau), computed from the largest weight so that a small tau cannot overflow. */
export function instructionProbabilities(weights: readonly number[], temperature: number): number[] {
  const top = Math.max(...weights);
  const e = weights.map((w) => Math.exp((w - top) / temperature));
  const total = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / total);
}

/**
 * Merges the population with verified candidates: while more than `size` remain, the entry of
 * lowest weight among those that may go (candidates, and members with at least `minTrials`
 * rollouts) goes; ties go to the newest. Returns the kept entries and the removed ones in order.
 */
export function mergePopulation(
  members: readonly InstructionStats[],
  candidates: readonly InstructionStats[],
  size: number,
  minTrials: number,
): { kept: InstructionStats[]; removed: InstructionStats[] } {
  const kept = [...members, ...candidates];
  const removed: InstructionStats[] = [];
  const isCandidate = new Set(candidates);
  while (kept.length > size) {
    const weights = instructionWeights(kept);
    let worst = -1;
    kept.forEach((s, k) => {
      if (!(isCandidate.has(s) || s.rollouts >= minTrials)) return;
      if (worst < 0 || (weights[k] as number) <= (weights[worst] as number)) worst = k;
    });
    if (worst < 0) break; // every member is protected: the population stays as it is
    removed.push(...kept.splice(worst, 1));
  }
  return { kept, removed };
}

/** A failed rollout kept for the proposer: its instruction and its transcript. */
interface Failure {
  instruction: string;
  text: string;
}

interface Counters {
  proposed: number;
  joined: number;
  retired: number;
  rejected: number;
  verificationEpisodes: number;
}
const zero = (): Counters => ({ proposed: 0, joined: 0, retired: 0, rejected: 0, verificationEpisodes: 0 });

interface InspoState {
  population: InstructionStats[];
  failures: Failure[];
  retired: string[];
  totals: Counters;
}

export function inspo(options: InspoOptions = {}): TaskSource {
  const resolved = resolveOptions<Required<InspoOptions>>('inspo', OPTIONS, options as Record<string, unknown>);
  for (const key of ['size', 'every', 'maxLength'] as const)
    if (!(Number.isInteger(resolved[key]) && resolved[key] >= 1))
      throw new UsageError(`inspo: option '${key}' must be an integer >= 1, got ${resolved[key]}`);
  for (const key of ['candidates', 'verifyTasks', 'buffer', 'minTrials'] as const)
    if (!(Number.isInteger(resolved[key]) && resolved[key] >= 0))
      throw new UsageError(`inspo: option '${key}' must be an integer >= 0, got ${resolved[key]}`);
  if (!(resolved.temperature > 0)) throw new UsageError(`inspo: option 'temperature' must be > 0, got ${resolved.temperature}`);
  if (!(Array.isArray(resolved.seeds) && resolved.seeds.length >= 1 && resolved.seeds.every((s) => typeof s === 'string')))
    throw new UsageError(`inspo: option 'seeds' must be a non-empty list of strings, got ${JSON.stringify(resolved.seeds)}`);
  if (resolved.seeds.length > resolved.size)
    throw new UsageError(`inspo: ${resolved.seeds.length} seeds exceed the population size ${resolved.size}`);
  return defineTaskSource({
    name: 'inspo',
    summary:
      'INSPO: a population of instructions co-evolving with the policy; drawn by softmax of their mean reward, new ones written from failures, verified on held-out tasks, the weakest retired',
    paper: { title: 'Agentic Policy Optimization via Instruction-Policy Co-Evolution', arxiv: '2512.01945', year: 2025 },
    unverified: [
      'adaptation: adapted. The paper’s optimiser is an LLM reflecting on failures in natural language; here the proposer is the policy itself (a small character model continuing a failed transcript) or a template mutation, so candidates are short strings in the environment’s alphabet, not reasoned strategies.',
      'N = 4, tau = 0.1, a round every 5 steps, 2 candidates, 8 verification rollouts, a buffer of 32 failures and 8 trials before retirement are ours: the paper’s values were not found (its code was not available to us).',
      'The weight w_j is the plain mean reward of every rollout played under I_j (training and verification); the paper’s exact weight update and pruning schedule were read only in a summary. A candidate joins when it outranks the lowest-weight member that may go (the merge rule is ours).',
    ],
    options: OPTIONS,
    resolved,
    math: 'p(I_j) = \\mathrm{softmax}(w/\\tau)_j,\\; w_j = \\tfrac{1}{n_j}\\sum_{i \\in I_j} r_i; retire \\arg\\min_j w_j while |\\mathcal{P}| > N',
    open: (tasks) => openInspo(tasks, resolved),
    configure: (next) => inspo({ ...resolved, ...next }),
  });
}

export function openInspo(tasks: readonly unknown[], o: Required<InspoOptions>): TaskStream {
  if (tasks.length === 0) throw new UsageError('inspo: the training split is empty');
  // The verification batch is held out of the training draw (the last tasks of the seeded split);
  // with too few tasks to spare, candidates are verified on training tasks.
  const held = o.verifyTasks > 0 && tasks.length > 2 * o.verifyTasks ? o.verifyTasks : 0;
  const training = tasks.slice(0, tasks.length - held);
  const verification = held > 0 ? tasks.slice(tasks.length - held) : tasks.slice(0, o.verifyTasks);
  let population: InstructionStats[] = [...new Set(o.seeds.map((s) => s.slice(0, o.maxLength)))].map((text) => ({
    text,
    rollouts: 0,
    rewardSum: 0,
    successes: 0,
    origin: 'seed',
    joined: 0,
  }));
  let failures: Failure[] = [];
  let retired = new Set<string>();
  let step = zero();
  let totals = zero();
  let lastStep = 0;
  const count = (key: keyof Counters, by = 1) => {
    step[key] += by;
    totals[key] += by;
  };
  const known = (text: string) => retired.has(text) || population.some((s) => s.text === text);

  const write = async (
    ctx: ProposeContext,
    failure: Failure,
  ): Promise<{ text: string; origin: 'policy' | 'mutate' } | undefined> => {
    if (o.proposer === 'policy') {
      const [text] = await ctx.generate(failure.text, { count: 1, maxTokens: o.maxLength });
      return text === undefined ? undefined : { text: text.trim().slice(0, o.maxLength), origin: 'policy' };
    }
    const weights = instructionWeights(population);
    const best = population[weights.indexOf(Math.max(...weights))]?.text ?? '';
    const length = ctx.rng.int(1, Math.min(4, failure.text.length));
    const from = ctx.rng.int(0, failure.text.length - length);
    const at = ctx.rng.int(0, best.length);
    const text = `${best.slice(0, at)}${failure.text.slice(from, from + length)}${best.slice(at)}`;
    return { text: text.trim().slice(0, o.maxLength), origin: 'mutate' };
  };

  return {
    draw(n: number, rng: Rng) {
      return Array.from({ length: n }, () => training[rng.int(0, training.length - 1)]);
    },
    instructions(drawn, rng) {
      const p = instructionProbabilities(instructionWeights(population), o.temperature);
      return drawn.map(() => {
        let u = rng.next();
        for (let j = 0; j < p.length; j++) {
          u -= p[j] as number;
          if (u < 0) return population[j]?.text;
        }
        return population[population.length - 1]?.text;
      });
    },
    observe(feedback: readonly TaskFeedback[], at: number) {
      step = zero();
      lastStep = at;
      for (const f of feedback) {
        const instruction = f.instruction ?? '';
        const member = population.find((s) => s.text === instruction);
        if (member) {
          member.rollouts += f.rewards.length;
          member.rewardSum += f.rewards.reduce((a, b) => a + b, 0);
          member.successes += f.successes.filter(Boolean).length;
        }
        f.successes.forEach((ok, i) => {
          const turns = f.turns?.[i];
          if (ok || !turns?.length) return;
          failures.push({ instruction, text: turns.map((t) => `${t.observation} ${t.action}`).join(' ') });
        });
      }
      if (failures.length > o.buffer) failures = failures.slice(failures.length - o.buffer);
    },
    async propose(ctx: ProposeContext) {
      if (lastStep % o.every !== 0 || o.candidates === 0 || failures.length === 0) return;
      const verified: InstructionStats[] = [];
      for (let k = 0; k < o.candidates; k++) {
        const failure = failures[ctx.rng.int(0, failures.length - 1)] as Failure;
        const written = await write(ctx, failure);
        if (!written) break; // the budget affords no more writing
        count('proposed');
        if (known(written.text) || verified.some((c) => c.text === written.text)) {
          count('rejected');
          continue;
        }
        const played = ctx.play ? await ctx.play(verification, { instruction: written.text }) : [];
        if (played.length === 0) break; // no verification affordable (or none possible): nothing joins unverified
        const rewards = played.flatMap((p) => p.rewards);
        count('verificationEpisodes', rewards.length);
        verified.push({
          text: written.text,
          rollouts: rewards.length,
          rewardSum: rewards.reduce((a, b) => a + b, 0),
          successes: played.flatMap((p) => p.successes).filter(Boolean).length,
          origin: written.origin,
          joined: lastStep,
        });
      }
      const { kept, removed } = mergePopulation(population, verified, o.size, o.minTrials);
      for (const gone of removed) {
        retired.add(gone.text);
        count(verified.includes(gone) ? 'rejected' : 'retired');
      }
      count('joined', kept.filter((s) => verified.includes(s)).length);
      population = kept;
    },
    save(): InspoState {
      return {
        population: population.map((s) => ({ ...s })),
        failures: [...failures],
        retired: [...retired],
        totals: { ...totals },
      };
    },
    load(state) {
      const s = state as InspoState;
      population = s.population.map((p) => ({ ...p }));
      failures = [...s.failures];
      retired = new Set(s.retired);
      totals = { ...s.totals };
      step = zero();
    },
    metrics() {
      const weights = instructionWeights(population);
      const p = instructionProbabilities(weights, o.temperature);
      return {
        populationSize: population.length,
        instructionWeightBest: Math.max(...weights),
        instructionWeightWorst: Math.min(...weights),
        instructionWeightDrawn: p.reduce((a, pj, j) => a + pj * (weights[j] as number), 0),
        instructionEntropy: -p.reduce((a, pj) => a + (pj > 0 ? pj * Math.log(pj) : 0), 0),
        writtenInPopulation: population.filter((s) => s.origin !== 'seed').length,
        failuresBuffered: failures.length,
        ...step,
        joinedTotal: totals.joined,
        retiredTotal: totals.retired,
      };
    },
  };
}

/** The population of a stream opened by `inspo` (its saved state), for reports and tests. */
export function inspoPopulation(stream: TaskStream): InstructionStats[] {
  return ((stream.save?.() as InspoState | undefined)?.population ?? []).map((s) => ({ ...s }));
}
