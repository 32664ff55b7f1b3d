#!/usr/bin/env node
// A new plugin package in one command:
//   npm run new -- method my-method        (an estimator and a Method using it)
//   npm run new -- estimator|loss|divergence|shaper|env|sampler|reward-model|task-source|hook <name>
// Creates packages/<name>/ (package.json, tsconfigs, src/index.ts exporting `plugin`, a property
// test, a worked-example test, a README in the common layout). `npm install` then links and builds
// it, and discovery registers it: `npx bench list` shows it with no hand registration.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TEMPLATES } from './templates.mjs';

const VARIANTS = Object.keys(TEMPLATES);
const usage = `usage: npm run new -- <${VARIANTS.join('|')}> <name> [--root DIR]`;

function fail(message) {
  console.error(`new: ${message}`);
  process.exit(2);
}

const args = process.argv.slice(2);
const rootFlag = args.indexOf('--root');
const root =
  rootFlag >= 0
    ? path.resolve(args[rootFlag + 1] ?? fail('--root needs a folder'))
    : path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const positional = rootFlag >= 0 ? args.filter((_, i) => i !== rootFlag && i !== rootFlag + 1) : args;
const [variant, name] = positional;
if (!variant || !name) fail(usage);
if (!VARIANTS.includes(variant)) fail(`unknown variant '${variant}': accepted ${VARIANTS.join(', ')}`);
// A valid npm package name segment that is also a registry name (kebab-case).
if (!/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(name) || name.length > 50) {
  fail(`'${name}' is not a valid name: use kebab-case letters and digits, starting with a letter (e.g. my-method)`);
}
const dir = path.join(root, 'packages', name);
if (existsSync(dir)) fail(`packages/${name} already exists`);
const taken = new Set(
  existsSync(path.join(root, 'packages'))
    ? readdirSync(path.join(root, 'packages')).flatMap((d) => {
        const manifest = path.join(root, 'packages', d, 'package.json');
        return existsSync(manifest) ? [JSON.parse(readFileSync(manifest, 'utf8')).name] : [];
      })
    : [],
);
if (taken.has(`@policy-lab/${name}`)) fail(`a package named @policy-lab/${name} already exists`);
// Names already registered by installed plugins (a Method named like an existing one would clash).
try {
  const { createRegistry } = await import('@policy-lab/core/node');
  const { registry } = await createRegistry({ cwd: root, discoverFrom: [root] });
  const { KIND_NOUN, PLUGIN_KINDS } = await import('@policy-lab/core');
  for (const kind of ['methods', ...PLUGIN_KINDS.filter((k) => k !== 'methods')]) {
    if (registry.has(kind, name)) fail(`'${name}' is already a registered ${KIND_NOUN[kind]}: choose another name`);
  }
} catch (error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
  // core not built yet (a fresh clone before npm install): the folder check above still applies
}

const camel = name.replace(/-([a-z0-9])/g, (_, c) => c.toUpperCase());
const files = TEMPLATES[variant]({ name, camel });
const version = JSON.parse(readFileSync(path.join(root, 'packages', 'core', 'package.json'), 'utf8')).version;
const manifest = {
  name: `@policy-lab/${name}`,
  version: '0.1.0',
  description: files.description,
  type: 'module',
  license: 'MIT',
  engines: { node: '>=20.19' },
  sideEffects: false,
  main: './dist/index.js',
  types: './dist/index.d.ts',
  exports: {
    '.': { '@policy-lab/source': './src/index.ts', types: './dist/index.d.ts', import: './dist/index.js' },
    './package.json': './package.json',
  },
  files: ['dist', '!dist/**/*.test.*', '!dist/**/test-support', '!dist/**/test-support.*', 'README.md', 'LICENSE'],
  'policy-lab': { plugin: true },
  scripts: {
    build: 'tsc -p tsconfig.build.json',
    typecheck: 'tsc -p tsconfig.json --noEmit',
    test: `vitest run --root ../.. --project @policy-lab/${name}`,
  },
  dependencies: { '@policy-lab/core': version },
  ...(files.devDependencies ? { devDependencies: files.devDependencies } : {}),
};
const write = (relative, text) => {
  const target = path.join(dir, relative);
  mkdirSync(path.dirname(target), { recursive: true });
  writeFileSync(target, text);
};
write('package.json', `${JSON.stringify(manifest, null, 2)}\n`);
write(
  'tsconfig.json',
  `${JSON.stringify({ extends: '../../tsconfig.base.json', compilerOptions: { rootDir: 'src', outDir: 'dist' }, include: ['src'] }, null, 2)}\n`,
);
write('tsconfig.build.json', `${JSON.stringify({ extends: './tsconfig.json', exclude: ['src/**/*.test.ts'] }, null, 2)}\n`);
write('src/index.ts', files.index);
write(`src/${name}.test.ts`, files.test);
write('README.md', files.readme);
// The repository's licence, shipped in the package (the packaging check compares the two).
if (existsSync(path.join(root, 'LICENSE'))) write('LICENSE', readFileSync(path.join(root, 'LICENSE'), 'utf8'));
// Format like the rest of the repository (biome), when it is installed.
const biome = path.join(root, 'node_modules', '.bin', 'biome');
if (existsSync(biome)) spawnSync(biome, ['format', '--write', dir], { stdio: 'ignore' });
console.log(`created packages/${name} (${variant}); next: npm install && npm test && npx bench list`);
