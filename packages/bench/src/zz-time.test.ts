import path from 'node:path';
import { createRegistry } from '@policy-lab/core';
import { initBackend, train } from '@policy-lab/trainer';
import { it } from 'vitest';

const root = '/work/main';
const { registry } = await createRegistry({ cwd: root, discoverFrom: [root] });
const TINY = {
  model: { dim: 16, layers: 1, heads: 2 },
  tasksPerStep: 1,
  groupSize: 3,
  evalTasks: 1,
  evalSamples: 1,
  evalEvery: 100,
  signFlipEvery: 0,
  maxNewTokens: 8,
};
it('times', async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
  const failures: string[] = [];
  for (const env of registry.names('environments')) {
    for (const kind of ['estimators', 'shapers'] as const) {
      for (const name of registry.names(kind)) {
        const t0 = performance.now();
        try {
          const est = kind === 'estimators' ? { estimator: name } : { shapers: name };
          const e = registry.get('estimators', kind === 'estimators' ? name : 'grpo');
          const g = e.rolloutsPerGroup?.(3) ?? 3;
          await train({
            registry,
            method: 'grpo',
            env,
            seed: 1,
            budget: { episodes: 2 * g },
            overrides: { ...TINY, ...est },
            sft: 'none',
          });
        } catch (error) {
          failures.push(`${env} ${kind} ${name}: ${(error as Error).message.slice(0, 160)}`);
        }
        const ms = performance.now() - t0;
        if (ms > 3000) console.log('slow', env, name, Math.round(ms));
      }
    }
  }
  console.log(failures.join('\n'));
}, 3_000_000);
