/**
 * The objectives that need more than a plain LossBatch, registered as losses now
 * that the trainer supplies what each reads:
 * - token-level DPO (the per-token view of the pairs),
 * - VPO (pairs plus whether they are offline or online),
 * - UPO (pairs plus a reliability per pair),
 * - the f-divergence SFT losses (the expert's demonstration against the policy's samples),
 * - DRPO (rows with their rollouts' groups and correctness),
 * - G-OPD / ExOPD (the teacher and the reference at once).
 */
import {
  aggregateLoss,
  type LossResult,
  type OptionSpec,
  type PairLoss,
  type PaperRef,
  type PreferenceBatch,
  RunError,
  resolveOptions,
  UsageError,
} from '@policy-lab/core';
import { DRPO_DEFAULTS, drpoPositiveWeights } from './drpo.js';
import { CONJUGATES, fDivergenceSftLoss } from './f-sft.js';
import { klEstimatorTensor, LOG_RATIO_CLAMP } from './kl-estimators.js';

import { gopdReward, type TensorLoss, type TensorRowLoss } from './losses.js';
import { vpoLoss } from './preference.js';
import { stopGradient, type Tensor, type Tf } from './tensor-types.js';

const BETA: OptionSpec = { type: 'number', default: 0.1, doc: 'inverse temperature of the implicit reward (TRL default 0.1)' };

function positive(owner: string, key: string, value: number): void {
  if (!(value > 0)) throw new RunError(`${owner}: option '${key}' must be > 0, got ${value}`);
}

function pairReferences(batch: PreferenceBatch<Tensor>, owner: string): { refChosen: Tensor; refRejected: Tensor } {
  if (!batch.refChosenLogps || !batch.refRejectedLogps)
    throw new RunError(`${owner} needs the reference's log-probabilities of both completions (needs.reference)`);
  return { refChosen: batch.refChosenLogps, refRejected: batch.refRejectedLogps };
}

/** The logged pair metrics: beta-scaled implicit rewards of each side, their margin and accuracy. */
function metricsOf(chosen: Tensor, rejected: Tensor, tf: Tf): Record<string, Tensor> {
  return {
    chosenReward: tf.mean(chosen),
    rejectedReward: tf.mean(rejected),
    margin: tf.mean(tf.sub(chosen, rejected)),
    rewardAccuracy: tf.mean(tf.cast(tf.greater(chosen, rejected), 'float32')),
  };
}

// ---------------------------------------------------------------------------------------
// Token-level DPO (From r to Q*)

const FROM_R_TO_Q: PaperRef = {
  title: 'From r to Q*: Your Language Model is Secretly a Q-Function',
  arxiv: '2404.12358',
  year: 2024,
};

export interface TokenDpoOptions {
  beta?: number;
}

/**
 * DPO computed from per-token implicit rewards beta (log pi_theta - log pi_ref) on every
 * action token, summed over each completion's rows: the token-level MDP view of From r to Q*,
 * where the per-token rewards telescope to the sequence reward. Equal to DPO in value and
 * gradient; what it adds is the credit map (logged: how concentrated the credit is).
 */
export function tokenDpo(options: TokenDpoOptions = {}): PairLoss<Tf, Tensor> {
  const resolved = resolveOptions<Required<TokenDpoOptions>>('token-dpo', { beta: BETA }, { ...options });
  positive('token-dpo', 'beta', resolved.beta);
  return {
    name: 'token-dpo',
    kind: 'pairs',
    summary: 'DPO as a token-level Q-function objective: per-token implicit rewards beta log(pi/pi_ref), summed per completion.',
    paper: FROM_R_TO_Q,
    options: { beta: BETA },
    resolved,
    needs: { reference: true, tokens: true },
    math:
      '$r_t = \\beta(\\log\\pi_\\theta(y_t) - \\log\\pi_{ref}(y_t))$, $\\mathcal L = -\\log\\sigma(\\sum_t r^w_t - \\sum_t r^l_t)$; ' +
      'the sum telescopes to the sequence-level implicit reward (minus $V^*(s_0)$, which cancels in the pair).',
    unverified: [
      'Logged tokenCreditMax: the largest |r_t| of the batch, our diagnostic of where the credit sits (the paper visualises these maps).',
    ],
    loss(batch, tf): LossResult<Tensor> {
      const tokens = batch.tokens;
      if (!tokens?.refLogprobs)
        throw new RunError('token-dpo needs the token view with reference log-probs (needs.tokens and needs.reference)');
      const credit = tf.mul(tf.mul(resolved.beta, tf.sub(tokens.logprobs, tokens.refLogprobs)), tokens.mask);
      const perRow = tf.reshape(tf.sum(credit, 1), [-1, 1]);
      const chosen = tf.reshape(tf.matMul(tokens.chosenRows, perRow), [-1]);
      const rejected = tf.reshape(tf.matMul(tokens.rejectedRows, perRow), [-1]);
      const loss = tf.mean(tf.softplus(tf.neg(tf.sub(chosen, rejected))));
      return { loss, metrics: { ...metricsOf(chosen, rejected, tf), tokenCreditMax: tf.max(tf.abs(credit)) } };
    },
    configure: (next) => tokenDpo({ ...resolved, ...(next as TokenDpoOptions) }),
  };
}

// ---------------------------------------------------------------------------------------
// VPO

const VPO_PAPER: PaperRef = {
  title: 'Value-Incentivized Preference Optimization: A Unified Approach to Online and Offline RLHF',
  arxiv: '2405.19320',
  year: 2024,
};
const VPO_OPTIONS: Record<string, OptionSpec> = {
  beta: BETA,
  alpha: { type: 'number', default: 0.01, doc: 'weight of the value term (the calibration NLL) [unverified]' },
  mode: {
    type: 'enum',
    default: 'auto',
    values: ['auto', 'pessimistic', 'optimistic'],
    doc: "sign of the value term: pessimistic (+NLL, offline), optimistic (-NLL, online); auto picks by the pairs' source",
  },
};

export interface VpoOptions {
  beta?: number;
  alpha?: number;
  mode?: 'auto' | 'pessimistic' | 'optimistic';
}

/**
 * VPO with a calibrated reward (Cen et al. 2024, arXiv 2405.19320): DPO plus or minus alpha x the NLL of the
 * calibration samples, here the chosen completions. Pessimism for dataset pairs, optimism for
 * pairs the policy sampled, unless `mode` fixes it.
 */
export function vpo(options: VpoOptions = {}): PairLoss<Tf, Tensor> {
  const resolved = resolveOptions<Required<VpoOptions>>('vpo', VPO_OPTIONS, { ...options });
  positive('vpo', 'beta', resolved.beta);
  if (!(resolved.alpha >= 0)) throw new RunError(`vpo: option 'alpha' must be >= 0, got ${resolved.alpha}`);
  return {
    name: 'vpo',
    kind: 'pairs',
    summary:
      'DPO regularised by the value of the implicit reward: +alpha NLL of calibration samples offline (pessimism), -alpha online (optimism).',
    paper: VPO_PAPER,
    options: VPO_OPTIONS,
    resolved,
    needs: { reference: true },
    math: '$\\mathcal L = \\mathcal L_{DPO} \\pm \\alpha\\,\\mathrm{NLL}(y_w)$, $+$ pessimistic (offline), $-$ optimistic (online); $\\alpha = 0$ is DPO.',
    unverified: [
      'Sign, scale and the calibration source (the chosen completions) are our reading of the abstract and summaries (no code released); alpha 0.01 is not from the paper.',
    ],
    loss(batch, tf): LossResult<Tensor> {
      const { refChosen, refRejected } = pairReferences(batch, 'vpo');
      const mode =
        resolved.mode === 'auto' ? ((batch.source ?? 'online') === 'offline' ? 'pessimistic' : 'optimistic') : resolved.mode;
      const loss = vpoLoss(
        {
          policyChosen: batch.chosenLogps,
          policyRejected: batch.rejectedLogps,
          refChosen,
          refRejected,
          beta: resolved.beta,
          calibrationLogprobs: batch.chosenLogps,
          alpha: resolved.alpha,
          mode,
        },
        tf,
      );
      const chosen = tf.mul(resolved.beta, tf.sub(batch.chosenLogps, refChosen));
      const rejected = tf.mul(resolved.beta, tf.sub(batch.rejectedLogps, refRejected));
      return { loss, metrics: { ...metricsOf(chosen, rejected, tf), pessimistic: tf.scalar(mode === 'pessimistic' ? 1 : 0) } };
    },
    configure: (next) => vpo({ ...resolved, ...(next as VpoOptions) }),
  };
}

// ---------------------------------------------------------------------------------------
// UPO

const UPO_PAPER: PaperRef = {
  title: 'Self-Evolutionary Large Language Models through Uncertainty-Enhanced Preference Optimization',
  arxiv: '2409.11212',
  year: 2024,
};
const UPO_OPTIONS: Record<string, OptionSpec> = {
  beta: BETA,
  minReliability: {
    type: 'number',
    default: 0,
    doc: 'pairs whose reliability (1 - BALD / log 2) is below this get weight 0: the reliable-feedback filter',
  },
  selection: {
    type: 'string',
    default: 'all',
    doc: "online pairs: 'all' (each group's best and worst rollout, every one trusted) or 'uncertainty' (UPO's estimator judges one candidate per group; a share drawn by 1 - BALD)",
  },
  passes: { type: 'integer', default: 10, doc: "Monte-Carlo dropout passes per pair (T; UPO's code: 10)" },
  sampleRate: {
    type: 'number',
    default: 0.25,
    doc: "share of the estimator-agreed candidate pairs kept, drawn in proportion to 1 - BALD (UPO's script: 0.25)",
  },
  dropout: {
    type: 'number',
    default: 0.1,
    doc: "dropout probability of the estimator's hidden units (UPO's code: lora_dropout 0.1)",
  },
  hidden: { type: 'integer', default: 32, doc: 'hidden width of the estimator (ours)' },
  dropDisagreements: {
    type: 'boolean',
    default: true,
    doc: "drop candidates whose order the estimator's majority vote contradicts before sampling (UPO's code)",
  },
};

export interface UpoOptions {
  beta?: number;
  minReliability?: number;
  selection?: 'all' | 'uncertainty';
  passes?: number;
  sampleRate?: number;
  dropout?: number;
  hidden?: number;
  dropDisagreements?: boolean;
}

/**
 * UPO's uncertainty-weighted DPO: each pair weighs by its reliability 1 - BALD / log 2 (from
 * the dataset's `reliability` or MC-dropout `passes`), pairs under `minReliability` are
 * dropped. Pairs without a reliability count as fully reliable: online pairs drawn from a
 * verifiable reward carry no label noise, and UPO is then DPO.
 */
export function upo(options: UpoOptions = {}): PairLoss<Tf, Tensor> {
  const resolved = resolveOptions<Required<UpoOptions>>('upo', UPO_OPTIONS, { ...options });
  positive('upo', 'beta', resolved.beta);
  if (!(resolved.minReliability >= 0 && resolved.minReliability <= 1))
    throw new RunError(`upo: option 'minReliability' must be in [0, 1], got ${resolved.minReliability}`);
  if (resolved.selection !== 'all' && resolved.selection !== 'uncertainty')
    throw new UsageError(`upo: option 'selection' must be one of all, uncertainty; got ${JSON.stringify(resolved.selection)}`);
  if (!(Number.isInteger(resolved.passes) && resolved.passes >= 2))
    throw new UsageError(`upo: option 'passes' must be an integer >= 2 (T Monte-Carlo passes), got ${resolved.passes}`);
  if (!(resolved.sampleRate > 0 && resolved.sampleRate <= 1))
    throw new UsageError(`upo: option 'sampleRate' must be in (0, 1], got ${resolved.sampleRate}`);
  if (!(resolved.dropout > 0 && resolved.dropout < 1))
    throw new UsageError(`upo: option 'dropout' must be in (0, 1), got ${resolved.dropout}`);
  if (!(Number.isInteger(resolved.hidden) && resolved.hidden >= 1))
    throw new UsageError(`upo: option 'hidden' must be an integer >= 1, got ${resolved.hidden}`);
  const { passes, sampleRate, dropout, hidden, dropDisagreements } = resolved;
  const uncertainty =
    resolved.selection === 'uncertainty' ? { passes, sampleRate, dropout, hidden, dropDisagreements } : undefined;
  return {
    name: 'upo',
    kind: 'pairs',
    summary:
      'Uncertainty-enhanced DPO: pairs weighted by the reliability of their label (1 - BALD), unreliable ones filtered out.',
    paper: UPO_PAPER,
    options: UPO_OPTIONS,
    resolved,
    needs: { reference: true, ...(uncertainty ? { uncertainty } : {}) },
    math: '$w = 1 - \\mathrm{BALD}/\\log 2$, $\\mathrm{BALD} = H[\\bar p] - \\overline{H[p_t]}$ over MC-dropout passes; $\\mathcal L = \\sum w\\,\\ell_{DPO} / \\sum w$ over pairs with $w \\ge$ minReliability.',
    unverified: [
      "Offline (--data) the reliabilities come with the dataset (`reliability` or `passes` per JSONL record). Online, `selection=all` trusts every pair (UPO is then DPO); `selection=uncertainty` (the upo-dpo Method) has the trainer's MC-dropout pair estimator judge and draw them.",
      "Using the reliability 1 - BALD / log 2 as the DPO weight is our instantiation: the released sampler returns each pair's MC variance as a weight, and the released merge script writes only (prompt, chosen, rejected) for the DPO run, so how the paper's loss consumes a weight was not confirmed.",
    ],
    loss(batch, tf): LossResult<Tensor> {
      const { refChosen, refRejected } = pairReferences(batch, 'upo');
      const chosen = tf.mul(resolved.beta, tf.sub(batch.chosenLogps, refChosen));
      const rejected = tf.mul(resolved.beta, tf.sub(batch.rejectedLogps, refRejected));
      const perPair = tf.softplus(tf.neg(tf.sub(chosen, rejected)));
      const reliability = batch.reliability ?? tf.onesLike(batch.chosenLogps);
      const weights = tf.mul(reliability, tf.cast(tf.greaterEqual(reliability, resolved.minReliability), 'float32'));
      const loss = tf.div(tf.sum(tf.mul(perPair, weights)), tf.maximum(tf.sum(weights), 1e-12));
      return {
        loss,
        metrics: { ...metricsOf(chosen, rejected, tf), keptPairs: tf.mean(tf.cast(tf.greater(weights, 0), 'float32')) },
      };
    },
    configure: (next) => upo({ ...resolved, ...(next as UpoOptions) }),
  };
}

// ---------------------------------------------------------------------------------------
// f-divergence SFT (Implicit Reward as the Bridge)

const IMPLICIT_REWARD: PaperRef = {
  title: 'Implicit Reward as the Bridge: A Unified View of SFT and DPO Connections',
  arxiv: '2507.00018',
  year: 2025,
};
const F_SFT_OPTIONS: Record<string, OptionSpec> = {
  beta: BETA,
  divergence: {
    type: 'enum',
    default: 'js',
    values: Object.keys(CONJUGATES),
    doc: 'the f-divergence between the data and the policy whose variational form is the loss',
  },
};

export interface FSftOptions {
  beta?: number;
  divergence?: string;
}

/**
 * SFT from another f-divergence: -mean_data[T] + mean_samples[f*(T)], T = beta log(pi/pi_ref)
 * clamped into dom f*. The data are the environment's expert demonstrations, the samples the
 * policy's rollouts on the same tasks (the trainer pairs each group's demonstration with each
 * of its rollouts), so unlike plain SFT the loss keeps a pull toward the reference.
 */
export function fSft(options: FSftOptions = {}): PairLoss<Tf, Tensor> {
  const resolved = resolveOptions<Required<FSftOptions>>('f-sft', F_SFT_OPTIONS, { ...options });
  positive('f-sft', 'beta', resolved.beta);
  return {
    name: 'f-sft',
    kind: 'pairs',
    summary: "SFT as implicit-reward learning under an f-divergence: expert demonstrations against the policy's own samples.",
    paper: IMPLICIT_REWARD,
    options: F_SFT_OPTIONS,
    resolved,
    needs: { reference: true, pairsFrom: 'demonstrations' },
    math: '$\\mathcal L_f = -\\mathbb E_{data}[T_\\theta] + \\mathbb E_{y\\sim\\pi_\\theta}[f^*(T_\\theta)]$, $T_\\theta = \\mathrm{clamp}(\\beta\\log\\pi_\\theta/\\pi_{ref}, \\mathrm{dom} f^*)$',
    unverified: [
      "The paper's per-f loss table is not confirmed: this is the variational (Fenchel conjugate) form of f-GAN (Nowozin et al. 2016, arXiv:1606.00709) with the critic tied to the implicit reward [inferred shape].",
      'Offline (--data) pairs use the rejected completion as the policy sample; online the samples are the rollouts of the step.',
    ],
    loss(batch, tf): LossResult<Tensor> {
      const { refChosen, refRejected } = pairReferences(batch, 'f-sft');
      const loss = fDivergenceSftLoss(
        {
          dataPolicy: batch.chosenLogps,
          dataReference: refChosen,
          samplePolicy: batch.rejectedLogps,
          sampleReference: refRejected,
          beta: resolved.beta,
          divergence: resolved.divergence,
        },
        tf,
      );
      const chosen = tf.mul(resolved.beta, tf.sub(batch.chosenLogps, refChosen));
      const rejected = tf.mul(resolved.beta, tf.sub(batch.rejectedLogps, refRejected));
      return { loss, metrics: metricsOf(chosen, rejected, tf) };
    },
    configure: (next) => fSft({ ...resolved, ...(next as FSftOptions) }),
  };
}

// ---------------------------------------------------------------------------------------
// DRPO

const DRPO_PAPER: PaperRef = {
  title: 'DRPO: Efficient Reasoning via Decoupled Reward Policy Optimization',
  arxiv: '2510.04474',
  year: 2025,
};
const DRPO_OPTIONS: Record<string, OptionSpec> = {
  lambda: {
    type: 'number',
    default: DRPO_DEFAULTS.lambda,
    doc: 'temperature of the length weights over correct rollouts (Infinity: uniform, DisCO)',
  },
  tau: { type: 'number', default: DRPO_DEFAULTS.tau, doc: 'temperature of the log-sum-exp over wrong rollouts' },
  delta: { type: 'number', default: DRPO_DEFAULTS.delta, doc: 'KL budget of the trust region to pi_old' },
  beta: { type: 'number', default: DRPO_DEFAULTS.beta, doc: 'penalty slope once the KL exceeds delta' },
  maxLength: {
    type: 'number',
    default: 0,
    doc: 'L_max of the length weights in tokens; 0 = the per-turn token limit (verl: max_response_length)',
  },
};

export interface DrpoOptions {
  lambda?: number;
  tau?: number;
  delta?: number;
  beta?: number;
  maxLength?: number;
}

/**
 * DRPO as a registered loss: per rollout the mean token log-probability s(o); per question
 * (group) sum over correct rollouts of w(o) s(o) with closed-form length weights, minus
 * tau logsumexp over wrong ones of s/tau; a hinge trust region on the k3 KL to pi_old.
 * Built with masks and matMuls (gather's gradient has no wasm kernel).
 */
export function drpo(options: DrpoOptions = {}): TensorRowLoss {
  const resolved = resolveOptions<Required<DrpoOptions>>('drpo', DRPO_OPTIONS, { ...options });
  for (const key of ['lambda', 'tau', 'beta'] as const) positive('drpo', key, resolved[key]);
  if (!(resolved.delta >= 0)) throw new RunError(`drpo: option 'delta' must be >= 0, got ${resolved.delta}`);
  if (!(resolved.maxLength >= 0)) throw new RunError(`drpo: option 'maxLength' must be >= 0, got ${resolved.maxLength}`);
  return {
    name: 'drpo',
    kind: 'rows',
    summary:
      'Decoupled reward policy optimization: correct rollouts weighted toward short ones, a soft-max penalty on wrong ones, a KL trust region.',
    paper: DRPO_PAPER,
    options: DRPO_OPTIONS,
    resolved,
    needs: { rollouts: true },
    math:
      '$\\mathcal L = -\\frac1Q\\sum_q\\big[\\sum_{o^+} w(o^+)s(o^+) - \\tau\\log\\sum_{o^-} e^{s(o^-)/\\tau}\\big] + \\mathrm{sg}(\\max(\\beta(\\mathrm{KL}-\\delta),0))\\,\\mathrm{KL}$, ' +
      '$w \\propto e^{(1-|o|/L)/\\lambda}$ over the positives, $s(o)$ the mean token log-probability, KL the token-mean k3 to $\\pi_{old}$.',
    unverified: [
      "Correctness is the environment's success verdict; questions without both a correct and a wrong rollout add nothing but count in Q (our reading of the DRPO paper, arXiv:2510.04474).",
      'For multi-turn rollouts |o| and s(o) run over all the rollout’s action tokens, and L_max defaults to the per-turn token limit.',
    ],
    loss(batch, tf): LossResult<Tensor> {
      const rollouts = batch.rollouts;
      if (!rollouts)
        throw new RunError(
          'drpo needs the rows’ rollouts (needs.rollouts): which group each belongs to and whether it succeeded',
        );
      const n = rollouts.group.length;
      const rowCount = rollouts.ofRow.length;
      const select = new Float32Array(n * rowCount);
      rollouts.ofRow.forEach((k, r) => {
        select[k * rowCount + r] = 1;
      });
      const pick = tf.tensor2d(select, [n, rowCount]);
      // Rows of weight 0 (a filtered sample, MC-GRPO's pivot) leave the loss: their tokens, their
      // rollout and, when a question has no other rollout, the question.
      const rowWeights = batch.weights.dataSync();
      const activeRollout = new Array<boolean>(n).fill(false);
      rollouts.ofRow.forEach((k, r) => {
        if ((rowWeights[r] as number) > 0) activeRollout[k] = true;
      });
      const mask = tf.mul(batch.mask, tf.expandDims(tf.cast(tf.greater(batch.weights, 0), 'float32'), 1));
      const rowSums = tf.reshape(tf.sum(tf.mul(batch.logprobs, mask), 1), [-1, 1]);
      const rowTokens = tf.reshape(tf.sum(mask, 1), [-1, 1]);
      const lengthsTensor = tf.reshape(tf.matMul(pick, rowTokens), [-1]);
      const lengths = Array.from(lengthsTensor.dataSync());
      const scores = tf.div(tf.reshape(tf.matMul(pick, rowSums), [-1]), tf.maximum(lengthsTensor, 1));
      const maxLength = resolved.maxLength > 0 ? resolved.maxLength : batch.normLength;
      const members = new Map<string, number[]>();
      rollouts.group.forEach((g, k) => {
        if (activeRollout[k]) members.set(g, [...(members.get(g) ?? []), k]);
      });
      let objective: Tensor = tf.scalar(0);
      let contributing = 0;
      for (const ks of members.values()) {
        const positives = ks.filter((k) => rollouts.success[k]);
        const negatives = ks.filter((k) => !rollouts.success[k]);
        if (positives.length === 0 || negatives.length === 0) continue;
        contributing += 1;
        const weights = drpoPositiveWeights(
          positives.map((k) => lengths[k] as number),
          maxLength,
          resolved.lambda,
        );
        const full = new Float32Array(n);
        positives.forEach((k, i) => {
          full[k] = weights[i] as number;
        });
        const negativeMask = new Float32Array(n).fill(-1e30);
        for (const k of negatives) negativeMask[k] = 0;
        const positiveTerm = tf.sum(tf.mul(tf.tensor1d(full), scores));
        const negativeTerm = tf.mul(resolved.tau, tf.logSumExp(tf.add(tf.div(scores, resolved.tau), tf.tensor1d(negativeMask))));
        objective = tf.add(objective, tf.sub(positiveTerm, negativeTerm));
      }
      const k3 = klEstimatorTensor('k3', batch.logprobs, batch.oldLogprobs, tf);
      const klToOld = tf.div(tf.sum(tf.mul(k3, mask)), tf.maximum(tf.sum(mask), 1));
      const hinge = stopGradient(tf, tf.relu(tf.mul(resolved.beta, tf.sub(klToOld, resolved.delta))));
      const loss = tf.add(tf.neg(tf.div(objective, Math.max(members.size, 1))), tf.mul(hinge, klToOld));
      return { loss, metrics: { klToOld, contributingQuestions: tf.scalar(contributing / Math.max(members.size, 1)) } };
    },
    configure: (next) => drpo({ ...resolved, ...(next as DrpoOptions) }),
  };
}

// ---------------------------------------------------------------------------------------
// G-OPD / ExOPD

const G_OPD: PaperRef = {
  title: 'Learning beyond Teacher: Generalized On-Policy Distillation with Reward Extrapolation',
  arxiv: '2602.12125',
  year: 2026,
};
const GOPD_OPTIONS: Record<string, OptionSpec> = {
  lambda: {
    type: 'number',
    default: 1.25,
    doc: 'reward scale: 1 = plain OPD, > 1 = ExOPD (reward extrapolation), (0, 1) interpolation',
  },
};

export interface GopdOptions {
  lambda?: number;
}

/**
 * G-OPD: dense per-token reward lambda (log pi* - log pi_ref) - (log pi_theta - log pi_ref),
 * held constant and importance-weighted by pi_theta / pi_old; the teacher pi* is a finished
 * run (`--set teacher=<run folder>`), pi_ref the student's starting point.
 */
export function gopd(options: GopdOptions = {}): TensorRowLoss {
  const resolved = resolveOptions<Required<GopdOptions>>('gopd', GOPD_OPTIONS, { ...options });
  positive('gopd', 'lambda', resolved.lambda);
  return {
    name: 'gopd',
    kind: 'rows',
    summary:
      'Generalized on-policy distillation: the teacher-over-reference log-ratio scaled by lambda (> 1 extrapolates: ExOPD).',
    paper: G_OPD,
    options: GOPD_OPTIONS,
    resolved,
    needs: { reference: true, teacher: true },
    math: '$r_t = \\lambda(\\log\\pi^*(y_t) - \\log\\pi_{ref}(y_t)) - (\\log\\pi_\\theta(y_t) - \\log\\pi_{ref}(y_t))$ (held constant), $\\ell_t = -\\rho_t w_i r_t$; optimum $\\pi \\propto \\pi_{ref}^{1-\\lambda}\\pi^{*\\lambda}$',
    unverified: [
      'Per-token reward used directly as the advantage (no return-to-go, no baseline): our instantiation of OPD practice [inferred].',
      "lambda 1.25 is within the reported range; the exact grid is not confirmed. pi_ref is the student's starting point (the same-size setting), not the teacher's base model.",
    ],
    loss(batch, tf): LossResult<Tensor> {
      if (!batch.teacherLogprobs)
        throw new RunError('gopd needs teacherLogprobs: name a teacher with --set teacher=<run folder>');
      if (!batch.refLogprobs) throw new RunError('gopd needs refLogprobs (the frozen starting policy)');
      const reward = stopGradient(
        tf,
        gopdReward(
          { policy: batch.logprobs, teacher: batch.teacherLogprobs, reference: batch.refLogprobs, lambda: resolved.lambda },
          tf,
        ),
      );
      const ratio = tf.exp(tf.clipByValue(tf.sub(batch.logprobs, batch.oldLogprobs), -LOG_RATIO_CLAMP, LOG_RATIO_CLAMP));
      const perToken = tf.neg(tf.mul(ratio, reward));
      const teacherKl = aggregateLoss(
        tf,
        tf.sub(batch.logprobs, batch.teacherLogprobs),
        batch.mask,
        undefined,
        'token-mean',
        batch.normLength,
      );
      return {
        loss: aggregateLoss(tf, perToken, batch.mask, batch.weights, batch.aggregation, batch.normLength),
        metrics: { teacherKl, reward: aggregateLoss(tf, reward, batch.mask, undefined, 'token-mean', batch.normLength) },
      };
    },
    configure: (next) => gopd({ ...resolved, ...(next as GopdOptions) }),
  };
}

export function objectiveLosses(): TensorLoss[] {
  return [tokenDpo(), vpo(), upo(), fSft(), drpo(), gopd()];
}
