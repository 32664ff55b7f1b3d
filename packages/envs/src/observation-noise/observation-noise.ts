/**
 * Observation wrappers for any environment: the smoothing noise of Policy Smoothing (Kumar et
 * al., ICLR 2022, arXiv 2106.11420) moved from Gaussian noise on pixels to random character
 * substitutions in text, and a bounded perturbation (at most `radius` substituted characters per
 * episode) to test a certificate against. Only what the policy reads changes: tasks, rewards,
 * success and the expert's actions are the wrapped environment's.
 */
import { type Environment, type Episode, type Rng, UsageError } from '@policy-lab/core';

/** The substitution alphabet when the environment declares none: printable ASCII. */
const PRINTABLE = Array.from({ length: 95 }, (_, k) => String.fromCharCode(32 + k)).join('');

function symbols(env: Environment): string[] {
  return Array.from(new Set(Array.from(env.alphabet?.() ?? PRINTABLE)));
}

/**
 * Wraps an episode so that each observation is transformed once per turn: `observation()` may be
 * called any number of times between steps and returns the same text.
 */
function wrapEpisode(episode: Episode, transform: (text: string) => string): Episode {
  let cached: { raw: string; shown: string } | undefined;
  return {
    observation() {
      if (cached === undefined) {
        const raw = episode.observation();
        cached = { raw, shown: transform(raw) };
      }
      return cached.shown;
    },
    step(action) {
      cached = undefined;
      return episode.step(action);
    },
    outcome: () => episode.outcome(),
  };
}

function wrap<Task>(
  env: Environment<Task>,
  name: string,
  summary: string,
  transformFor: (rng: Rng, task: Task) => ((text: string) => string) | undefined,
  rewrap: (next: Environment<Task>) => Environment<Task>,
  stream: string,
): Environment<Task> {
  const { configure } = env;
  return {
    ...env,
    name,
    summary,
    // An option of the wrapped environment rebuilds it and wraps it again.
    ...(configure ? { configure: (next: Readonly<Record<string, unknown>>) => rewrap(configure(next)) } : {}),
    start(task, rng) {
      // Each wrapper draws from a stream of its own, so the wrapped environment draws exactly what
      // it drew unwrapped, and a perturbation inside smoothing leaves the smoothing noise unchanged.
      const episode = env.start(task, rng);
      const transform = transformFor(rng.split(stream), task);
      return transform ? wrapEpisode(episode, transform) : episode;
    },
  };
}

export interface SmoothingOptions {
  /** Probability that a character is replaced by a uniform draw from the alphabet (it may draw itself). */
  rate: number;
  /** The wrapped environment's name (default `smoothed-<name>`). */
  name?: string;
}

/**
 * Smoothing noise: every character of every observation is, independently with probability
 * `rate`, replaced by a uniformly drawn symbol of the environment's alphabet. Rate 0 is the
 * identity. Under this noise two observations that differ in one character give noisy
 * observations at total variation distance 1 - rate (docs/robustness-certificates.md).
 */
export function smoothObservations<Task>(env: Environment<Task>, options: SmoothingOptions): Environment<Task> {
  const { rate } = options;
  if (!(rate >= 0 && rate <= 1)) throw new UsageError(`observation smoothing: rate must be in [0, 1], got ${rate}`);
  const alphabet = symbols(env);
  return wrap(
    env,
    options.name ?? `smoothed-${env.name}`,
    `${env.name} with each observed character replaced by a random symbol with probability ${rate} (policy smoothing)`,
    (rng) => (text) => {
      if (rate === 0) return text;
      let out = '';
      for (const ch of text) out += rng.next() < rate ? rng.pick(alphabet) : ch;
      return out;
    },
    (next) => smoothObservations(next, options),
    'observation-noise',
  );
}

export interface PerturbationOptions {
  /** Characters substituted per episode, at most. */
  radius: number;
  /** The wrapped environment's name (default `perturbed-<name>`). */
  name?: string;
  /**
   * 'test': only episodes of test-split tasks are perturbed, so a run trains exactly as it would
   * unperturbed and only its evaluation is attacked (paired runs, `bench certify --attack`).
   */
  split?: 'all' | 'test';
}

/**
 * A bounded perturbation: at most `radius` characters per episode are substituted by another
 * symbol of the alphabet, at random positions, all spent on the first observations that have
 * characters left to change. A random attacker, not a worst case: the certificate bounds every
 * attacker within the radius, this one shows how much a plain one costs. Radius 0 is the identity.
 */
export function perturbObservations<Task>(env: Environment<Task>, options: PerturbationOptions): Environment<Task> {
  const { radius } = options;
  if (!Number.isInteger(radius) || radius < 0)
    throw new UsageError(`observation perturbation: radius must be an integer >= 0, got ${radius}`);
  const alphabet = symbols(env);
  const testIds = new Set<string>();
  const wrapped = wrap(
    env,
    options.name ?? `perturbed-${env.name}`,
    `${env.name} with up to ${radius} observed characters per episode substituted`,
    (rng, task) => {
      if (options.split === 'test' && !testIds.has(env.taskId(task))) return undefined;
      let left = radius;
      return (text) => {
        const chars = Array.from(text);
        const positions = rng.shuffle(chars.map((_, k) => k)).slice(0, Math.min(left, chars.length));
        for (const k of positions) {
          const others = alphabet.filter((s) => s !== chars[k]);
          if (others.length) chars[k] = rng.pick(others);
        }
        left -= positions.length;
        return chars.join('');
      };
    },
    (next) => perturbObservations(next, options),
    'observation-perturbation',
  );
  if (options.split !== 'test') return wrapped;
  // Splits are disjoint by task id: the ids of every test task this environment handed out.
  return {
    ...wrapped,
    tasks(split, taskOptions) {
      const tasks = env.tasks(split, taskOptions);
      if (split === 'test') for (const task of tasks) testIds.add(env.taskId(task));
      return tasks;
    },
  };
}
