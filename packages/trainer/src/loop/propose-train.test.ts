/**
 * The supervised step and the charge a task stream's `propose` may use (FlowBoost's elite
 * buffer trains the policy this way): what it trains on becomes more likely, and its tokens and
 * the stream's own work are charged to the run's budget.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/select-backend.js';
import { tinyStepContext } from '../test-support/tiny.js';
import { scoreTexts } from './scoring.js';
import { proposeContext } from './task-stream.js';

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
});

describe('proposeContext.train and charge', () => {
  it('raises the log-probability of the examples, charging their tokens as trained tokens', async () => {
    const ctx = await tinyStepContext();
    const propose = proposeContext(ctx);
    const task = { letter: 'b', id: 7 };
    const logprob = async () => {
      const [scores] = await scoreTexts(ctx.policy, ctx.tokenizer, [{ context: 'say b:', continuation: 'c' }]);
      return (scores as number[]).reduce((a, b) => a + b, 0);
    };
    const before = await logprob();
    const trained = ctx.meter.consumed.trainedTokens;
    let last = { loss: 0, trainedTokens: 0 };
    for (let k = 0; k < 5; k++) last = await (propose.train as NonNullable<typeof propose.train>)([{ task, action: 'c' }]);
    expect(await logprob()).toBeGreaterThan(before + 0.1);
    // One example of one character and the stop token: 2 tokens per step.
    expect(last.trainedTokens).toBe(2);
    expect(last.loss).toBeGreaterThan(0);
    expect(ctx.meter.consumed.trainedTokens - trained).toBe(10);
    expect(await propose.train?.([])).toEqual({ loss: 0, trainedTokens: 0 });
    const steps = ctx.meter.consumed.envSteps;
    propose.charge?.({ envSteps: 40 });
    expect(ctx.meter.consumed.envSteps - steps).toBe(40);
  });
});
