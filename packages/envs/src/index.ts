import type { Plugin } from '@policy-lab/core';
import { countdown } from './countdown/countdown.js';

export type { CountdownOptions, CountdownTask } from './countdown/countdown.js';
export { countdown, scoreCountdown } from './countdown/countdown.js';
export type { ParsedExpression } from './countdown/expression.js';
export { parseExpression } from './countdown/expression.js';

/** Registered by discovery like any third-party plugin package. */
export const plugin: Plugin = {
  name: '@policy-lab/envs',
  environments: [countdown()],
};
