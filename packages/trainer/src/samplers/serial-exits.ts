/**
 * S-GRPO's serial group (Dai, Yang and Si 2025, "S-GRPO: Early Exit via Reinforcement Learning
 * in Reasoning Models", arXiv 2505.07686, section 3): one reasoning path per task, then early
 * exits cut from it. An exit keeps the path's first j tokens (its thoughts up to position j),
 * appends an answer-inducing text and lets the policy answer. The group the estimator sees is
 * the exits, earliest first, and the whole path last; each rollout's `meta.serialExit` is j.
 */
import {
  defineSampler,
  type Environment,
  type Rollout,
  resolveOptions,
  type Sampler,
  type Turn,
  UsageError,
} from '@policy-lab/core';
import * as tf from '@tensorflow/tfjs-core';
import { finish, type RolloutOptions, type RolloutRequest, type Running, runEpisodes, startRunning } from '../loop/rollouts.js';
import type { SampledGroups } from '../loop/samplers.js';
import type { PolicyModel } from '../model/policy.js';
import { CharTokenizer } from '../tokenizer/char-tokenizer.js';
import type { PolicyTokenizer } from '../tokenizer/policy-tokenizer.js';

/**
 * The paper's text is "Time is limited, stop thinking and start answering.\n</think>\n\n"; the
 * default here is GSM8K's answer delimiter, which the arithmetic environment's answers follow.
 */
const DEFAULT_EXIT = ' #### ';

export function serialExits(options: { exitText?: string } = {}): Sampler {
  const OPTIONS = {
    exitText: {
      type: 'string',
      default: DEFAULT_EXIT,
      doc: "text inserted at each exit before the policy answers; its trimmed form marks where a path's thoughts end",
    },
  } as const;
  const resolved = resolveOptions<{ exitText: string }>('serial-exits', OPTIONS, options);
  if (resolved.exitText.trim() === '')
    throw new UsageError(`serial-exits: exitText must contain a visible marker, got '${resolved.exitText}'`);
  return defineSampler({
    name: 'serial-exits',
    summary:
      "S-GRPO's serial group: one path per task, then early exits (the path's first j tokens, an answer-inducing text, a sampled answer), earliest first",
    paper: { title: 'S-GRPO: Early Exit via Reinforcement Learning in Reasoning Models', arxiv: '2505.07686', year: 2025 },
    options: OPTIONS,
    resolved,
    strategy: 'serial',
    exitText: resolved.exitText,
    behaviour: 'proposal',
    math: '$O_j = (T_{1..P_j}, \\text{exit}, C_j)$, $P_1 < \\dots < P_{G-1}$ uniform without replacement among the thought positions of $O_0$; group $(O_1, \\dots, O_{G-1}, O_0)$',
    unverified: [
      "The paper's exit text is written for models with a </think> tag; here it is an option, by default the answer delimiter ' #### ' of the arithmetic environment.",
      "The inserted text is part of each exit's action (trained with the exit's advantage), recorded with the policy's teacher-forced log-probabilities at temperature 1; whether the paper's loss covers those tokens is not confirmed.",
      "Exit positions are drawn uniformly without replacement among 1..L-1 (L: the path's tokens before its own marker); the paper's exact position rule is not confirmed.",
    ],
    configure: (next) => serialExits({ ...resolved, ...next }),
  });
}

/** Token index where `marker` starts in `tokens`, or -1. */
function find(tokens: readonly number[], marker: readonly number[]): number {
  outer: for (let i = 0; i + marker.length <= tokens.length; i++) {
    for (let k = 0; k < marker.length; k++) if (tokens[i + k] !== marker[k]) continue outer;
    return i;
  }
  return -1;
}

/** Why an environment cannot host serial groups, or undefined when it can. */
function unfit(env: Environment, tokenizer: PolicyTokenizer, exitText: string, task: unknown): string | undefined {
  if (env.maxTurns > 1)
    return `serial-exits: environment '${env.name}' has episodes of ${env.maxTurns} turns; serial groups need a single-turn environment whose answer follows a marker (arithmetic)`;
  if (!tokenizer.has(exitText))
    return `serial-exits: exitText '${exitText}' has characters outside environment '${env.name}''s alphabet`;
  const demonstration = env.demonstrate?.(task)?.join('');
  if (demonstration !== undefined && !demonstration.includes(exitText.trim()))
    return `serial-exits: environment '${env.name}''s answers do not follow the marker '${exitText.trim()}' (its expert writes '${demonstration}'); serial groups need an environment whose answer follows a marker (arithmetic), or --set samplerOptions.exitText=<its marker>`;
  return undefined;
}

/**
 * Why a run cannot draw serial groups on this environment, decided before it starts (a
 * comparison or leaderboard skips the pair instead of failing mid-run): the tokenizer is the
 * environment's alphabet, the task one training task.
 */
export function serialUnfit(env: Environment, exitText = DEFAULT_EXIT): string | undefined {
  const tokenizer = CharTokenizer.fromAlphabet(env.alphabet?.() ?? '');
  const task = env.maxTurns > 1 ? undefined : env.tasks('train', { seed: 0, count: 1 })[0];
  return unfit(env, tokenizer, exitText, task);
}

/**
 * Exit positions of a path: up to `count` distinct cut points among 1..L-1 (L: the path's
 * tokens before its own marker, or before its stop token), each leaving room for the exit text
 * and at least one answer token.
 */
export function exitPositions(
  pathTokens: readonly number[],
  marker: readonly number[],
  exitLength: number,
  maxNewTokens: number,
  count: number,
  draw: (from: number, to: number) => number,
  eos: number,
): number[] {
  const body = pathTokens.filter((t) => t !== eos);
  const at = find(body, marker);
  const thoughts = at >= 0 ? at : body.length;
  const last = Math.min(thoughts - 1, maxNewTokens - exitLength - 1);
  const pool = Array.from({ length: Math.max(0, last) }, (_, i) => i + 1);
  const chosen: number[] = [];
  while (chosen.length < count && pool.length > 0) chosen.push(pool.splice(draw(0, pool.length - 1), 1)[0] as number);
  return chosen.sort((a, b) => a - b);
}

/** log p(exit tokens | prompt, path prefix) under the policy at temperature 1, one row per exit. */
async function exitLogprobs(
  policy: PolicyModel,
  rows: readonly { prefix: readonly number[]; exit: readonly number[] }[],
): Promise<number[][]> {
  if (rows.length === 0) return [];
  const sequences = rows.map((r) => [...r.prefix, ...r.exit]);
  const width = Math.max(...sequences.map((s) => s.length)) - 1;
  const pad = (s: number[]) => [...s, ...new Array(width - s.length).fill(0)];
  const inputs = tf.tensor2d(
    sequences.map((s) => pad(s.slice(0, -1))),
    [rows.length, width],
    'int32',
  );
  const targets = tf.tensor2d(
    sequences.map((s) => pad(s.slice(1))),
    [rows.length, width],
    'int32',
  );
  const scored = policy.score(inputs, targets);
  const all = (await scored.logprobs.array()) as number[][];
  tf.dispose([inputs, targets, scored.logprobs, scored.entropy, scored.values].filter((t) => t !== undefined));
  return rows.map((r, i) => (all[i] as number[]).slice(r.prefix.length - 1, r.prefix.length - 1 + r.exit.length));
}

/**
 * Serial groups: every task's path is sampled first, then each path's exits are decoded
 * together (the path's first j tokens and the exit text forced, the answer sampled). Every
 * exit is a drawn rollout, charged like any other.
 */
export async function serialRollouts(
  policy: PolicyModel,
  tokenizer: PolicyTokenizer,
  env: Environment,
  requests: readonly RolloutRequest[],
  options: RolloutOptions,
): Promise<SampledGroups> {
  const exitText = options.sampler?.exitText ?? DEFAULT_EXIT;
  const problem = requests[0] ? unfit(env, tokenizer, exitText, requests[0].task) : undefined;
  if (problem) throw new UsageError(problem);
  const exitTokens = tokenizer.encode(exitText);
  const marker = tokenizer.encode(exitText.trim());
  const paths = requests.map((request) => startRunning(env, request, 0, options.rng, false, tokenizer));
  await runEpisodes(policy, tokenizer, env, paths, options, '');
  const plans = paths.map((path) => {
    const turn = path.turns[0] as Turn;
    const rng = options.rng.split(`serial/${path.request.groupId}`);
    const positions = exitPositions(
      turn.actionTokens,
      marker,
      exitTokens.length,
      options.maxNewTokens,
      path.request.count - 1,
      (a, b) => rng.int(a, b),
      tokenizer.specials.eos,
    );
    return { path, turn, positions };
  });
  const cuts = plans.flatMap(({ path, turn, positions }) =>
    positions.map((j) => ({ path, turn, j, prefix: [...turn.promptTokens, ...turn.actionTokens.slice(0, j)] })),
  );
  const forcedLogprobs = await exitLogprobs(
    policy,
    cuts.map((c) => ({ prefix: c.prefix, exit: exitTokens })),
  );
  const exits: Running[] = cuts.map((c, k) => ({
    request: c.path.request,
    index: 0,
    episode: env.start(c.path.request.task, options.rng.split(c.path.envKey)),
    history: [tokenizer.specials.bos],
    turns: [],
    done: false,
    forced: {
      tokens: [...c.turn.actionTokens.slice(0, c.j), ...exitTokens],
      logprobs: [...c.turn.logprobs.slice(0, c.j), ...(forcedLogprobs[k] as number[])],
    },
    envKey: c.path.envKey,
  }));
  await runEpisodes(policy, tokenizer, env, exits, options, 'exit/');
  let next = 0;
  const groups = plans.map(({ path, turn, positions }) => {
    const own = exits.slice(next, next + positions.length);
    next += positions.length;
    own.forEach((r, i) => {
      r.index = i;
    });
    path.index = own.length;
    const tag = (r: Running, serialExit: number): Rollout => {
      const rollout = finish(env, r);
      return { ...rollout, meta: { ...rollout.meta, serialExit } };
    };
    return [...own.map((r, i) => tag(r, positions[i] as number)), tag(path, turn.actionTokens.length)];
  });
  return { groups, drawn: groups.flat() };
}
