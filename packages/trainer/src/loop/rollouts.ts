/**
 * The rollout engine: multi-turn episodes against any Environment, decoded together.
 * Context rule: [bos] obs_1 [sep] action_1 [eos] obs_2 [sep] ... obs_t [sep]; when that is
 * longer than contextLength - maxNewTokens, the oldest tokens are dropped (the bos stays).
 * A chat model's tokenizer (`tokenizer.chat`) replaces that rule by its template's conversation.
 *
 * How each action is decoded is the sampler's choice (samplers.ts): token-by-token sampling
 * (optionally through a logits hook), beam search per distinct context, or a tree of restarts;
 * this module runs episodes to their end from any starting point (the task, or a node of an
 * earlier rollout: a snapshot and a forced action prefix).
 */
import type { Environment, Episode, LogitsRequest, RewardModelHandle, Rng, Rollout, Sampler, Turn } from '@policy-lab/core';
import type { GenerateOptions, PolicyModel } from '../model/policy.js';
import type { PolicyTokenizer } from '../tokenizer/policy-tokenizer.js';

export interface RolloutRequest {
  task: unknown;
  groupId: string;
  count: number;
  /** Shown ahead of the first observation (a task stream's instruction). */
  instruction?: string;
}

export interface RolloutOptions {
  maxNewTokens: number;
  temperature: number;
  greedy?: boolean;
  rng: Rng;
  /** How actions are decoded; plain sampling when absent. */
  sampler?: Sampler;
  /** The run's reward models, which a logits hook may query (a value model re-weighting tokens). */
  rewardModels?: Readonly<Record<string, RewardModelHandle>>;
}

/** One episode being run: where it started, what it has done so far. */
export interface Running {
  request: RolloutRequest;
  /** Its index within the group (the rollout id's suffix). */
  index: number;
  episode: Episode;
  history: number[];
  turns: Turn[];
  done: boolean;
  /** Tokens the next action starts with (a tree branch's restart inside an action), with their recorded log-probs. */
  forced?: { tokens: number[]; logprobs: number[] };
  /** Per turn: the episode's snapshot before that turn's action (kept for tree search). */
  snapshots?: unknown[];
  /** The rng key its episode was started with (a branch restarts its parent's episode with the same key). */
  envKey: string;
}

/** The context before an action: `history` (the tokenizer's bos at the start), the observation, sep; the oldest tokens dropped past `limit` (the bos stays). */
export function promptFor(
  history: readonly number[],
  observation: number[],
  limit: number,
  tokenizer: PolicyTokenizer,
): number[] {
  const { bos, sep } = tokenizer.specials;
  const full = [...history, ...observation, sep];
  if (full.length <= limit) return full;
  return [bos, ...full.slice(full.length - (limit - 1))];
}

/**
 * The context before an action: a chat model's conversation (the earlier `turns`, then the
 * observation) when the tokenizer has a chat template, else promptFor's plain rule on `history`.
 */
export function turnPrompt(
  history: readonly number[],
  turns: readonly { observation: string; action: string }[],
  observation: string,
  limit: number,
  tokenizer: PolicyTokenizer,
): number[] {
  if (tokenizer.chat) return tokenizer.chat.prompt(turns, observation, limit);
  return promptFor(history, tokenizer.encode(observation), limit, tokenizer);
}

/** The context of a single-turn prompt (a task's text, a pair's prompt): turnPrompt from the start. */
export function firstPrompt(text: string, limit: number, tokenizer: PolicyTokenizer): number[] {
  return turnPrompt([tokenizer.specials.bos], [], text, limit, tokenizer);
}

/** The ids that end an action: eos, and a chat model's other stops. */
export function actionStops(tokenizer: PolicyTokenizer): number[] {
  return [tokenizer.specials.eos, ...(tokenizer.chat?.stops ?? [])];
}

/** A fresh episode of a request's task. */
export function startRunning(
  env: Environment,
  request: RolloutRequest,
  index: number,
  rng: Rng,
  keep: boolean,
  tokenizer: PolicyTokenizer,
): Running {
  const envKey = `env/${request.groupId}/${index}`;
  return {
    request,
    index,
    episode: env.start(request.task, rng.split(envKey)),
    history: [tokenizer.specials.bos],
    turns: [],
    done: false,
    envKey,
    ...(keep ? { snapshots: [] } : {}),
  };
}

/** Runs every requested episode to the end; returns rollouts grouped as requested. */
export async function collectRollouts(
  policy: PolicyModel,
  tokenizer: PolicyTokenizer,
  env: Environment,
  requests: readonly RolloutRequest[],
  options: RolloutOptions,
): Promise<Rollout[][]> {
  const running = requests.map((request) =>
    Array.from({ length: request.count }, (_, i) => startRunning(env, request, i, options.rng, false, tokenizer)),
  );
  await runEpisodes(policy, tokenizer, env, running.flat(), options, '');
  return running.map((group) => group.map((r) => finish(env, r)));
}

/**
 * Runs the given episodes to their end, a turn at a time, every active one decoded together.
 * `tag` keeps the decoding randomness of different calls in one step apart.
 */
export async function runEpisodes(
  policy: PolicyModel,
  tokenizer: PolicyTokenizer,
  env: Environment,
  items: readonly Running[],
  options: RolloutOptions,
  tag: string,
): Promise<void> {
  const limit = policy.config.contextLength - options.maxNewTokens;
  for (let turn = 0; turn < env.maxTurns; turn++) {
    const active = items.filter((r) => !r.done);
    if (active.length === 0) break;
    const observations = active.map((r) => shown(r));
    const prompts = active.map((r, i) => turnPrompt(r.history, r.turns, observations[i] as string, limit, tokenizer));
    for (const r of active) r.snapshots?.push(r.episode.snapshot?.());
    const hook = logitsHook(options, tokenizer, prompts);
    const actions = await decodeActions(policy, active, prompts, options, `${tag}turn${turn}`, hook, actionStops(tokenizer));
    active.forEach((r, i) => {
      const { tokens: actionTokens, logprobs, truncated } = actions[i] as DecodedAction;
      const text = tokenizer.decode(actionTokens.filter((t) => t !== tokenizer.specials.eos));
      const result = r.episode.step(text);
      r.turns.push({
        observation: observations[i] as string,
        action: text,
        promptTokens: prompts[i] as number[],
        actionTokens,
        logprobs,
        reward: result.reward,
        valid: result.valid,
        ...(result.stateKey !== undefined ? { stateKey: result.stateKey } : {}),
        truncated,
      });
      r.history = [...(prompts[i] as number[]), ...actionTokens];
      delete r.forced;
      if (result.done || r.turns.length >= env.maxTurns) r.done = true;
    });
  }
}

interface DecodedAction {
  tokens: number[];
  logprobs: number[];
  truncated: boolean;
}

/**
 * The sampler's logits hook for one turn, its requests completed with the rows as text (this
 * turn's prompt, the action so far) and the run's reward models; undefined without a hook.
 */
function logitsHook(
  options: RolloutOptions,
  tokenizer: PolicyTokenizer,
  prompts: readonly number[][],
): GenerateOptions['logits'] | undefined {
  const sampler = options.sampler;
  if (!sampler?.logits || options.greedy) return undefined;
  let contexts: string[] | undefined;
  const tokenText = (id: number) => tokenizer.decode([id]);
  return (request: LogitsRequest) =>
    (sampler.logits as NonNullable<Sampler['logits']>).call(sampler, {
      ...request,
      // Decoded only when the hook reads them (top-k and top-p never do): this runs at every position.
      // A row's context is its prompt, then (a forced prefix and) the tokens drawn so far.
      get texts() {
        contexts ??= prompts.map((p) => tokenizer.decode(p));
        const decoded = contexts;
        return request.contexts.map((ids, r) => ({
          context: decoded[r] as string,
          text: tokenizer.decode(ids.slice((prompts[r] as number[]).length)),
        }));
      },
      tokenText,
      stopToken: tokenizer.specials.eos,
      ...(options.rewardModels ? { rewardModels: options.rewardModels } : {}),
    });
}

/** One action per active episode, decoded the sampler's way. */
async function decodeActions(
  policy: PolicyModel,
  active: readonly Running[],
  prompts: readonly number[][],
  options: RolloutOptions,
  key: string,
  logits: GenerateOptions['logits'] | undefined,
  stops: readonly number[],
): Promise<DecodedAction[]> {
  if (options.sampler?.strategy === 'beam' && !options.greedy) return beamActions(policy, active, prompts, options, stops);
  const forcedLength = (r: Running) => r.forced?.tokens.length ?? 0;
  const shortest = Math.min(...active.map(forcedLength));
  const generation = await policy.generate(
    active.map((r, i) => [...(prompts[i] as number[]), ...(r.forced?.tokens ?? [])]),
    {
      maxNewTokens: options.maxNewTokens - shortest,
      temperature: options.temperature,
      stopTokens: [...stops],
      greedy: options.greedy ?? false,
      rng: options.rng.split(`decode/${key}`),
      ...(logits && options.sampler ? { logits, behaviour: options.sampler.behaviour } : {}),
    },
  );
  return active.map((r, i) => {
    // A row with a longer forced prefix has less room: its continuation is cut at the action's limit.
    const room = options.maxNewTokens - forcedLength(r);
    const tokens = (generation.tokens[i] as number[]).slice(0, room);
    const stopped = tokens.some((t) => stops.includes(t));
    return {
      tokens: [...(r.forced?.tokens ?? []), ...tokens],
      logprobs: [...(r.forced?.logprobs ?? []), ...(generation.logprobs[i] as number[]).slice(0, room)],
      truncated: !stopped,
    };
  });
}

/**
 * Beam search: the episodes of a group that read the same context get that context's best
 * distinct actions, one each, best first. A context with fewer hypotheses than episodes
 * (a tiny vocabulary) leaves the rest to the last hypothesis; the group's duplicates are
 * removed afterwards (`distinct`).
 */
async function beamActions(
  policy: PolicyModel,
  active: readonly Running[],
  prompts: readonly number[][],
  options: RolloutOptions,
  stops: readonly number[],
): Promise<DecodedAction[]> {
  const clusters = new Map<string, number[]>();
  active.forEach((r, i) => {
    const key = `${r.request.groupId}\u0000${(prompts[i] as number[]).join(',')}`;
    clusters.set(key, [...(clusters.get(key) ?? []), i]);
  });
  const out: DecodedAction[] = new Array(active.length);
  for (const members of clusters.values()) {
    const count = members.length;
    const width = Math.max(options.sampler?.width ?? 1, count);
    const found = await policy.beamSearch(prompts[members[0] as number] as number[], {
      width,
      count,
      maxNewTokens: options.maxNewTokens,
      stopTokens: [...stops],
    });
    members.forEach((member, k) => {
      const h = Math.min(k, found.tokens.length - 1);
      out[member] = {
        tokens: found.tokens[h] as number[],
        logprobs: found.logprobs[h] as number[],
        truncated: found.truncated[h] as boolean,
      };
    });
  }
  return out;
}

/** What the policy reads before its next action: the observation, after the instruction on the first turn. */
function shown(r: Running): string {
  const observation = r.episode.observation();
  return r.turns.length === 0 && r.request.instruction ? `${r.request.instruction} ${observation}` : observation;
}

/** The finished rollout of an episode. */
export function finish(env: Environment, r: Running): Rollout {
  const outcome = r.episode.outcome();
  return {
    id: `${r.request.groupId}/${r.index}`,
    groupId: r.request.groupId,
    taskId: env.taskId(r.request.task),
    turns: r.turns,
    reward: outcome.reward,
    success: outcome.success,
    ...(r.request.instruction !== undefined ? { meta: { instruction: r.request.instruction } } : {}),
  };
}

/** The group without rollouts whose actions repeat an earlier one's, token for token. */
export function distinct(group: readonly Rollout[]): Rollout[] {
  const seen = new Set<string>();
  return group.filter((r) => {
    const key = r.turns.map((t) => t.actionTokens.join(',')).join('|');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export function generatedTokens(rollouts: readonly Rollout[]): number {
  let total = 0;
  for (const r of rollouts) for (const t of r.turns) total += t.actionTokens.length;
  return total;
}
