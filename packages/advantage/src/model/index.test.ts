import { describe, expect, it } from 'vitest';
import { modelEstimators } from './index.js';

describe('modelEstimators', () => {
  it('lists seven estimators with unique kebab-case names, one-sentence summaries, papers and unverified parts', () => {
    const estimators = modelEstimators();
    expect(estimators.map((e) => e.name)).toEqual(['remax', 'igpo', 'oprl', 'rover', 'grpo-vps', 'pav', 'pairwise-anchor']);
    for (const e of estimators) {
      expect(e.name).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
      expect(e.summary.length).toBeGreaterThan(10);
      expect(e.paper?.arxiv).toMatch(/^\d{4}\.\d{5}$/);
      expect(e.math).toMatch(/\$/);
      expect(e.unverified?.length).toBeGreaterThan(0);
    }
    // ROVER's estimator half needs no model: its bootstrap vanishes at theta = theta_old
    expect(estimators.filter((e) => e.needsModel).map((e) => e.name)).toEqual([
      'remax',
      'igpo',
      'oprl',
      'grpo-vps',
      'pav',
      'pairwise-anchor',
    ]);
  });

  it('configure rebuilds with new options and keeps the others; unknown options name the accepted ones', () => {
    for (const e of modelEstimators()) {
      if (!e.configure) continue;
      const keys = Object.keys(e.options ?? {});
      expect(() => e.configure?.({ bogus: 1 })).toThrow(new RegExp(`unknown option 'bogus'; accepted: ${keys.join(', ')}`));
    }
    const igpo = modelEstimators()[1];
    const changed = igpo?.configure?.({ gamma: 0.9 });
    expect(changed?.resolved).toMatchObject({ gamma: 0.9, infoGain: 'prob-diff', normalization: 'joint' });
  });
});
