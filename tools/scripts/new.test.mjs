// The generator: each variant creates a package whose plugin registers like any other, and bad
// names are refused. (Here we check what the generator writes; .ci/stages/packaging.sh runs a
// generated package's own `npm test` from its folder.)
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from '@policy-lab/core';
import { createJiti } from 'jiti';
import { afterAll, describe, expect, it } from 'vitest';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
// Inside the repository, so the generated sources resolve @policy-lab/core from its node_modules.
mkdirSync(path.join(repo, 'tools', '.tmp'), { recursive: true });
const root = mkdtempSync(path.join(repo, 'tools', '.tmp', 'generator-'));
mkdirSync(path.join(root, 'packages', 'core'), { recursive: true });
cpSync(path.join(repo, 'packages', 'core', 'package.json'), path.join(root, 'packages', 'core', 'package.json'));
cpSync(path.join(repo, 'LICENSE'), path.join(root, 'LICENSE'));
const generate = (...args) =>
  spawnSync(process.execPath, [path.join(here, 'new.mjs'), ...args, '--root', root], { encoding: 'utf8' });

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('npm run new', () => {
  it.each([
    ['method', 'methods'],
    ['estimator', 'estimators'],
    ['loss', 'losses'],
    ['divergence', 'divergences'],
    ['shaper', 'shapers'],
    ['env', 'environments'],
    ['sampler', 'samplers'],
    ['reward-model', 'rewardModels'],
    ['task-source', 'taskSources'],
    ['hook', 'hooks'],
  ])('creates a %s package whose plugin registers', async (variant, kind) => {
    // Names no real package uses: the generator refuses names already registered in the repository.
    const name = `probe-${variant}-${process.pid}`;
    const result = generate(variant, name);
    expect(result.status).toBe(0);
    const dir = path.join(root, 'packages', name);
    for (const file of [
      'package.json',
      'tsconfig.json',
      'tsconfig.build.json',
      'src/index.ts',
      `src/${name}.test.ts`,
      'README.md',
      'LICENSE',
    ]) {
      expect(existsSync(path.join(dir, file))).toBe(true);
    }
    const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
    expect(manifest).toMatchObject({ name: `@policy-lab/${name}`, 'policy-lab': { plugin: true } });
    expect(readFileSync(path.join(dir, 'README.md'), 'utf8')).toMatch(
      /## Install[\s\S]*## Use[\s\S]*### Formula[\s\S]*### When to use it[\s\S]*### Example[\s\S]*## What it registers[\s\S]*## Options[\s\S]*## Decisions[\s\S]*### Defaults[\s\S]*### Paper[\s\S]*### Unverified parts[\s\S]*## Licence/,
    );
    const { plugin } = await createJiti(import.meta.url).import(path.join(dir, 'src', 'index.ts'));
    const registry = new Registry();
    registry.register(plugin, name);
    expect(registry.names(kind)).toContain(name);
  });

  it('refuses an existing package, an invalid name and an unknown variant, with exit 2', () => {
    expect(generate('method', `probe-method-${process.pid}`).stderr).toMatch(/packages\/probe-method-\d+ already exists/);
    expect(generate('method', 'grpo').stderr).toMatch(/'grpo' is already a registered method/);
    const bad = generate('method', 'Bad_Name');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/'Bad_Name' is not a valid name/);
    expect(generate('widget', 'x').stderr).toMatch(
      /unknown variant 'widget': accepted method, estimator, loss, divergence, shaper, env, sampler, reward-model, task-source, hook/,
    );
    expect(generate('method').stderr).toMatch(/usage: npm run new/);
  });
});
