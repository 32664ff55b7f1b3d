/**
 * Which verl or TRL code a shaper of this package reproduces, as checked data: the file, the
 * commit it was read at, the function, and the fixture (packages/rewards/reference/<fixture>.json)
 * whose numbers come from that function's formula (packages/rewards/reference/generate.py).
 * reference.test.ts replays every fixture against the registered shaper and fails when a plugin of
 * this package claims verl or TRL behaviour without one.
 */
export interface ShaperReference {
  framework: 'verl' | 'TRL';
  repo: string;
  file: string;
  /** The 40-hex commit the code was read at. */
  commit: string;
  function: string;
  settings?: string;
  /** Fixture file name without `.json`. */
  fixture: string;
  folder: 'packages/rewards/reference';
}

/** verl's DAPO reward manager with an overlong buffer. */
export const VERL_OVERLONG: ShaperReference = {
  framework: 'verl',
  repo: 'volcengine/verl',
  file: 'verl/workers/reward_manager/dapo.py',
  commit: '003364bc724da7d6efb63834fa1c496e1a55c888',
  function: 'DAPORewardManager.__call__',
  settings: 'overlong_buffer.enable, len = cacheFraction x the token limit, penalty_factor',
  fixture: 'verl-overlong',
  folder: 'packages/rewards/reference',
};
