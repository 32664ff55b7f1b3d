// The package README layout: generated sections from package.json and the registry, hand-written
// blocks kept across regenerations, and every registered plugin listed with its paper and page.
import { Registry } from '@policy-lab/core';
import { describe, expect, it } from 'vitest';
import { renderReadme } from './readme.mjs';

const manifest = {
  name: '@policy-lab/probe',
  description: 'A probe package.',
  license: 'MIT',
  dependencies: { '@policy-lab/core': '0.1.0' },
  peerDependencies: { '@tensorflow/tfjs-core': '4.22.0' },
  'policy-lab': { plugin: true },
};
const estimator = (name, options) => ({
  name,
  summary: `the ${name} estimator`,
  paper: { title: 'A paper', year: 2025, arxiv: '2501.00001' },
  ...(options ? { options } : {}),
  compute: (groups) => ({ rollout: groups.map((g) => g.map(() => 0)), weights: groups.map((g) => g.map(() => 1)) }),
});
const registry = new Registry();
registry.register(
  {
    name: '@policy-lab/probe',
    estimators: [
      estimator('probe-a', { scale: { type: 'number', default: 2, doc: 'multiplies | every advantage' } }),
      estimator('probe-b'),
    ],
  },
  'test',
);
registry.register({ name: '@policy-lab/other', estimators: [estimator('other-c')] }, 'test');

describe('package README', () => {
  it('follows the layout and lists every plugin the package registers, and only those', () => {
    const text = renderReadme(manifest, '', registry);
    expect(text).toMatch(
      /^# @policy-lab\/probe\n[\s\S]*## Install[\s\S]*## Use[\s\S]*## What it registers[\s\S]*## Options[\s\S]*## Decisions[\s\S]*## Licence\n\nMIT: see \[LICENSE\]\(LICENSE\)\.\n$/,
    );
    expect(text).toContain('npm install @policy-lab/probe');
    expect(text).toContain('`@tensorflow/tfjs-core@4.22.0`');
    expect(text).toContain('### Estimators (2)');
    expect(text).toContain(
      '| `probe-a` | the probe-a estimator | A paper (2025), [arXiv:2501.00001](https://arxiv.org/abs/2501.00001) | [docs](../../docs/methods/estimators/probe-a.md) |',
    );
    expect(text).not.toContain('other-c');
    expect(text).toContain('| `probe-a` | `scale` | number | `2` | multiplies \\| every advantage |');
    // with nothing hand-written yet: the description and placeholders
    expect(text).toContain('<!-- hand-written:intro -->\nA probe package.\n<!-- /hand-written:intro -->');
  });

  it('keeps the hand-written blocks and regenerates everything else', () => {
    const first = renderReadme(manifest, '', registry)
      .replace(/(<!-- hand-written:use -->\n)[\s\S]*?(<!-- \/hand-written:use -->)/, '$1My own example.\n$2')
      .replace('## Install', '## Install (edited by hand)');
    const second = renderReadme(manifest, first, registry);
    expect(second).toContain('<!-- hand-written:use -->\nMy own example.\n<!-- /hand-written:use -->');
    expect(second).not.toContain('edited by hand');
    expect(renderReadme(manifest, second, registry)).toBe(second);
  });
});
