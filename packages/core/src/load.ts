import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Plugin } from './contracts.js';
import { UsageError } from './errors.js';
import { Registry } from './registry.js';

/** What a `policy-lab.config.{ts,mjs,js,json}` file exports (default export or JSON). */
export interface PolicyLabConfig {
  /** Module specifiers or paths (relative to the config file), or plugin objects. */
  plugins?: (string | Plugin)[];
  /** Defaults for `--set` (the command line wins). */
  set?: Record<string, unknown>;
}

/** Identity helper so config files get type inference. */
export function defineConfig(config: PolicyLabConfig): PolicyLabConfig {
  return config;
}

export const CONFIG_FILES = [
  'policy-lab.config.ts',
  'policy-lab.config.mts',
  'policy-lab.config.mjs',
  'policy-lab.config.js',
  'policy-lab.config.json',
] as const;

const TS_EXTENSIONS = new Set(['.ts', '.mts', '.cts']);

async function importFile(file: string): Promise<Record<string, unknown>> {
  if (TS_EXTENSIONS.has(path.extname(file))) {
    // TypeScript files are transpiled on the fly, as vitest and ESLint load theirs.
    // jiti is an optional peer dependency: plugin packages never need it, bench depends on it.
    const { createJiti } = await import('jiti').catch((error: unknown) => {
      throw new UsageError(`loading ${file} needs the package 'jiti' (TypeScript on the fly): npm install jiti`, {
        cause: error,
      });
    });
    const jiti = createJiti(import.meta.url, { interopDefault: false, moduleCache: false });
    return (await jiti.import(file)) as Record<string, unknown>;
  }
  return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
}

/** Resolves a bare package name to its ESM entry file by walking up node_modules. */
export function resolvePackageEntry(specifier: string, fromDir: string): string | undefined {
  let dir = path.resolve(fromDir);
  for (;;) {
    const packageDir = path.join(dir, 'node_modules', specifier);
    const manifestPath = path.join(packageDir, 'package.json');
    if (existsSync(manifestPath)) return entryOfPackage(packageDir);
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function entryOfPackage(packageDir: string): string {
  const manifest = readManifest(path.join(packageDir, 'package.json'), path.basename(packageDir)) as {
    exports?: unknown;
    module?: string;
    main?: string;
  };
  const root =
    typeof manifest.exports === 'object' && manifest.exports !== null && '.' in manifest.exports
      ? (manifest.exports as Record<string, unknown>)['.']
      : manifest.exports;
  const target = pickExport(root) ?? manifest.module ?? manifest.main ?? 'index.js';
  return path.join(packageDir, target);
}

function pickExport(entry: unknown): string | undefined {
  if (typeof entry === 'string') return entry;
  if (typeof entry !== 'object' || entry === null) return undefined;
  const conditions = entry as Record<string, unknown>;
  for (const key of ['import', 'node', 'default']) {
    const found = pickExport(conditions[key]);
    if (found) return found;
  }
  return undefined;
}

function pluginOf(mod: Record<string, unknown>, source: string): Plugin {
  const candidate =
    mod.plugin ??
    (mod.default as Record<string, unknown> | undefined)?.plugin ??
    (isPluginLike(mod.default) ? mod.default : undefined);
  if (candidate === undefined) {
    throw new UsageError(`${source} exports no 'plugin' (expected: export const plugin = { name, estimators, ... })`);
  }
  return candidate as Plugin;
}

function isPluginLike(value: unknown): boolean {
  return typeof value === 'object' && value !== null && typeof (value as { name?: unknown }).name === 'string';
}

/** Loads the module behind `--plugin <module-or-path>` and returns its `plugin` export. */
export async function loadPluginModule(specifier: string, cwd: string): Promise<{ plugin: Plugin; source: string }> {
  const looksLikePath = specifier.startsWith('.') || path.isAbsolute(specifier) || /\.[cm]?[jt]s$/.test(specifier);
  let file: string | undefined;
  if (looksLikePath) {
    file = path.resolve(cwd, specifier);
    if (!existsSync(file)) throw new UsageError(`--plugin ${specifier}: no such file (${file})`);
  } else {
    file = resolvePackageEntry(specifier, cwd);
    if (!file) throw new UsageError(`--plugin ${specifier}: package not found from ${cwd}; install it or give a path`);
  }
  let mod: Record<string, unknown>;
  try {
    mod = await importFile(file);
  } catch (error) {
    throw new UsageError(`--plugin ${specifier}: could not load ${file}: ${(error as Error).message}`, { cause: error });
  }
  return { plugin: pluginOf(mod, specifier), source: specifier };
}

/** Finds the config file: the given path, or the first of CONFIG_FILES in cwd. */
export function findConfigFile(cwd: string, given?: string): string | undefined {
  if (given) {
    const file = path.resolve(cwd, given);
    if (!existsSync(file)) throw new UsageError(`--config ${given}: no such file (${file})`);
    return file;
  }
  for (const name of CONFIG_FILES) {
    const file = path.join(cwd, name);
    if (existsSync(file)) return file;
  }
  return undefined;
}

export async function loadConfigFile(file: string): Promise<PolicyLabConfig> {
  let config: unknown;
  try {
    if (file.endsWith('.json')) config = JSON.parse(readFileSync(file, 'utf8'));
    else {
      const mod = await importFile(file);
      config = mod.default ?? mod;
    }
  } catch (error) {
    throw new UsageError(`config ${file}: ${(error as Error).message}`, { cause: error });
  }
  if (typeof config !== 'object' || config === null) throw new UsageError(`config ${file}: expected an object`);
  const plugins = (config as PolicyLabConfig).plugins;
  if (plugins !== undefined && !Array.isArray(plugins)) throw new UsageError(`config ${file}: 'plugins' must be an array`);
  return config as PolicyLabConfig;
}

interface DiscoveredPackage {
  name: string;
  dir: string;
  /** Module that exports `plugin`: `"policy-lab": { "plugin": "./dist/plugin.js" }`, else the main entry. */
  entry: string;
}

function readManifest(file: string, what: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new UsageError(`plugin package ${what}: unreadable ${file}: ${(error as Error).message}`, { cause: error });
  }
}

/** True when `dir` holds a package.json with `workspaces`, or a `.git` (folder or worktree file). */
function isProjectRoot(dir: string): boolean {
  if (existsSync(path.join(dir, '.git'))) return true;
  const manifest = path.join(dir, 'package.json');
  if (!existsSync(manifest)) return false;
  try {
    return (JSON.parse(readFileSync(manifest, 'utf8')) as { workspaces?: unknown }).workspaces !== undefined;
  } catch {
    return false; // a broken manifest is not a root marker; a broken plugin manifest is reported where it is read
  }
}

/**
 * The highest folder discovery visits from `start`: the project root (the nearest folder with a
 * package.json that has `workspaces`, or the git root); without one, the nearest folder with a
 * package.json; without that, `start` itself. A start inside `node_modules` (an installed core)
 * is judged from the folder holding its outermost `node_modules`, so the install's own
 * `node_modules` is always searched.
 */
export function projectRoot(start: string): string {
  const resolved = path.resolve(start);
  const parts = resolved.split(path.sep);
  const outer = parts.indexOf('node_modules');
  const base = outer > 0 ? parts.slice(0, outer).join(path.sep) || path.sep : resolved;
  const ancestors: string[] = [];
  for (let dir = base; ; dir = path.dirname(dir)) {
    ancestors.push(dir);
    if (path.dirname(dir) === dir) break;
  }
  return ancestors.find(isProjectRoot) ?? ancestors.find((dir) => existsSync(path.join(dir, 'package.json'))) ?? base;
}

/**
 * Installed packages that declare `"policy-lab": { "plugin": true }` in package.json:
 * everything under `node_modules/@policy-lab/` and `node_modules/policy-lab-plugin-*`,
 * found by walking up from each start directory to its project root (`projectRoot`).
 * Built-ins are found this way too. A package.json that cannot be read is bad input naming it.
 */
export function discoverPluginPackages(startDirs: readonly string[]): DiscoveredPackage[] {
  const found = new Map<string, DiscoveredPackage>();
  for (const start of startDirs) {
    const limit = projectRoot(start);
    for (let dir = path.resolve(start); ; dir = path.dirname(dir)) {
      const modules = path.join(dir, 'node_modules');
      if (existsSync(modules)) {
        const candidates: string[] = [];
        const scope = path.join(modules, '@policy-lab');
        if (existsSync(scope)) for (const name of readdirSync(scope)) candidates.push(path.join(scope, name));
        for (const name of readdirSync(modules))
          if (name.startsWith('policy-lab-plugin-')) candidates.push(path.join(modules, name));
        for (const candidate of candidates) {
          const manifestPath = path.join(candidate, 'package.json');
          if (!existsSync(manifestPath)) continue;
          const folderName = path.relative(modules, candidate).split(path.sep).join('/');
          const manifest = readManifest(manifestPath, folderName) as {
            name?: unknown;
            'policy-lab'?: { plugin?: boolean | string };
          };
          const declared = manifest['policy-lab']?.plugin;
          if (declared !== true && typeof declared !== 'string') continue;
          const name = typeof manifest.name === 'string' ? manifest.name : folderName;
          if (found.has(name)) continue;
          const real = realpathSync(candidate);
          const entry = typeof declared === 'string' ? path.join(real, declared) : entryOfPackage(real);
          found.set(name, { name, dir: real, entry });
        }
      }
      if (dir === limit || path.dirname(dir) === dir) break;
    }
  }
  return [...found.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export interface CreateRegistryOptions {
  cwd?: string;
  /** `--plugin` values, in order. */
  plugins?: readonly string[];
  /** `--config` value; otherwise policy-lab.config.* in cwd is used when present. */
  config?: string;
  /** Look for installed plugin packages (default true). */
  discover?: boolean;
  /** Where discovery starts walking up (default: cwd and this package's own folder). */
  discoverFrom?: readonly string[];
  /** Plugin objects to add directly (tests, embedding). */
  extra?: readonly { plugin: Plugin; source: string }[];
}

export interface LoadedRegistry {
  registry: Registry;
  /** The installed plugin packages discovery found (name, folder), in registration order. */
  discovered: readonly { name: string; dir: string }[];
  config: PolicyLabConfig;
  configFile?: string;
}

/**
 * The one way plugins get into a registry: discovered packages, then the config file's
 * plugins, then `--plugin` modules, all through `Registry.register`.
 */
export async function createRegistry(options: CreateRegistryOptions = {}): Promise<LoadedRegistry> {
  const cwd = options.cwd ?? process.cwd();
  const registry = new Registry();
  const discovered: { name: string; dir: string }[] = [];
  if (options.discover !== false) {
    const here = path.dirname(fileURLToPath(import.meta.url));
    for (const pkg of discoverPluginPackages(options.discoverFrom ?? [cwd, here])) {
      discovered.push({ name: pkg.name, dir: pkg.dir });
      if (!existsSync(pkg.entry)) {
        throw new UsageError(`plugin package ${pkg.name} is not built (${pkg.entry} is missing): run npm install`);
      }
      let mod: Record<string, unknown>;
      try {
        mod = await importFile(pkg.entry);
      } catch (error) {
        throw new UsageError(`plugin package ${pkg.name} (${pkg.entry}) failed to load: ${(error as Error).message}`, {
          cause: error,
        });
      }
      registry.register(pluginOf(mod, pkg.name), pkg.name);
    }
  }
  const configFile = findConfigFile(cwd, options.config);
  const config = configFile ? await loadConfigFile(configFile) : {};
  for (const item of config.plugins ?? []) {
    if (typeof item === 'string') {
      const { plugin } = await loadPluginModule(item, path.dirname(configFile as string));
      registry.register(plugin, `${item} (from ${path.basename(configFile as string)})`);
    } else {
      registry.register(item, `${path.basename(configFile as string)}`);
    }
  }
  for (const specifier of options.plugins ?? []) {
    const { plugin, source } = await loadPluginModule(specifier, cwd);
    registry.register(plugin, source);
  }
  for (const { plugin, source } of options.extra ?? []) registry.register(plugin, source);
  return { registry, discovered, config, ...(configFile ? { configFile } : {}) };
}
