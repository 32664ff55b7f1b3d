/**
 * MCTS* over the steps of one action (Zhang et al., "ReST-MCTS*: LLM Self-Training via Process
 * Reward Guided Tree Search", arXiv 2406.03816; the search loop follows the released code,
 * THUDM/ReST-MCTS MCTS/mcts.py). A node is an action prefix that ends at a step boundary (a
 * delimiter, the stop token, or the step's token limit); its value V comes from the run's value
 * model of partial actions. Each iteration selects a leaf by UCT, expands it with `branch`
 * sampled next steps (each valued by the value model), rolls forward greedily from the best new
 * child (its value mixed with the best value met, weight alpha), and backpropagates the
 * visit-weighted mean of the children's values. Finished actions are the traces: the
 * environment scores each (the oracle), the value targets of the whole tree are inferred from
 * them (`restMctsTargets`), and the group is the `count` traces of highest value.
 *
 * Randomness: each tree's expansions draw from one stream (`mcts/<group>`), its roll-forwards
 * and completions from others, so with one next step per expansion the trace is the policy's
 * plain sample of that stream, token for token (a property test).
 */
import type { BudgetConsumption, Environment, MctsSettings, Rollout } from '@policy-lab/core';
import { UsageError } from '@policy-lab/core';
import type { PolicyModel } from '../model/policy.js';
import type { PolicyTokenizer } from '../tokenizer/policy-tokenizer.js';
import { firstPrompt, type RolloutOptions, type RolloutRequest } from './rollouts.js';

export interface MctsNode {
  /** Index of the parent node (-1: the root, the empty action). */
  parent: number;
  /** This step's tokens and their recorded log-probabilities. */
  tokens: number[];
  logprobs: number[];
  /** The action so far (the ancestors' steps and this one). */
  prefix: number[];
  prefixLogprobs: number[];
  children: number[];
  /** The value model's prediction when the node was made (the search then moves `value`). */
  prior: number;
  value: number;
  visits: number;
  expanded: boolean;
  /** The action ended here: the stop token, or the action's token limit. */
  terminal: boolean;
}

/** A tree's finished traces, scored by the environment, and the inferred value targets of its nodes. */
export interface SearchedTree {
  nodes: MctsNode[];
  /** Terminal node indices, in the order they were made. */
  traces: number[];
  /** Per node: the inferred value target, or undefined where none is defined. */
  targets: (number | undefined)[];
}

/** One step of the value recursion: V_k = max(0, V_{k-1} + (1 - V_{k-1}) r_k / m_k). */
export function nextValue(previous: number, r: 1 | -1, m: number): number {
  return Math.max(0, previous + ((1 - previous) * r) / m);
}

/**
 * Value targets of a finished tree (ReST-MCTS*'s inferred process rewards; the released code's
 * `get_full_value_samples_vm`): a correct trace's last node is 1 step from a correct answer, and
 * each of its ancestors one more than its nearest child; nodes on a path to a correct answer have
 * r = +1, others r = -1 and take the reasoning distance m of their nearest ancestor that has one.
 * The root is V_0 = 0; nodes that no correct answer reaches through an ancestor get no target.
 */
export function restMctsTargets(
  parents: readonly number[],
  terminal: readonly boolean[],
  correct: readonly boolean[],
): (number | undefined)[] {
  const n = parents.length;
  const children: number[][] = parents.map(() => []);
  parents.forEach((p, i) => {
    if (p >= 0) children[p]?.push(i);
  });
  const m = new Array<number>(n).fill(Number.POSITIVE_INFINITY);
  const onCorrectPath = new Array<boolean>(n).fill(false);
  for (let i = 0; i < n; i++) {
    if (!(terminal[i] && correct[i])) continue;
    m[i] = 1;
    onCorrectPath[i] = true;
    for (let a = parents[i] as number; a >= 0; a = parents[a] as number) {
      m[a] = Math.min(...(children[a] as number[]).map((c) => m[c] as number)) + 1;
      onCorrectPath[a] = true;
    }
  }
  for (let i = 0; i < n; i++) {
    if (!terminal[i] || correct[i]) continue;
    let a = parents[i] as number;
    while (a >= 0 && !Number.isFinite(m[a] as number)) a = parents[a] as number;
    if (a < 0) continue;
    const distance = m[a] as number;
    for (let k = i; k !== a; k = parents[k] as number) if (!Number.isFinite(m[k] as number)) m[k] = distance;
  }
  const targets: (number | undefined)[] = new Array(n).fill(undefined);
  const visit = (node: number, previous: number) => {
    for (const c of children[node] as number[]) {
      if (!Number.isFinite(m[c] as number)) continue;
      const v = nextValue(previous, onCorrectPath[c] ? 1 : -1, m[c] as number);
      targets[c] = v;
      visit(c, v);
    }
  };
  const roots = parents.map((p, i) => (p < 0 ? i : -1)).filter((i) => i >= 0);
  for (const r of roots) {
    if (!Number.isFinite(m[r] as number)) continue;
    targets[r] = 0;
    visit(r, 0);
  }
  return targets;
}

interface Work {
  generatedTokens: number;
}

/** `rows` next steps of a prefix, each ending at a delimiter, the stop token or the step's limit. */
async function nextSteps(
  policy: PolicyModel,
  prompt: readonly number[],
  prefix: readonly number[],
  rows: number,
  stops: readonly number[],
  settings: MctsSettings,
  options: RolloutOptions,
  rng: RolloutOptions['rng'],
  work: Work,
): Promise<{ tokens: number[]; logprobs: number[] }[]> {
  const room = options.maxNewTokens - prefix.length;
  const generation = await policy.generate(
    Array.from({ length: rows }, () => [...prompt, ...prefix]),
    {
      maxNewTokens: Math.min(settings.maxStepTokens, room),
      temperature: options.temperature,
      stopTokens: stops,
      greedy: false,
      rng,
    },
  );
  return generation.tokens.map((tokens, r) => {
    work.generatedTokens += tokens.length;
    return { tokens, logprobs: generation.logprobs[r] as number[] };
  });
}

function isTerminal(prefix: readonly number[], maxNewTokens: number, eos: number): boolean {
  return prefix[prefix.length - 1] === eos || prefix.length >= maxNewTokens;
}

/** The nodes from the root's child down to `node`. */
function pathTo(nodes: readonly MctsNode[], node: number): number[] {
  const out: number[] = [];
  for (let k = node; k > 0; k = (nodes[k] as MctsNode).parent) out.unshift(k);
  return out;
}

/** UCT with the value model's values; a child never visited gets V + the unvisited bonus. Ties: the earliest child. */
function bestChild(nodes: readonly MctsNode[], parent: MctsNode, settings: MctsSettings): number {
  let best = -1;
  let bestScore = Number.NEGATIVE_INFINITY;
  for (const c of parent.children) {
    const child = nodes[c] as MctsNode;
    const score =
      child.visits > 0
        ? child.value + settings.exploration * Math.sqrt((2 * Math.log(Math.max(1, parent.visits))) / child.visits)
        : child.value + settings.unvisitedBonus;
    if (score > bestScore) {
      bestScore = score;
      best = c;
    }
  }
  return best;
}

/** Visits up the path; an expanded node's value becomes the visit-weighted mean of its children's. */
function backpropagate(nodes: MctsNode[], from: number): void {
  for (let i = from; i >= 0; i = (nodes[i] as MctsNode).parent) {
    const node = nodes[i] as MctsNode;
    node.visits += 1;
    if (!node.expanded) continue;
    let total = 0;
    let weighted = 0;
    for (const c of node.children) {
      const child = nodes[c] as MctsNode;
      total += child.visits;
      weighted += child.value * child.visits;
    }
    if (total > 0) node.value = weighted / total;
  }
}

/** The tree search of one task: nodes, with their values after `simulations` iterations. */
export async function searchTree(
  policy: PolicyModel,
  tokenizer: PolicyTokenizer,
  prompt: readonly number[],
  observation: string,
  settings: MctsSettings,
  options: RolloutOptions,
  streams: { expand: RolloutOptions['rng']; roll: RolloutOptions['rng'] },
  work: Work,
): Promise<MctsNode[]> {
  const model = options.rewardModels?.[settings.valueModel];
  if (!model)
    throw new UsageError(
      `the mcts search values partial actions with the reward model '${settings.valueModel}', which this run does not have (it has: ${Object.keys(options.rewardModels ?? {}).join(', ') || 'none'}); add it with --set rewardModels=${settings.valueModel}`,
    );
  const eos = tokenizer.specials.eos;
  const stops = [eos, ...new Set(tokenizer.encode(settings.delimiters))];
  const text = (prefix: readonly number[]) => tokenizer.decode(prefix.filter((t) => t !== eos));
  const value = async (prefixes: readonly (readonly number[])[]): Promise<number[]> =>
    prefixes.length === 0 ? [] : model.score(prefixes.map((p) => ({ context: observation, text: text(p) })));
  const nodes: MctsNode[] = [
    {
      parent: -1,
      tokens: [],
      logprobs: [],
      prefix: [],
      prefixLogprobs: [],
      children: [],
      prior: 0,
      value: 0,
      visits: 0,
      expanded: false,
      terminal: false,
    },
  ];
  const openLeaf = () => nodes.some((n) => !n.expanded && !n.terminal);
  for (let iteration = 0; iteration < settings.simulations && openLeaf(); iteration++) {
    let at = 0;
    while ((nodes[at] as MctsNode).expanded && (nodes[at] as MctsNode).children.length > 0)
      at = bestChild(nodes, nodes[at] as MctsNode, settings);
    const leaf = nodes[at] as MctsNode;
    if (!leaf.terminal) {
      const steps = await nextSteps(policy, prompt, leaf.prefix, settings.branch, stops, settings, options, streams.expand, work);
      const fresh: number[] = [];
      for (const step of steps) {
        const key = step.tokens.join(',');
        if (leaf.children.some((c) => (nodes[c] as MctsNode).tokens.join(',') === key)) continue;
        const prefix = [...leaf.prefix, ...step.tokens];
        nodes.push({
          parent: at,
          tokens: step.tokens,
          logprobs: step.logprobs,
          prefix,
          prefixLogprobs: [...leaf.prefixLogprobs, ...step.logprobs],
          children: [],
          prior: 0,
          value: 0,
          visits: 0,
          expanded: false,
          terminal: isTerminal(prefix, options.maxNewTokens, eos),
        });
        leaf.children.push(nodes.length - 1);
        fresh.push(nodes.length - 1);
      }
      const values = await value(fresh.map((c) => (nodes[c] as MctsNode).prefix));
      fresh.forEach((c, k) => {
        (nodes[c] as MctsNode).value = values[k] as number;
        (nodes[c] as MctsNode).prior = values[k] as number;
      });
      leaf.expanded = true;
      if (settings.rollForwardSteps > 0 && leaf.children.length > 0) {
        const rolled = nodes[bestChild(nodes, leaf, settings)] as MctsNode;
        const best = rolled.terminal ? rolled.value : await rollForward(rolled.prefix);
        rolled.value = rolled.value * (1 - settings.alpha) + best * settings.alpha;
        rolled.visits += 1;
      }
    }
    backpropagate(nodes, at);
  }
  return nodes;

  /** Greedy roll-forward: each step the best of `rollBranch` samples by value; the best value met (0 at least). */
  async function rollForward(start: readonly number[]): Promise<number> {
    let prefix = [...start];
    let best = 0;
    for (let k = 0; k < settings.rollForwardSteps && !isTerminal(prefix, options.maxNewTokens, eos); k++) {
      const steps = await nextSteps(policy, prompt, prefix, settings.rollBranch, stops, settings, options, streams.roll, work);
      const candidates = steps.map((s) => [...prefix, ...s.tokens]);
      const values = await value(candidates);
      const top = values.indexOf(Math.max(...values));
      prefix = candidates[top] as number[];
      best = Math.max(best, values[top] as number);
    }
    return best;
  }
}

/**
 * Groups drawn by MCTS*: one tree per task; open leaves of highest value are finished by plain
 * sampling when the search ended with fewer traces than asked. Charged: every finished trace as
 * an episode (the environment scores each), every token generated (expansions, roll-forwards,
 * completions) once; the value model's calls are charged by its handle.
 */
export async function mctsRollouts(
  policy: PolicyModel,
  tokenizer: PolicyTokenizer,
  env: Environment,
  requests: readonly RolloutRequest[],
  options: RolloutOptions,
): Promise<{ groups: Rollout[][]; drawn: Rollout[]; extra: Partial<BudgetConsumption> }> {
  const settings = options.sampler?.mcts;
  if (!settings)
    throw new UsageError(`sampler '${options.sampler?.name ?? 'none'}' asks for an mcts search without its settings`);
  if (env.maxTurns !== 1)
    throw new UsageError(
      `sampler '${options.sampler?.name}' searches the steps of one action: environment '${env.name}' has episodes of up to ${env.maxTurns} turns; it needs a single-turn environment (countdown, arithmetic)`,
    );
  const limit = policy.config.contextLength - options.maxNewTokens;
  const work: Work = { generatedTokens: 0 };
  const { eos } = tokenizer.specials;
  const decode = (prefix: readonly number[]) => tokenizer.decode(prefix.filter((t) => t !== eos));
  const groups: Rollout[][] = [];
  let episodes = 0;
  for (const request of requests) {
    const envKey = `env/${request.groupId}/0`;
    const first = env.start(request.task, options.rng.split(envKey)).observation();
    const observation = request.instruction ? `${request.instruction} ${first}` : first;
    const prompt = firstPrompt(observation, limit, tokenizer);
    const streams = {
      expand: options.rng.split(`mcts/${request.groupId}`),
      roll: options.rng.split(`mcts-roll/${request.groupId}`),
    };
    const nodes = await searchTree(policy, tokenizer, prompt, observation, settings, options, streams, work);
    // Too few finished actions: the open leaves of highest value are finished by plain sampling.
    const open = nodes
      .map((n, i) => ({ n, i }))
      .filter(({ n }) => !n.terminal && n.children.length === 0 && n.parent >= 0)
      .sort((a, b) => b.n.value - a.n.value || a.i - b.i);
    const missing = request.count - nodes.filter((n) => n.terminal).length;
    if (missing > 0 && open.length > 0) {
      const chosen = open.slice(0, missing);
      const generation = await policy.generate(
        chosen.map(({ n }) => [...prompt, ...n.prefix]),
        {
          maxNewTokens: Math.max(1, options.maxNewTokens - Math.min(...chosen.map(({ n }) => n.prefix.length))),
          temperature: options.temperature,
          stopTokens: [eos],
          rng: options.rng.split(`mcts-complete/${request.groupId}`),
        },
      );
      const completed = chosen.map(({ n, i }, k) => {
        const room = options.maxNewTokens - n.prefix.length;
        const tokens = (generation.tokens[k] as number[]).slice(0, room);
        const logprobs = (generation.logprobs[k] as number[]).slice(0, room);
        work.generatedTokens += tokens.length;
        n.expanded = true;
        n.children.push(nodes.length);
        nodes.push({
          parent: i,
          tokens,
          logprobs,
          prefix: [...n.prefix, ...tokens],
          prefixLogprobs: [...n.prefixLogprobs, ...logprobs],
          children: [],
          prior: n.value,
          value: n.value,
          visits: 0,
          expanded: false,
          terminal: true,
        });
        return nodes[nodes.length - 1] as MctsNode;
      });
      // The finished actions are valued like every node (charged by the model's handle).
      const model = options.rewardModels?.[settings.valueModel];
      const values = model
        ? await model.score(completed.map((n) => ({ context: observation, text: decode(n.prefix) })))
        : completed.map((n) => n.value);
      completed.forEach((n, k) => {
        n.prior = values[k] as number;
        n.value = values[k] as number;
      });
    }
    const traces = nodes.map((n, i) => (n.terminal ? i : -1)).filter((i) => i >= 0);
    const scored = traces.map((i, k) => {
      const node = nodes[i] as MctsNode;
      const action = decode(node.prefix);
      const episode = env.start(request.task, options.rng.split(envKey));
      const result = episode.step(action);
      const outcome = episode.outcome();
      const rollout: Rollout = {
        id: `${request.groupId}/${k}`,
        groupId: request.groupId,
        taskId: env.taskId(request.task),
        turns: [
          {
            observation,
            action,
            promptTokens: [...prompt],
            actionTokens: node.prefix,
            logprobs: node.prefixLogprobs,
            reward: result.reward,
            valid: result.valid,
            ...(result.stateKey !== undefined ? { stateKey: result.stateKey } : {}),
            truncated: node.prefix[node.prefix.length - 1] !== eos,
          },
        ],
        reward: outcome.reward,
        success: outcome.success,
        ...(request.instruction !== undefined ? { meta: { instruction: request.instruction } } : {}),
      };
      return { rollout, node: i };
    });
    episodes += scored.length;
    const targets = restMctsTargets(
      nodes.map((n) => n.parent),
      nodes.map((n) => n.terminal),
      nodes.map((_, i) => scored.find((s) => s.node === i)?.rollout.success ?? false),
    );
    const valueTargets = nodes.flatMap((n, i) =>
      i > 0 && targets[i] !== undefined ? [{ context: observation, text: decode(n.prefix), target: targets[i] as number }] : [],
    );
    // Traces kept by value: the `count` of highest search value (ties: the earlier trace).
    const kept = scored
      .map((s, k) => ({ s, k }))
      .sort((a, b) => (nodes[b.s.node] as MctsNode).value - (nodes[a.s.node] as MctsNode).value || a.k - b.k)
      .slice(0, request.count)
      .map(({ s }, k) => ({
        ...s.rollout,
        id: `${request.groupId}/${k}`,
        meta: {
          ...(s.rollout.meta ?? {}),
          restMcts: {
            value: (nodes[s.node] as MctsNode).value,
            target: targets[s.node],
            traces: scored.length,
            // The trace's steps: where each ends (action tokens) and the value model's V there.
            steps: pathTo(nodes, s.node).map((k) => ({
              end: (nodes[k] as MctsNode).prefix.length,
              value: (nodes[k] as MctsNode).prior,
            })),
          },
          // The whole tree's targets travel with the group's first trace (the value model reads them once).
          ...(k === 0 ? { valueTargets } : {}),
        },
      }));
    groups.push(kept);
  }
  return { groups, drawn: [], extra: { episodes, envSteps: episodes, generatedTokens: work.generatedTokens } };
}
