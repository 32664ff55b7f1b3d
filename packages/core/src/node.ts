// @policy-lab/core/node: the Node-only loader (plugin discovery, config files, --plugin
// modules). Plugin packages import the root, which holds no loader and needs no jiti.
export type { CreateRegistryOptions, LoadedRegistry, PolicyLabConfig } from './load.js';
export {
  CONFIG_FILES,
  createRegistry,
  defineConfig,
  discoverPluginPackages,
  findConfigFile,
  loadConfigFile,
  loadPluginModule,
  projectRoot,
  resolvePackageEntry,
} from './load.js';
