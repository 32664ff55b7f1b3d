import { PLUGIN_KINDS, type Plugin, type PluginKind, REWARD_MODEL_OBJECTIVES } from './contracts.js';
import { UsageError } from './errors.js';

type Check = (value: unknown) => string | undefined;

const isFunction: Check = (v) => (typeof v === 'function' ? undefined : 'a function');
const isNumber: Check = (v) => (typeof v === 'number' && Number.isFinite(v) ? undefined : 'a finite number');
const isRef: Check = (v) =>
  typeof v === 'string' || (typeof v === 'object' && v !== null && typeof (v as { name?: unknown }).name === 'string')
    ? undefined
    : 'a plugin name or { name, options }';
const isArray: Check = (v) => (Array.isArray(v) ? undefined : 'an array');
const isObject: Check = (v) => (typeof v === 'object' && v !== null && !Array.isArray(v) ? undefined : 'an object');
const oneOf =
  (...values: readonly string[]): Check =>
  (v) =>
    values.includes(v as string) ? undefined : `one of ${values.map((x) => `'${x}'`).join(', ')}`;
const isLossKind: Check = oneOf('rows', 'pairs', 'labelled');

/** Fields each kind requires beyond the common `name` and `summary`. */
const REQUIRED: Record<PluginKind, Record<string, Check>> = {
  estimators: { compute: isFunction },
  losses: { kind: isLossKind, loss: isFunction },
  divergences: { estimate: isFunction },
  shapers: { shape: isFunction },
  environments: {
    rewardComponents: isArray,
    maxTurns: isNumber,
    tasks: isFunction,
    taskId: isFunction,
    start: isFunction,
  },
  samplers: {
    strategy: oneOf('sample', 'beam', 'tree', 'serial', 'step-beam', 'teacher-forced', 'mcts'),
    behaviour: oneOf('proposal', 'policy'),
  },
  rewardModels: {
    architecture: isObject,
    objective: oneOf(...REWARD_MODEL_OBJECTIVES),
    examples: isFunction,
    component: isObject,
  },
  taskSources: { open: isFunction },
  hooks: {},
  methods: { estimator: isRef, loss: isRef },
};

const NAME_PATTERN = /^[a-z0-9][a-z0-9.+-]*$/;

/** Throws a UsageError naming the plugin, the kind, the entry and the bad field. */
export function validatePlugin(plugin: unknown, source: string): Plugin {
  const where = `plugin from ${source}`;
  if (typeof plugin !== 'object' || plugin === null) {
    throw new UsageError(`${where}: expected an object exported as 'plugin', got ${typeof plugin}`);
  }
  const p = plugin as Record<string, unknown>;
  if (typeof p.name !== 'string' || p.name.length === 0) {
    throw new UsageError(`${where}: field 'name' must be a non-empty string`);
  }
  for (const key of Object.keys(p)) {
    if (key !== 'name' && !(PLUGIN_KINDS as readonly string[]).includes(key)) {
      throw new UsageError(`${where} ('${p.name}'): unknown field '${key}'; accepted: name, ${PLUGIN_KINDS.join(', ')}`);
    }
  }
  for (const kind of PLUGIN_KINDS) {
    const entries = p[kind];
    if (entries === undefined) continue;
    if (!Array.isArray(entries)) throw new UsageError(`${where} ('${p.name}'): field '${kind}' must be an array`);
    entries.forEach((entry, index) => {
      validateEntry(kind, entry, `${where} ('${p.name}'), ${kind}[${index}]`);
    });
  }
  return p as unknown as Plugin;
}

function validateEntry(kind: PluginKind, entry: unknown, where: string): void {
  if (typeof entry !== 'object' || entry === null) throw new UsageError(`${where}: expected an object, got ${typeof entry}`);
  const e = entry as Record<string, unknown>;
  const label = typeof e.name === 'string' ? `${where} '${e.name}'` : where;
  if (typeof e.name !== 'string' || !NAME_PATTERN.test(e.name)) {
    throw new UsageError(`${label}: field 'name' must be kebab-case (a-z, 0-9, -), got ${JSON.stringify(e.name)}`);
  }
  if (typeof e.summary !== 'string' || e.summary.length === 0) {
    throw new UsageError(`${label}: field 'summary' must be a non-empty string`);
  }
  if (
    e.aliases !== undefined &&
    !(Array.isArray(e.aliases) && e.aliases.every((a) => typeof a === 'string' && NAME_PATTERN.test(a)))
  ) {
    throw new UsageError(`${label}: field 'aliases' must be an array of kebab-case names`);
  }
  if (e.unverified !== undefined && !(Array.isArray(e.unverified) && e.unverified.every((u) => typeof u === 'string'))) {
    throw new UsageError(`${label}: field 'unverified' must be an array of strings`);
  }
  if (e.paper !== undefined) {
    const paper = e.paper as Record<string, unknown>;
    if (typeof paper !== 'object' || paper === null || typeof paper.title !== 'string' || typeof paper.year !== 'number') {
      throw new UsageError(`${label}: field 'paper' must be { title: string, year: number, arxiv?: string }`);
    }
  }
  for (const [field, check] of Object.entries(REQUIRED[kind])) {
    const problem = check(e[field]);
    if (problem) throw new UsageError(`${label}: field '${field}' must be ${problem}`);
  }
  if (kind === 'hooks' && typeof e.onStepStart !== 'function' && typeof e.onStepEnd !== 'function')
    throw new UsageError(`${label}: a hook needs onStepStart or onStepEnd (a function)`);
  if (kind === 'environments') {
    const components = e.rewardComponents as unknown[];
    components.forEach((c, i) => {
      const component = c as { name?: unknown; weight?: unknown };
      if (typeof component?.name !== 'string' || typeof component.weight !== 'number') {
        throw new UsageError(`${label}: rewardComponents[${i}] must be { name: string, weight: number }`);
      }
    });
  }
}
