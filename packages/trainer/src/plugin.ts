import type { Plugin } from '@policy-lab/core';

/** The trainer's built-in plugins (losses), registered by discovery like any other package. */
export const plugin: Plugin = { name: '@policy-lab/trainer' };
