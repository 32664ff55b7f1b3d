/**
 * tfjs-core's Node bundle registers no gradient functions, and its ESM files use
 * extensionless imports that Node cannot load. The build bundles
 * `register_all_gradients` once (esbuild, dist/tfjs-gradients.js); the gradients register
 * in tfjs's global registry, shared by every copy of tfjs-core in the process.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RunError } from '@policy-lab/core';

let loaded: Promise<void> | undefined;

export function registerGradients(): Promise<void> {
  loaded ??= (async () => {
    const url = new URL('../../dist/tfjs-gradients.js', import.meta.url);
    if (!existsSync(fileURLToPath(url))) {
      throw new RunError(
        `tfjs gradients are not built (${fileURLToPath(url)} is missing): run npm install at the repository root`,
      );
    }
    await import(url.href);
  })();
  return loaded;
}
