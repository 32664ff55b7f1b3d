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
  type RewardShaper,
  type Sampler,
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
        const existing = this.entries.get(kind)?.get(item.name);
        if (existing || seen.has(item.name)) {
          const other = existing ? `${existing.source} (plugin '${existing.plugin}')` : `${source} (the same plugin)`;
          throw new UsageError(
            `duplicate ${KIND_NOUN[kind]} '${item.name}': from ${other} and from ${source} (plugin '${plugin.name}')`,
          );
        }
        seen.add(item.name);
      }
    }
    for (const kind of PLUGIN_KINDS) {
      for (const item of plugin[kind] ?? []) {
        this.entries.get(kind)?.set(item.name, { kind, item, plugin: plugin.name, source } as RegistryEntry);
      }
    }
    this.plugins.set(plugin.name, source);
  }

  has(kind: PluginKind, name: string): boolean {
    return this.entries.get(kind)?.has(name) ?? false;
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
    const found = this.entries.get(kind)?.get(name);
    if (!found) {
      throw new UsageError(`unknown ${KIND_NOUN[kind]} '${name}': ${suggestionText(name, this.names(kind))}`);
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
    return meta.configure.call(item, options) as KindMap[K];
  }

  /** Sources of every registered plugin, by plugin name. */
  sources(): Record<string, string> {
    return Object.fromEntries(this.plugins);
  }
}
