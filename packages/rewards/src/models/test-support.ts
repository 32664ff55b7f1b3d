/** A turn for the reward models' tests: the observation and action given, one token each way, no reward. */
import type { Turn } from '@policy-lab/core';

export const turnOf = (observation: string, action: string): Turn => ({
  observation,
  action,
  promptTokens: [1],
  actionTokens: [5],
  logprobs: [-1],
  reward: {},
  valid: true,
  truncated: false,
});
