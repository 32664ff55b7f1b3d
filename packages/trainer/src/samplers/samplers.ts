/**
 * The reference samplers. Top-k and top-p are logits hooks over plain sampling; beam and tree
 * search are strategies the rollout engine runs (loop/rollouts.ts, loop/samplers.ts).
 */
import { defineSampler, type LogitsRequest, resolveOptions, type Sampler, UsageError } from '@policy-lab/core';
import { pavBeam } from './pav-beam.js';

const NEG_INF = Number.NEGATIVE_INFINITY;

/** Keeps each row's k most likely tokens (ties at the k-th value stay in). */
export function keepTopK(row: Float32Array, k: number): Float32Array {
  if (k >= row.length) return row;
  const threshold = [...row].sort((a, b) => b - a)[k - 1] as number;
  return row.map((x) => (x < threshold ? NEG_INF : x));
}

/** Keeps the smallest set of most likely tokens whose probability reaches p (always at least one). */
export function keepTopP(row: Float32Array, p: number): Float32Array {
  const order = [...row.keys()].sort((a, b) => (row[b] as number) - (row[a] as number));
  const out = new Float32Array(row.length).fill(NEG_INF);
  let mass = 0;
  for (const v of order) {
    if (mass >= p) break;
    out[v] = row[v] as number;
    mass += Math.exp(row[v] as number);
  }
  return out;
}

const BEHAVIOUR = {
  type: 'enum',
  values: ['proposal', 'policy'],
  default: 'proposal',
  doc: "behaviour log-probs recorded for the importance ratio: the truncated distribution drawn from ('proposal'), or the policy's own ('policy')",
} as const;

export function topK(options: { k?: number; behaviour?: 'proposal' | 'policy' } = {}): Sampler {
  const OPTIONS = { k: { type: 'integer', default: 20, doc: 'tokens kept at each position' }, behaviour: BEHAVIOUR } as const;
  const resolved = resolveOptions<{ k: number; behaviour: 'proposal' | 'policy' }>('top-k', OPTIONS, options);
  if (!(resolved.k >= 1)) throw new RangeError(`top-k: k must be an integer >= 1, got ${resolved.k}`);
  return defineSampler({
    name: 'top-k',
    summary: 'sampling from the k most likely next tokens, renormalised',
    paper: { title: 'Hierarchical Neural Story Generation', arxiv: '1805.04833', year: 2018 },
    options: OPTIONS,
    resolved,
    strategy: 'sample',
    behaviour: resolved.behaviour,
    math: '$q(v) \\propto \\pi(v)\\,[v \\in \\text{top}_k(\\pi)]$',
    logits: (request: LogitsRequest) => request.logprobs.map((row) => keepTopK(row, resolved.k)),
    configure: (next) => topK({ ...resolved, ...next }),
  });
}

export function topP(options: { p?: number; behaviour?: 'proposal' | 'policy' } = {}): Sampler {
  const OPTIONS = {
    p: { type: 'number', default: 0.9, doc: 'probability mass kept at each position (nucleus)' },
    behaviour: BEHAVIOUR,
  } as const;
  const resolved = resolveOptions<{ p: number; behaviour: 'proposal' | 'policy' }>('top-p', OPTIONS, options);
  if (!(resolved.p > 0 && resolved.p <= 1)) throw new RangeError(`top-p: p must be in (0, 1], got ${resolved.p}`);
  return defineSampler({
    name: 'top-p',
    summary: 'nucleus sampling: the smallest set of most likely next tokens whose mass reaches p, renormalised',
    paper: { title: 'The Curious Case of Neural Text Degeneration', arxiv: '1904.09751', year: 2020 },
    options: OPTIONS,
    resolved,
    strategy: 'sample',
    behaviour: resolved.behaviour,
    math: '$q(v) \\propto \\pi(v)\\,[v \\in V_p]$, $V_p$ the smallest top set with $\\sum_{V_p} \\pi \\ge p$',
    logits: (request: LogitsRequest) => request.logprobs.map((row) => keepTopP(row, resolved.p)),
    configure: (next) => topP({ ...resolved, ...next }),
  });
}

export function beam(options: { width?: number } = {}): Sampler {
  const OPTIONS = {
    width: { type: 'integer', default: 4, doc: 'hypotheses kept per context (raised to the group size when smaller)' },
  } as const;
  const resolved = resolveOptions<{ width: number }>('beam', OPTIONS, options);
  if (!(resolved.width >= 1)) throw new RangeError(`beam: width must be an integer >= 1, got ${resolved.width}`);
  return defineSampler({
    name: 'beam',
    summary: "beam search: each context's G most likely distinct actions by summed log-probability (deterministic)",
    options: OPTIONS,
    resolved,
    strategy: 'beam',
    width: resolved.width,
    behaviour: 'policy',
    math: '$\\arg\\text{top-}G_{y} \\sum_t \\log \\pi(y_t \\mid x, y_{<t})$ by beam search of width $\\max(w, G)$; beam 1 is greedy decoding',
    configure: (next) => beam({ ...resolved, ...next }),
  });
}

export function tree(options: { roots?: number; branchFrom?: 'best' | 'uniform' } = {}): Sampler {
  const OPTIONS = {
    roots: { type: 'integer', default: 1, doc: 'rollouts of a group sampled from the task before branching' },
    branchFrom: {
      type: 'enum',
      values: ['best', 'uniform'],
      default: 'best',
      doc: 'the rollout a branch restarts from: the best so far by reward, or one drawn uniformly',
    },
  } as const;
  const resolved = resolveOptions<{ roots: number; branchFrom: 'best' | 'uniform' }>('tree', OPTIONS, options);
  if (!(resolved.roots >= 1)) throw new RangeError(`tree: roots must be an integer >= 1, got ${resolved.roots}`);
  return defineSampler({
    name: 'tree',
    summary:
      'tree search: each further rollout restarts from a node of an earlier one (a prefix of an action, after an environment snapshot) and samples the rest',
    options: OPTIONS,
    resolved,
    strategy: 'tree',
    roots: resolved.roots,
    branchFrom: resolved.branchFrom,
    behaviour: 'proposal',
    math: "node $(t, j)$ drawn uniformly over the parent's turns and token positions; the kept prefix keeps its recorded log-probs",
    configure: (next) => tree({ ...resolved, ...next }),
  });
}

/** The k most likely token ids of a row, most likely first. */
export function topIds(row: Float32Array, k: number): number[] {
  return [...row.keys()].sort((a, b) => (row[b] as number) - (row[a] as number) || a - b).slice(0, k);
}

/**
 * Value-guided decoding: at each position the `candidates` most likely next tokens are each
 * scored by a value model (a reward model of the run, trained on action prefixes) as the action
 * so far plus that token, and drawn from q(v) ∝ π(v) exp(β V(s, v)); the other tokens are
 * removed. Every value call is charged as the other model's scoring.
 */
export function valueGuided(
  options: { model?: string; beta?: number; candidates?: number; behaviour?: 'proposal' | 'policy' } = {},
): Sampler {
  const OPTIONS = {
    model: { type: 'string', default: 'prefix-value', doc: "the run's reward model that scores partial actions" },
    beta: { type: 'number', default: 1, doc: 'weight of the value in the log-weights (0: top-k sampling)' },
    candidates: { type: 'integer', default: 8, doc: 'most likely next tokens scored at each position' },
    behaviour: BEHAVIOUR,
  } as const;
  const resolved = resolveOptions<{ model: string; beta: number; candidates: number; behaviour: 'proposal' | 'policy' }>(
    'value-guided',
    OPTIONS,
    options,
  );
  if (!(resolved.candidates >= 1))
    throw new RangeError(`value-guided: candidates must be an integer >= 1, got ${resolved.candidates}`);
  if (!(resolved.beta >= 0)) throw new RangeError(`value-guided: beta must be >= 0, got ${resolved.beta}`);
  return defineSampler({
    name: 'value-guided',
    summary:
      "value-guided decoding: the most likely next tokens re-weighted by exp(beta x a value model's score of the action so far plus the token)",
    paper: {
      title: 'Value Augmented Sampling for Language Model Alignment and Personalization',
      arxiv: '2405.06639',
      year: 2024,
    },
    options: OPTIONS,
    resolved,
    strategy: 'sample',
    behaviour: resolved.behaviour,
    math: '$q(v \\mid s) \\propto \\pi(v \\mid s)\\, e^{\\beta V_\\phi(s \\oplus v)}$ over the top-$k$ tokens of $\\pi$',
    logits: async (request: LogitsRequest) => {
      const model = request.rewardModels?.[resolved.model];
      if (!model || !request.texts || !request.tokenText)
        throw new UsageError(
          `value-guided: the run has no reward model '${resolved.model}' (it has: ${Object.keys(request.rewardModels ?? {}).join(', ') || 'none'}); add it with --set rewardModels=${resolved.model}`,
        );
      const texts = request.texts;
      const tokenText = request.tokenText;
      const ids = request.logprobs.map((row) => topIds(row, resolved.candidates));
      const scored = ids.flatMap((row, r) =>
        row.map((id) => ({ context: texts[r]?.context ?? '', text: `${texts[r]?.text ?? ''}${tokenText(id)}` })),
      );
      const values = await model.score(scored);
      let next = 0;
      return request.logprobs.map((row, r) => {
        const out = new Float32Array(row.length).fill(NEG_INF);
        for (const id of ids[r] as number[]) out[id] = (row[id] as number) + resolved.beta * (values[next++] as number);
        return out;
      });
    },
    configure: (next) => valueGuided({ ...resolved, ...next }),
  });
}

export function builtinSamplers(): Sampler[] {
  return [topK(), topP(), beam(), tree(), valueGuided(), pavBeam()];
}
