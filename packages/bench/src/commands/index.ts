import type { Command } from 'commander';
import type { Io } from '../io.js';
import * as advantages from './advantages.js';
import * as certify from './certify.js';
import * as compare from './compare.js';
import * as creditMap from './credit-map.js';
import * as crossPolicyGap from './cross-policy-gap.js';
import * as env from './env.js';
import * as list from './list.js';
import * as metric from './metric.js';
import * as policyCliff from './policy-cliff.js';
import * as report from './report.js';
import * as speed from './speed.js';
import * as train from './train.js';
import * as worker from './worker.js';

/** Every command module; each registers itself on the program. One line per command. */
export const COMMANDS: readonly { register(program: Command, io: Io): void }[] = [
  list,
  train,
  compare,
  report,
  speed,
  worker,
  advantages,
  env,
  metric,
  certify,
  policyCliff,
  crossPolicyGap,
  creditMap,
];
