/**
 * The trainer's learned soft prompt: P trainable vectors of the model's width that the policy
 * reads ahead of every prompt (prompt tuning: Lester, Al-Rfou and Constant 2021, "The Power of
 * Scale for Parameter-Efficient Prompt Tuning", arXiv 2104.08691; a learned context vector as
 * in OPPO, Kang et al. ICML 2023). The run wraps its policy once (`conditionedPolicy`), so
 * every use of the policy in a step (rollouts, samplers, estimator scoring services, the
 * update's scoring of rows, pairs and labelled completions) and evaluation read the same
 * vectors. The SFT warm start trains the policy under the vectors as created (`start`, held
 * fixed), so the first evaluation and the first rollouts read an input the policy was trained
 * on; the reference is that start, weights and vectors (`conditionedReference`). A teacher is
 * another run's policy and stays unconditioned.
 */
import { Rng, type TrainConfig } from '@policy-lab/core';
import * as tf from '@tensorflow/tfjs-core';
import type { PolicyModel } from '../model/policy.js';
import type { ExtraModel, TrainedVariables } from './checkpoint.js';
import type { TrajectoryEncoder } from './trajectory-encoder.js';

/**
 * OPPO's two contexts on one policy: the soft prompt is the optimal context z* the policy is
 * deployed with, and an encoder gives each completion its own context z = E(completion) for
 * hindsight information matching (the policy without the soft prompt, conditioned on z per row).
 */
export interface ContextConditioning {
  /** The policy without the soft prompt (it takes a per-row prefix). */
  readonly bare: PolicyModel;
  readonly encoder: TrajectoryEncoder;
  /** z*: the soft prompt's vectors, [P, D]. */
  readonly optimal: tf.Variable;
}

export interface SoftPrompt {
  /** [P, D], trainable. */
  readonly vectors: tf.Variable;
  /** [P, D], the vectors as created (never trained): the SFT warm start and the reference read them. */
  readonly start: tf.Tensor2D;
  readonly training: 'joint' | 'prompt-only';
  /** Frobenius norm of the vectors as created (a resumed run reports the run's start, not the checkpoint's). */
  readonly initialNorm: number;
}

/** What result.json reports about the soft prompt. */
export interface SoftPromptReport {
  length: number;
  training: 'joint' | 'prompt-only';
  /** Frobenius norm of the vectors at initialisation and at the end of the run. */
  initialNorm: number;
  finalNorm: number;
}

/** Token embeddings' initial scale (model/transformer.ts): the vectors start as small as a token. */
const INIT_STD = 0.02;
let created = 0;

/** The run's soft prompt (config.softPrompt vectors of width `dim`), or undefined when it has none. */
export function createSoftPrompt(config: TrainConfig, dim: number): SoftPrompt | undefined {
  const length = config.softPrompt ?? 0;
  if (length === 0) return undefined;
  const rng = Rng.seeded(config.seed).split('soft-prompt');
  const values = Float32Array.from({ length: length * dim }, () => rng.normal() * INIT_STD);
  created += 1;
  return {
    // Two buffers: the trained vectors move, their start stays.
    vectors: tf.variable(tf.tensor2d(values, [length, dim]), true, `soft-prompt${created}/vectors`),
    start: tf.tensor2d(values, [length, dim]),
    training: config.softPromptTraining ?? 'joint',
    initialNorm: norm(values),
  };
}

/**
 * The policy as the run uses it: conditioned on the soft prompt, with `variables` the ones the
 * run's optimizer trains (the policy's and the vectors, or the vectors alone for prompt-only),
 * and `config.contextLength` the room left for tokens after the vectors.
 */
export function conditionedPolicy(
  policy: PolicyModel,
  prompt: SoftPrompt,
  encoder?: TrajectoryEncoder,
): PolicyModel & { readonly variables: tf.Variable[]; readonly context?: ContextConditioning } {
  const { vectors } = prompt;
  const length = vectors.shape[0] as number;
  const config = { ...policy.config, contextLength: policy.config.contextLength - length };
  const variables = [
    ...(prompt.training === 'joint' ? [...policy.variables, vectors] : [vectors]),
    ...(encoder?.variables ?? []),
  ];
  return {
    config,
    variables,
    ...(encoder ? { context: { bare: policy, encoder, optimal: vectors } } : {}),
    ...readingVectors(policy, vectors),
    // A frozen copy is of the policy's weights alone (the run's reference adds the vectors: conditionedReference).
    freeze: () => policy.freeze(),
    copyFrom: (other) => policy.copyFrom(other),
    dispose: () => {
      policy.dispose();
      tf.dispose([vectors, prompt.start]);
      encoder?.dispose();
    },
  };
}

/**
 * The reference of a run with a soft prompt: the frozen starting weights read under their own
 * copy of the vectors, the starting ones (the policy at step 0, as deployed: the KL on the first
 * update is 0 as without a soft prompt). A reset (`copyFrom` the run's policy) copies the weights
 * and the run's current vectors; `vectors` goes into the checkpoint after a reset.
 */
export function conditionedReference(
  reference: PolicyModel,
  prompt: SoftPrompt,
): PolicyModel & { readonly vectors: tf.Variable } {
  const [length, dim] = prompt.start.shape;
  created += 1;
  const vectors = tf.variable(
    tf.tensor2d(prompt.start.dataSync() as Float32Array, [length, dim]),
    false,
    `soft-prompt${created}/reference-vectors`,
  );
  return {
    config: { ...reference.config, contextLength: reference.config.contextLength - length },
    variables: reference.variables,
    vectors,
    ...readingVectors(reference, vectors),
    freeze: () => reference.freeze(),
    copyFrom(other) {
      reference.copyFrom(other);
      vectors.assign(prompt.vectors as tf.Tensor2D);
    },
    dispose: () => {
      reference.dispose();
      vectors.dispose();
    },
  };
}

/** `model`'s scoring and decoding with `vectors` ahead of every prompt (a caller's own prefix is refused). */
function readingVectors(model: PolicyModel, vectors: tf.Variable): Pick<PolicyModel, 'score' | 'generate' | 'beamSearch'> {
  const refuseOwn = (options: { prefix?: tf.Tensor } | undefined) => {
    if (options?.prefix)
      throw new RangeError("this policy is conditioned on the run's soft prompt; a second prefix is not supported");
  };
  return {
    score(inputs, targets, options) {
      refuseOwn(options);
      return model.score(inputs, targets, { ...options, prefix: vectors });
    },
    generate(prompts, options) {
      refuseOwn(options);
      return model.generate(prompts, { ...options, prefix: vectors });
    },
    beamSearch(tokens, options) {
      refuseOwn(options);
      return model.beamSearch(tokens, { ...options, prefix: vectors as tf.Tensor2D });
    },
  };
}

/** The soft prompt in the checkpoint: its vectors as `softPrompt.vectors`. */
export function softPromptExtra(prompt: SoftPrompt): ExtraModel {
  return { prefix: 'softPrompt.', model: { variables: [prompt.vectors] }, names: ['vectors'] };
}

/** The trajectory encoder in the checkpoint, as `trajectoryEncoder.<name>`. */
export function encoderExtra(encoder: TrajectoryEncoder): ExtraModel {
  return { prefix: 'trajectoryEncoder.', model: { variables: encoder.variables }, names: encoder.names };
}

/** What the run's optimizer trains, named for the checkpoint's Adam moments. */
export function trainedVariables(
  policyNames: readonly string[],
  policy: PolicyModel,
  prompt: SoftPrompt,
  encoder?: TrajectoryEncoder,
): TrainedVariables {
  const own = {
    names: ['softPrompt.vectors', ...(encoder?.names.map((n) => `trajectoryEncoder.${n}`) ?? [])],
    variables: [prompt.vectors, ...(encoder?.variables ?? [])],
  };
  if (prompt.training === 'prompt-only') return own;
  return { names: [...policyNames, ...own.names], variables: [...policy.variables, ...own.variables] };
}

/** What result.json reports: P, how it trained, and the vectors' norm at the start and now. */
export async function softPromptReport(prompt: SoftPrompt): Promise<SoftPromptReport> {
  return {
    length: prompt.vectors.shape[0] as number,
    training: prompt.training,
    initialNorm: prompt.initialNorm,
    finalNorm: norm((await prompt.vectors.data()) as Float32Array),
  };
}

function norm(values: Float32Array): number {
  let sum = 0;
  for (const x of values) sum += x * x;
  return Math.sqrt(sum);
}
