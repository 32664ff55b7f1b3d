import {
  type AdvantageEstimator,
  type Divergence,
  type Environment,
  type Method,
  PLUGIN_KINDS,
  type Plugin,
  type PluginKind,
  type PluginMeta,
  type PluginRef,
  type PolicyLoss,
  type RewardModel,
  type RewardShaper,
  type Sampler,
  type StepHook,
  type TaskSource,
} from './contracts.js';
import { UsageError } from './errors.js';
import { suggestionText } from './suggest.js';
import { validatePlugin } from './validate.js';

/** The entry type of each kind. */
export interface KindMap {
  estimators: AdvantageEstimator;
  losses: PolicyLoss;
  divergences: Divergence;
  shapers: RewardShaper;
  environments: Environment;
  samplers: Sampler;
  rewardModels: RewardModel;
  taskSources: TaskSource;
  hooks: StepHook;
  methods: Method;
}

/** Singular nouns for messages ("unknown estimator 'x'"). */
export const KIND_NOUN: Record<PluginKind, string> = {
  estimators: 'estimator',
  losses: 'loss',
  divergences: 'divergence',
  shapers: 'shaper',
  environments: 'environment',
  samplers: 'sampler',
  rewardModels: 'reward model',
  taskSources: 'task source',
  hooks: 'hook',
  methods: 'method',
};

export interface RegistryEntry<K extends PluginKind = PluginKind> {
  kind: K;
  item: KindMap[K];
  /** The plugin (package) name that provided it. */
  plugin: string;
  /** Where it was loaded from: a package name, a path, or a config file. */
  source: string;
}

/**
 * One namespace per kind. Built-in packages and third-party modules register the same
 * way (`register(plugin, source)`); a duplicate name within a kind is an error naming
 * both sources, and an unknown name suggests the closest registered ones.
 */
export class Registry {
  private readonly entries = new Map<PluginKind, Map<string, RegistryEntry>>(PLUGIN_KINDS.map((kind) => [kind, new Map()]));
  private readonly plugins = new Map<string, string>();
  /** Per kind, alias -> canonical name (e.g. dpo-sigmoid -> dpo). */
  private readonly aliases = new Map<PluginKind, Map<string, string>>(PLUGIN_KINDS.map((kind) => [kind, new Map()]));

  register(plugin: Plugin, source: string): void {
    validatePlugin(plugin, source);
    const previous = this.plugins.get(plugin.name);
    if (previous !== undefined) {
      if (previous === source) return; // the same module reached twice (e.g. config and discovery)
      throw new UsageError(`plugin '${plugin.name}' is registered twice: from ${previous} and from ${source}`);
    }
    // Check every entry before adding any, so a rejected plugin leaves no partial state.
    for (const kind of PLUGIN_KINDS) {
      const seen = new Set<string>();
      for (const item of plugin[kind] ?? []) {
        for (const name of [item.name, ...(item.aliases ?? [])]) {
          const existing = this.lookup(kind, name);
          if (existing || seen.has(name)) {
            const other = existing ? `${existing.source} (plugin '${existing.plugin}')` : `${source} (the same plugin)`;
            throw new UsageError(
              `duplicate ${KIND_NOUN[kind]} '${name}': from ${other} and from ${source} (plugin '${plugin.name}')`,
            );
          }
          seen.add(name);
        }
      }
    }
    for (const kind of PLUGIN_KINDS) {
      for (const item of plugin[kind] ?? []) {
        this.entries.get(kind)?.set(item.name, { kind, item, plugin: plugin.name, source } as RegistryEntry);
        for (const alias of item.aliases ?? []) this.aliases.get(kind)?.set(alias, item.name);
      }
    }
    this.plugins.set(plugin.name, source);
  }

  /** True for a registered name or alias. */
  has(kind: PluginKind, name: string): boolean {
    return this.lookup(kind, name) !== undefined;
  }

  /** The canonical name of a name or alias (the name itself when it is canonical or unknown). */
  canonical(kind: PluginKind, name: string): string {
    return this.aliases.get(kind)?.get(name) ?? name;
  }

  private lookup(kind: PluginKind, name: string): RegistryEntry | undefined {
    return this.entries.get(kind)?.get(this.canonical(kind, name));
  }

  names(kind: PluginKind): string[] {
    return [...(this.entries.get(kind)?.keys() ?? [])].sort();
  }

  list<K extends PluginKind>(kind: K): RegistryEntry<K>[] {
    return [...(this.entries.get(kind)?.values() ?? [])].sort((a, b) =>
      a.item.name.localeCompare(b.item.name),
    ) as RegistryEntry<K>[];
  }

  entry<K extends PluginKind>(kind: K, name: string): RegistryEntry<K> {
    const found = this.lookup(kind, name);
    if (!found) {
      const known = [...this.names(kind), ...(this.aliases.get(kind)?.keys() ?? [])];
      throw new UsageError(`unknown ${KIND_NOUN[kind]} '${name}': ${suggestionText(name, known)}`);
    }
    return found as RegistryEntry<K>;
  }

  get<K extends PluginKind>(kind: K, name: string): KindMap[K] {
    return this.entry(kind, name).item;
  }

  /**
   * Looks a reference up and applies its options (through the plugin's `configure`).
   * Options for a plugin that takes none are an error.
   */
  resolve<K extends PluginKind>(kind: K, ref: PluginRef, extraOptions?: Readonly<Record<string, unknown>>): KindMap[K] {
    const name = typeof ref === 'string' ? ref : ref.name;
    const options = { ...(typeof ref === 'string' ? {} : (ref.options ?? {})), ...(extraOptions ?? {}) };
    const item = this.get(kind, name);
    if (Object.keys(options).length === 0) return item;
    const meta = item as PluginMeta;
    if (typeof meta.configure !== 'function') {
      throw new UsageError(`${KIND_NOUN[kind]} '${name}' takes no options, got ${Object.keys(options).join(', ')}`);
    }
    try {
      return meta.configure.call(item, options) as KindMap[K];
    } catch (error) {
      // A factory refuses a value with a RangeError naming itself and the value: bad input, not a failed run.
      if (error instanceof RangeError) throw new UsageError(error.message);
      throw error;
    }
  }

  /** Sources of every registered plugin, by plugin name. */
  sources(): Record<string, string> {
    return Object.fromEntries(this.plugins);
  }
}
