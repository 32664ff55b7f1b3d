import type { Plugin } from '@policy-lab/core';

/** Registered by discovery like any third-party plugin package. */
export const plugin: Plugin = { name: '@policy-lab/divergences' };
