import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isUsageError } from './errors.js';
import { createRegistry, discoverPluginPackages } from './load.js';

const pluginSource = (name: string, estimator: string) => `
export const plugin = {
  name: '${name}',
  estimators: [{
    name: '${estimator}',
    summary: 'a test estimator',
    compute: (groups) => ({ rollout: groups.map((g) => g.map(() => 0)), weights: groups.map((g) => g.map(() => 1)) }),
  }],
};
`;

function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'policy-lab-load-'));
}

describe('plugin loading', () => {
  it('loads --plugin files (JavaScript and TypeScript) like any package', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'a.mjs'), pluginSource('third-a', 'my-est'));
    writeFileSync(
      path.join(dir, 'b.ts'),
      `const n: string = 'ts-est';\n${pluginSource('third-b', 'ts-est').replace("'ts-est'", 'n')}`,
    );
    const { registry } = await createRegistry({ cwd: dir, discover: false, plugins: ['./a.mjs', './b.ts'] });
    expect(registry.names('estimators')).toEqual(['my-est', 'ts-est']);
    expect(registry.entry('estimators', 'my-est').source).toBe('./a.mjs');
  });

  it('loads plugins and --set defaults from a config file in the working folder', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'p.mjs'), pluginSource('third-c', 'cfg-est'));
    writeFileSync(
      path.join(dir, 'policy-lab.config.mjs'),
      `export default { plugins: ['./p.mjs'], set: { learningRate: 0.01 } };\n`,
    );
    const { registry, config, configFile } = await createRegistry({ cwd: dir, discover: false });
    expect(registry.names('estimators')).toEqual(['cfg-est']);
    expect(config.set).toEqual({ learningRate: 0.01 });
    expect(configFile).toBe(path.join(dir, 'policy-lab.config.mjs'));
  });

  it('loads a TypeScript config through --config', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'p.mjs'), pluginSource('third-d', 'ts-cfg-est'));
    writeFileSync(path.join(dir, 'my.config.ts'), `const plugins: string[] = ['./p.mjs'];\nexport default { plugins };\n`);
    const { registry } = await createRegistry({ cwd: dir, discover: false, config: 'my.config.ts' });
    expect(registry.names('estimators')).toEqual(['ts-cfg-est']);
  });

  it('names the problem for a missing file, a module without plugin, and a missing config', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'empty.mjs'), 'export const nothing = 1;\n');
    await expect(createRegistry({ cwd: dir, discover: false, plugins: ['./missing.js'] })).rejects.toThrow(
      /--plugin \.\/missing\.js: no such file/,
    );
    await expect(createRegistry({ cwd: dir, discover: false, plugins: ['./empty.mjs'] })).rejects.toThrow(/exports no 'plugin'/);
    await expect(createRegistry({ cwd: dir, discover: false, plugins: ['no-such-package'] })).rejects.toThrow(
      /package not found/,
    );
    await expect(createRegistry({ cwd: dir, discover: false, config: 'nope.json' })).rejects.toThrow(
      /--config nope\.json: no such file/,
    );
  });

  it('discovers installed packages that declare themselves policy-lab plugins', async () => {
    const dir = tempDir();
    const make = (rel: string, manifest: object, source?: string) => {
      const pkg = path.join(dir, 'node_modules', rel);
      mkdirSync(pkg, { recursive: true });
      writeFileSync(path.join(pkg, 'package.json'), JSON.stringify(manifest));
      if (source) writeFileSync(path.join(pkg, 'index.js'), source);
    };
    make(
      '@policy-lab/extra',
      { name: '@policy-lab/extra', type: 'module', main: 'index.js', 'policy-lab': { plugin: true } },
      pluginSource('extra', 'found-est'),
    );
    make(
      'policy-lab-plugin-foo',
      {
        name: 'policy-lab-plugin-foo',
        type: 'module',
        exports: { '.': { import: './index.js' } },
        'policy-lab': { plugin: true },
      },
      pluginSource('foo', 'foo-est'),
    );
    make('@policy-lab/not-a-plugin', { name: '@policy-lab/not-a-plugin' });
    expect(discoverPluginPackages([dir]).map((p) => p.name)).toEqual(['@policy-lab/extra', 'policy-lab-plugin-foo']);
    const { registry } = await createRegistry({ cwd: dir, discoverFrom: [dir] });
    expect(registry.has('estimators', 'found-est')).toBe(true);
    expect(registry.entry('estimators', 'foo-est').source).toBe('policy-lab-plugin-foo');
  });

  const install = (root: string, rel: string, manifest: string, source?: string) => {
    const pkg = path.join(root, 'node_modules', rel);
    mkdirSync(pkg, { recursive: true });
    writeFileSync(path.join(pkg, 'package.json'), manifest);
    if (source !== undefined) writeFileSync(path.join(pkg, 'index.js'), source);
  };
  const pluginManifest = (name: string) =>
    JSON.stringify({ name, type: 'module', main: 'index.js', 'policy-lab': { plugin: true } });

  it('walks up only to the project root: the nearest package.json with workspaces, or the git root', () => {
    const outer = tempDir();
    install(outer, '@policy-lab/stray', pluginManifest('@policy-lab/stray'), pluginSource('stray', 'stray-est'));
    // a workspace root below the stray install
    const workspace = path.join(outer, 'ws');
    mkdirSync(path.join(workspace, 'packages', 'app'), { recursive: true });
    writeFileSync(path.join(workspace, 'package.json'), JSON.stringify({ name: 'ws', workspaces: ['packages/*'] }));
    install(workspace, '@policy-lab/inside', pluginManifest('@policy-lab/inside'), pluginSource('inside', 'in-est'));
    expect(discoverPluginPackages([path.join(workspace, 'packages', 'app')]).map((p) => p.name)).toEqual(['@policy-lab/inside']);
    // a git repository below the stray install
    const repo = path.join(outer, 'repo');
    mkdirSync(path.join(repo, '.git'), { recursive: true });
    mkdirSync(path.join(repo, 'src', 'deep'), { recursive: true });
    expect(discoverPluginPackages([path.join(repo, 'src', 'deep')])).toEqual([]);
  });

  it('names the package whose package.json is broken, as bad input (exit 2)', async () => {
    const dir = tempDir();
    install(dir, '@policy-lab/broken', '{ "name": "@policy-lab/broken", ');
    const error = await createRegistry({ cwd: dir, discoverFrom: [dir] }).catch((e: unknown) => e);
    expect(isUsageError(error)).toBe(true);
    expect((error as Error).message).toMatch(/@policy-lab\/broken/);
    expect((error as Error).message).toMatch(/package\.json/);
  });

  it('names the discovered package that throws at import, as bad input (exit 2)', async () => {
    const dir = tempDir();
    install(dir, 'policy-lab-plugin-bad', pluginManifest('policy-lab-plugin-bad'), "throw new Error('boom at import');\n");
    const error = await createRegistry({ cwd: dir, discoverFrom: [dir] }).catch((e: unknown) => e);
    expect(isUsageError(error)).toBe(true);
    expect((error as Error).message).toMatch(/policy-lab-plugin-bad.*boom at import/);
  });
});
