import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { plugin as advantage } from '@policy-lab/advantage';
import { createRegistry } from '@policy-lab/core/node';
import { plugin as divergences } from '@policy-lab/divergences';
import { plugin as envs } from '@policy-lab/envs';
import { plugin as rewards } from '@policy-lab/rewards';
import { plugin as trainer } from '@policy-lab/trainer';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

/**
 * A fresh registry of the workspace's plugins from their sources (discovery would load the built
 * dist/ folders), for a test that registers spies of its own beside them.
 */
export async function sourceRegistry() {
  const { registry } = await createRegistry({
    cwd: root,
    discover: false,
    extra: [advantage, divergences, envs, rewards, trainer].map((plugin) => ({ plugin, source: plugin.name })),
  });
  return registry;
}
