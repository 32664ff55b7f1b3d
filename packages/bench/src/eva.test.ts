/**
 * The `eva` Method on the long-doc-reader environment, found through the registry as the CLI
 * finds them: a short SFT cold start, the KTO stage on the first quarter of the budget, then GRPO;
 * what the policy views is charged in its reward.
 */
import { describe, expect, it } from 'vitest';
import { registry, shortRun } from './test-support/short-run.js';

describe('eva on long-doc-reader', () => {
  it('runs SFT, then KTO on its own rollouts for a quarter of the budget, then GRPO, paying for what it views', async () => {
    const { result, steps } = await shortRun({
      method: 'eva',
      env: 'long-doc-reader',
      seed: 2,
      episodes: 64,
      overrides: {
        model: { dim: 16, layers: 1, heads: 2, contextLength: 96 },
        sftSteps: 60,
        tasksPerStep: 2,
        groupSize: 4,
        evalTasks: 8,
        evalSamples: 1,
        evalEvery: 100,
        signFlipEvery: 0,
      },
      sft: true,
    });
    // 8 episodes a step of 64: progress 0 and 1/8 before steps 1-2 (KTO), 1/4 from step 3 on (GRPO).
    expect(steps.map((m) => m.lossStage)).toEqual([0, 0, 1, 1, 1, 1, 1, 1]);
    // KTO's unpaired examples: the stage's rollouts above and below their group's mean reward.
    expect(steps.slice(0, 2).some((m) => (m.preferenceExamples ?? 0) > 0)).toBe(true);
    expect(steps.slice(2).every((m) => m.preferenceExamples === undefined)).toBe(true);
    // After a short cold start the policy views sections, and pays for them.
    expect(steps.some((m) => (m['reward.viewed'] ?? 0) > 0)).toBe(true);
    expect(steps.some((m) => (m['reward.view'] ?? 0) < 0)).toBe(true);
    expect(result.budget.consumed.episodes).toBe(64);
  });

  it('is listed with its paper and its KTO stage', () => {
    const method = registry.get('methods', 'eva');
    expect(method.stages).toEqual([{ loss: 'kto', until: 0.25 }]);
    expect(method.paper?.arxiv).toBe('2603.22918');
    expect(registry.get('environments', 'long-doc-reader').unverified?.[0]).toMatch(/^adaptation: analogue/);
  });
});
