import type { Plugin } from '@policy-lab/core';
import { catalogLosses } from './losses/catalog.js';
import { ppoClip, reinforce } from './losses/ppo-clip.js';

/** The trainer's built-in plugins (losses), registered by discovery like any other package. */
export const plugin: Plugin = { name: '@policy-lab/trainer', losses: [ppoClip(), reinforce(), ...catalogLosses()] };
