import { Registry } from '@policy-lab/core';
import { describe, expect, it } from 'vitest';
import * as publicSurface from './index.js';
import { plugin } from './index.js';

describe('public surface', () => {
  it('registers every divergence and loss of the issue by name', () => {
    expect(plugin.divergences?.map((divergence) => divergence.name).sort()).toEqual(
      ['alpha', 'forward-kl', 'hellinger', 'jeffreys', 'js', 'kl', 'kl-k1', 'kl-k2', 'neyman', 'pearson', 'tv'].sort(),
    );
    const names = plugin.losses?.map((loss) => loss.name) ?? [];
    expect(names).toEqual(
      expect.arrayContaining(['dpo', 'opd', 'rapo', 'sft', 'dpo-ipo', 'dpo-hinge', 'orpo', 'simpo', 'cpo', 'kto-pair']),
    );
    expect(new Set(names).size).toBe(names.length);
  });

  it('every plugin carries a summary, a paper, a formula and a tensor hook', () => {
    for (const divergence of plugin.divergences ?? []) {
      expect(divergence.summary.length, divergence.name).toBeGreaterThan(10);
      expect(divergence.paper?.year, divergence.name).toBeGreaterThan(2000);
      expect(divergence.math, divergence.name).toMatch(/\$/);
      expect(typeof divergence.penalty, divergence.name).toBe('function');
    }
    for (const loss of plugin.losses ?? []) {
      if (loss.kind !== 'rows' && loss.name !== 'dpo') continue; // the preference catalog has its own checks (preference/index.test.ts)
      expect(loss.paper?.arxiv, loss.name).toMatch(/^\d{4}\.\d{5}$/);
      expect(loss.math, loss.name).toMatch(/\$/);
      // DPO is the paper's own loss; the others say which parts are our instantiation
      if (loss.name !== 'dpo') expect(loss.unverified?.length, loss.name).toBeGreaterThan(0);
    }
  });

  it('registers cleanly and --set style options reach the factories', () => {
    const registry = new Registry();
    registry.register(plugin, '@policy-lab/divergences');
    const configured = registry.resolve('divergences', { name: 'kl', options: { estimator: 'k2' } });
    expect(configured.resolved).toEqual({ estimator: 'k2' });
    expect(configured.estimate(-1, -2)).toBeCloseTo(0.5, 12);
    expect(registry.resolve('divergences', { name: 'alpha', options: { alpha: 2 } }).resolved).toEqual({ alpha: 2 });
  });

  it("the rapo method wires the package's own loss and divergence", () => {
    const method = plugin.methods?.find((candidate) => candidate.name === 'rapo');
    expect(method?.loss).toBe('rapo');
    expect(plugin.divergences?.some((divergence) => divergence.name === method?.divergence)).toBe(true);
    expect(method?.defaults?.divergenceCoef).toBe(0);
  });

  it('exports the preference objectives as functions; DPO is also a registered pairwise loss', () => {
    for (const name of ['dpoLoss', 'tokenDpoLoss', 'vpoLoss', 'upoLoss', 'drpoLoss', 'gopdLoss', 'klEstimators']) {
      expect(name in publicSurface, name).toBe(true);
    }
    const dpo = plugin.losses?.find((loss) => loss.name === 'dpo');
    expect(dpo?.kind).toBe('pairs');
    expect(dpo?.kind === 'pairs' && dpo.needs?.reference).toBe(true);
    expect(dpo?.aliases).toEqual(['dpo-sigmoid']);
  });
});
