import type { Environment } from '@policy-lab/core';

/**
 * One turn: an answer succeeds when it holds the letter a (a random tiny policy does about half
 * the time), so a few self-training steps from random weights show whether a method learns.
 */
export const letters: Environment = {
  name: 'letters',
  summary: 'say something with an a',
  rewardComponents: [{ name: 'correct', weight: 1 }],
  maxTurns: 1,
  recommended: { maxNewTokens: 6 },
  alphabet: () => 'abcd +',
  tasks: (split, { count = 8 }) => Array.from({ length: count }, (_, i) => `${split}${i % 4}`),
  taskId: (task) => String(task),
  start: (task) => {
    let said = '';
    return {
      observation: () => `say ${String(task).endsWith('0') ? 'a' : 'b'}:`.replace(/[^abcd +]/g, ' '),
      step: (action) => {
        said = action;
        return { reward: { correct: said.includes('a') ? 1 : 0 }, done: true, valid: true };
      },
      outcome: () => ({ reward: { correct: said.includes('a') ? 1 : 0 }, success: said.includes('a') }),
    };
  },
};
