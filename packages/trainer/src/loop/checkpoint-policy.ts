/**
 * A finished run's policy, loaded from its folder's last checkpoint, played on any environment
 * (a diagnostic's wrapped one: noisy or attacked observations) with the trainer's own rollouts,
 * sampled at temperature 1 as evaluation samples.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { type Environment, Rng, type TrainConfig, UsageError } from '@policy-lab/core';
import { loadSafetensors } from '../checkpoint/safetensors.js';
import { createPolicy } from '../model/transformer.js';
import { CharTokenizer, type TokenizerJson } from '../tokenizer/char-tokenizer.js';
import { refuseHfRun } from './checkpoint.js';
import { collectRollouts } from './rollouts.js';
import { conditionedPolicy, createSoftPrompt, softPromptExtra } from './soft-prompt.js';
import { writeWeights } from './weights.js';

export interface CheckpointPolicy {
  /** The step the checkpoint was saved at. */
  step: number;
  /** The run's configuration (method, environment and its options, seed, model). */
  config: TrainConfig;
  /** Soft-prompt vectors the policy plays under (the run's `softPrompt`; 0 without). */
  softPrompt: number;
  /** Success (1) or failure (0) of one sampled episode per task, in order; the same seed gives the same draws. */
  play(env: Environment, tasks: readonly unknown[], seed: number): Promise<number[]>;
  dispose(): void;
}

export function loadCheckpointPolicy(folder: string): CheckpointPolicy {
  const sidecar = path.join(folder, 'checkpoint.json');
  let saved: { step?: unknown; weights?: unknown; config?: TrainConfig; tokenizer?: unknown };
  try {
    saved = JSON.parse(readFileSync(sidecar, 'utf8'));
  } catch (error) {
    const reason = error instanceof SyntaxError ? 'not JSON' : ((error as NodeJS.ErrnoException).code ?? 'unreadable');
    throw new UsageError(`run ${folder}: cannot read ${sidecar} (${reason}); give the --out folder of a finished bench train`);
  }
  refuseHfRun(saved, folder, 'a policy loaded back from its checkpoint');
  const { config } = saved;
  if (typeof saved.weights !== 'string' || typeof saved.step !== 'number' || !config?.model || !saved.tokenizer)
    throw new UsageError(
      `run ${folder}: ${sidecar} lacks 'weights', 'step', 'config.model' or 'tokenizer' (not a run checkpoint)`,
    );
  const tokenizer = CharTokenizer.fromJSON(saved.tokenizer as TokenizerJson);
  const policy = createPolicy({ ...config.model, vocabSize: tokenizer.vocabSize }, Rng.seeded(0));
  const file = path.join(folder, saved.weights);
  const { tensors } = loadSafetensors(file);
  writeWeights(policy, policy.weightNames(), tensors, file, 'model.');
  // A run trained with a soft prompt is played under its learned vectors, as its own evaluation was.
  const prompt = createSoftPrompt(config, config.model.dim);
  if (prompt) {
    const extra = softPromptExtra(prompt);
    writeWeights(extra.model, extra.names, tensors, file, extra.prefix);
  }
  const played = prompt ? conditionedPolicy(policy, prompt) : policy;
  return {
    step: saved.step,
    config,
    softPrompt: config.softPrompt ?? 0,
    async play(env, tasks, seed) {
      const requests = tasks.map((task, k) => ({ task, groupId: `play${k}`, count: 1 }));
      const groups = await collectRollouts(played, tokenizer, env, requests, {
        maxNewTokens: config.maxNewTokens,
        temperature: 1,
        rng: Rng.seeded(seed).split('checkpoint-play'),
      });
      return groups.map((group) => (group[0]?.success ? 1 : 0));
    },
    dispose: () => {
      policy.dispose();
      prompt?.vectors.dispose();
    },
  };
}
