/**
 * The catalog-wide check of "matches verl / TRL": every installed plugin whose meta claims verl's
 * or TRL's behaviour declares a reference fixture (each package replays its own fixtures in its
 * reference tests), and a Method that claims it is made of an estimator and a loss that both do.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PLUGIN_KINDS, type PluginRef } from '@policy-lab/core';
import { createRegistry } from '@policy-lab/core/node';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const { registry } = await createRegistry({ cwd: root, discoverFrom: [root] });
const CLAIMS = /(^|[^-\w])(verl|TRL)(?![-\w])/;

/** Claims of forks of verl (not verl itself), named as such in their meta: no fixture. */
const FORKS = ['gigpo', 'srgpo', 'riskpo'];

interface Meta {
  name: string;
  summary: string;
  matches?: string;
  references?: readonly unknown[];
}
const claims = (m: Meta) => CLAIMS.test(`${m.matches ?? ''} ${m.summary}`);
const checked = (m: Meta | undefined) => Boolean(m?.references?.length);
const refName = (ref: PluginRef) => (typeof ref === 'string' ? ref : ref.name);

describe("claims of verl's or TRL's behaviour, across every installed plugin", () => {
  it('each plugin that claims one declares a reference fixture (forks of verl excepted, by name)', () => {
    const unchecked: string[] = [];
    for (const kind of PLUGIN_KINDS) {
      if (kind === 'methods') continue;
      for (const entry of registry.list(kind)) {
        const meta = entry.item as unknown as Meta;
        if (claims(meta) && !checked(meta) && !FORKS.includes(meta.name)) unchecked.push(`${kind}/${meta.name}`);
      }
    }
    expect(unchecked).toEqual([]);
  });

  it('each Method that claims one uses an estimator and a loss that both have fixtures', () => {
    const methods = registry.list('methods').filter((e) => claims(e.item as unknown as Meta));
    expect(methods.length).toBeGreaterThanOrEqual(5);
    for (const { item: method } of methods) {
      const estimator = registry.get('estimators', refName(method.estimator)) as unknown as Meta | undefined;
      const loss = registry.get('losses', refName(method.loss)) as unknown as Meta | undefined;
      expect(checked(estimator), `${method.name}: estimator ${refName(method.estimator)}`).toBe(true);
      expect(checked(loss), `${method.name}: loss ${refName(method.loss)}`).toBe(true);
    }
  });
});
