/**
 * Q-values of the uniform random policy regressed from a group's rollouts (ROVER, He et al.
 * 2025, "Random Policy Valuation is Enough for LLM Reasoning with Verifiable Rewards", arXiv
 * 2509.24981, the Q target of its Algorithm 1): every action token a_t taken in state s_t (the
 * prompt and the tokens before it) is a sample of Q(s_t, a_t) with target
 *
 *   Q^(s_t, a_t) = r~ + (1/|V|) sum_a Q(s_{t+1}, a)      (0 after the last token)
 *
 * r~ the rollout's centred reward on every token. A table (one entry per visited state-action)
 * fitted by least squares takes each entry to the mean of its samples' targets; the states form a
 * tree (a state's key is its whole token history), so fitting the deepest entries first solves the
 * regression exactly in one pass. Actions no rollout took keep Q = 0, ROVER's intrinsic
 * Q = rho (log pi_theta - log pi_old) before the update.
 */

/** One rollout as a token path: the state before each action token, the token, and the centred reward. */
export interface QPath {
  /** Per action token: its state's key (the whole token history before it) and the token. */
  steps: readonly { state: string; action: number }[];
  reward: number;
}

export interface UniformQ {
  /** The fitted table: state -> action -> Q. */
  q: Map<string, Map<number, number>>;
  /** Per path, per step: the regression target r~ + mean_a Q(s_{t+1}, a) of that sample. */
  targets: number[][];
  /** Per path, per step: the bootstrapped part mean_a Q(s_{t+1}, a). */
  bootstraps: number[][];
}

/** mean over the |V| actions of Q(s, .), unvisited actions counting 0. */
function meanOver(row: Map<number, number> | undefined, actions: number): number {
  if (!row) return 0;
  let sum = 0;
  for (const v of row.values()) sum += v;
  return sum / actions;
}

/**
 * Regresses the uniform policy's Q on the paths' samples (exact least squares for a table).
 * `actions` is |V|, the size of the action vocabulary the mean runs over.
 */
export function uniformQ(paths: readonly QPath[], actions: number): UniformQ {
  if (!(actions >= 1)) throw new RangeError(`rover: the action vocabulary must have at least 1 token, got ${actions}`);
  // A state's depth is fixed by its key (the whole history), so deeper entries are fitted first.
  const entries = new Map<string, { state: string; action: number; depth: number; samples: [number, number][] }>();
  paths.forEach((path, p) =>
    path.steps.forEach((step, t) => {
      const key = `${step.state}\u0000${step.action}`;
      const entry = entries.get(key) ?? { state: step.state, action: step.action, depth: t, samples: [] };
      entry.samples.push([p, t]);
      entries.set(key, entry);
    }),
  );
  const q = new Map<string, Map<number, number>>();
  const targets = paths.map((path) => new Array<number>(path.steps.length).fill(0));
  const bootstraps = paths.map((path) => new Array<number>(path.steps.length).fill(0));
  const ordered = [...entries.values()].sort((a, b) => b.depth - a.depth);
  for (const entry of ordered) {
    let sum = 0;
    for (const [p, t] of entry.samples) {
      const path = paths[p] as QPath;
      const next = path.steps[t + 1];
      const bootstrap = next ? meanOver(q.get(next.state), actions) : 0;
      (bootstraps[p] as number[])[t] = bootstrap;
      const target = path.reward + bootstrap;
      (targets[p] as number[])[t] = target;
      sum += target;
    }
    const row = q.get(entry.state) ?? new Map<number, number>();
    row.set(entry.action, sum / entry.samples.length);
    q.set(entry.state, row);
  }
  return { q, targets, bootstraps };
}

/**
 * Sampling by a softmax over Q-values at temperature tau: ROVER's policy,
 * pi(a | s) = exp(Q(s, a) / tau) / sum_b exp(Q(s, b) / tau).
 */
export function qSoftmax(values: readonly number[], temperature: number): number[] {
  if (!(temperature > 0)) throw new RangeError(`rover: the softmax temperature must be > 0, got ${temperature}`);
  const top = Math.max(...values);
  const weights = values.map((v) => Math.exp((v - top) / temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  return weights.map((w) => w / total);
}
