// The public surface of @policy-lab/core, pinned: adding, removing or renaming an export is a visible
// diff in __snapshots__/exports.test.ts.snap (regenerate with `npx vitest run -u`, then review it).
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { publicSurface } from '../../../tools/scripts/surface.mjs';
import * as root from './index.js';
import * as nodeEntry from './node.js';

describe('@policy-lab/core public surface', () => {
  it('@policy-lab/core: the run-time exports are exactly the declared values', () => {
    const declared = publicSurface(fileURLToPath(new URL('./index.ts', import.meta.url)));
    expect(Object.keys(root).sort()).toEqual(declared.values);
    expect(declared).toMatchSnapshot();
  });
  it('@policy-lab/core/node: the run-time exports are exactly the declared values', () => {
    const declared = publicSurface(fileURLToPath(new URL('./node.ts', import.meta.url)));
    expect(Object.keys(nodeEntry).sort()).toEqual(declared.values);
    expect(declared).toMatchSnapshot();
  });
});
